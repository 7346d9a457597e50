//! Tokenizer for filter strings such as
//! ``metrics.acc > 0.9 AND tags.`my key` LIKE 'x%' AND status IN ('FINISHED')``.

use super::limits;
use crate::error::{ApiResult, MlflowError};

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier, split at its first dot: `metrics.a.b` → (Some("metrics"), "a.b").
    /// A quoted key (`` tags.`k` `` or `params."k"`) keeps everything between the quotes.
    Ident {
        prefix: Option<String>,
        key: String,
    },
    /// A single-quoted string literal.
    Str(String),
    /// A double-quoted or backticked name standing alone (a value in value position).
    QuotedName(String),
    Number(f64),
    Op(&'static str),
    /// Keywords, upper-cased: AND OR NOT IN IS NULL LIKE ILIKE ASC DESC.
    Keyword(&'static str),
    LParen,
    RParen,
    Comma,
}

const KEYWORDS: &[&str] = &[
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC",
];

fn err(input: &str, msg: impl std::fmt::Display) -> MlflowError {
    let input = limits::excerpt(input);
    MlflowError::invalid(format!("Invalid filter '{input}': {msg}"))
}

/// Reads a quoted run starting at `chars[i]` (the opening quote); returns (content, next index).
fn quoted(input: &str, chars: &[char], i: usize) -> ApiResult<(String, usize)> {
    let q = chars[i];
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == q {
            // A doubled quote inside a string stands for the quote itself.
            if chars.get(j + 1) == Some(&q) {
                out.push(q);
                j += 2;
                continue;
            }
            return Ok((out, j + 1));
        }
        out.push(chars[j]);
        j += 1;
    }
    Err(err(input, format!("unterminated {q}-quoted text")))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Splits a filter into tokens; the input's length and its number of tokens are
/// checked against [`limits`] before the memory for them is taken.
pub fn tokenize(input: &str) -> ApiResult<Vec<Token>> {
    if input.len() > limits::MAX_FILTER_BYTES {
        return Err(limits::exceeded(
            "filter: its length in bytes",
            limits::MAX_FILTER_BYTES,
        ));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if tokens.len() >= limits::MAX_FILTER_TOKENS {
            return Err(limits::exceeded(
                "filter: its number of tokens",
                limits::MAX_FILTER_TOKENS,
            ));
        }
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::LParen);
                i += 1
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1
            }
            '\'' => {
                let (s, next) = quoted(input, &chars, i)?;
                tokens.push(Token::Str(s));
                i = next;
            }
            '"' | '`' => {
                let (s, next) = quoted(input, &chars, i)?;
                tokens.push(Token::QuotedName(s));
                i = next;
            }
            '=' => {
                tokens.push(Token::Op("="));
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op("!="));
                i += 2;
            }
            '<' | '>' => {
                let next = chars.get(i + 1);
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => ("<=", 2),
                    ('<', Some('>')) => ("!=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    _ => (">", 1),
                };
                tokens.push(Token::Op(op));
                i += len;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| err(input, format!("'{text}' is not a number")))?;
                tokens.push(Token::Number(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let upper = word.to_ascii_uppercase();
                if let Some(kw) = KEYWORDS.iter().find(|k| **k == upper) {
                    tokens.push(Token::Keyword(kw));
                    continue;
                }
                // `prefix.` directly followed by a quoted key: tags.`a b`, params."x-y"
                if word.ends_with('.') && matches!(chars.get(i), Some('`') | Some('"')) {
                    let (key, next) = quoted(input, &chars, i)?;
                    i = next;
                    let prefix = word.trim_end_matches('.').to_string();
                    if prefix.is_empty() || prefix.contains('.') {
                        return Err(err(input, format!("invalid identifier '{word}'")));
                    }
                    tokens.push(Token::Ident {
                        prefix: Some(prefix),
                        key,
                    });
                    continue;
                }
                let token = match word.split_once('.') {
                    Some((p, k)) if !p.is_empty() && !k.is_empty() && !k.ends_with('.') => {
                        Token::Ident {
                            prefix: Some(p.to_string()),
                            key: k.to_string(),
                        }
                    }
                    Some(_) => return Err(err(input, format!("invalid identifier '{word}'"))),
                    None => Token::Ident {
                        prefix: None,
                        key: word,
                    },
                };
                tokens.push(token);
            }
            other => return Err(err(input, format!("unexpected character '{other}'"))),
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(p: Option<&str>, k: &str) -> Token {
        Token::Ident {
            prefix: p.map(String::from),
            key: k.into(),
        }
    }

    #[test]
    fn tokens_of_a_typical_filter() {
        let t = tokenize("metrics.acc >= -1.5e-3 and tags.`my key` LIKE 'it''s%'").unwrap();
        assert_eq!(
            t,
            vec![
                ident(Some("metrics"), "acc"),
                Token::Op(">="),
                Token::Number(-1.5e-3),
                Token::Keyword("AND"),
                ident(Some("tags"), "my key"),
                Token::Keyword("LIKE"),
                Token::Str("it's%".into()),
            ]
        );
    }

    #[test]
    fn dotted_keys_and_operators() {
        let t = tokenize("tags.mlflow.runName != 'x' <> <").unwrap();
        assert_eq!(t[0], ident(Some("tags"), "mlflow.runName"));
        assert_eq!(t[1], Token::Op("!="));
        assert_eq!(t[3], Token::Op("!="));
        assert_eq!(t[4], Token::Op("<"));
    }

    #[test]
    fn lexical_errors() {
        for bad in [
            "tags.x = 'open",
            "tags.`open = 'x'",
            "metrics.a > 1.2.3",
            "a ~ 1",
            "metrics. = 1",
            ".x = 1",
            "metrics.a = 12abc",
            "params.x = 'a' ; DROP TABLE runs",
        ] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
    }
}
