//! Parser: tokens → a conjunction of [`Clause`]s, and `order_by` items → [`OrderBy`].
//! Grammar (MLflow's subset of SQL, AND only):
//!
//! ```text
//! filter  := clause (AND clause)*
//! clause  := ident op value | ident [NOT] IN '(' string (',' string)* ')'
//!          | ident IS [NOT] NULL
//! op      := = | != | < | <= | > | >= | LIKE | ILIKE
//! order   := ident [ASC | DESC]
//! ```
//! Which entities, keys, operators and value types are allowed is decided per search
//! (runs, experiments) by the modules that turn clauses into SQL.

use super::lexer::{tokenize, Token};
use super::limits;
use crate::error::{ApiResult, MlflowError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    fn from_prefix(prefix: &str) -> Option<Entity> {
        Some(match prefix.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Entity::Metric,
            "param" | "params" | "parameter" | "parameters" => Entity::Param,
            "tag" | "tags" => Entity::Tag,
            "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
            "dataset" | "datasets" => Entity::Dataset,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Entity::Metric => "metric",
            Entity::Param => "parameter",
            Entity::Tag => "tag",
            Entity::Attribute => "attribute",
            Entity::Dataset => "dataset",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Str(String),
    List(Vec<String>),
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub entity: Entity,
    pub key: String,
    pub op: Op,
    pub value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub entity: Entity,
    pub key: String,
    pub ascending: bool,
}

fn err(input: &str, msg: impl std::fmt::Display) -> MlflowError {
    let input = limits::excerpt(input);
    MlflowError::invalid(format!("Invalid filter '{input}': {msg}"))
}

struct Cursor<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Values read so far (IN-list items included), bounded by MAX_FILTER_VALUES.
    values: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat_keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Keyword(k)) if *k == kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn fail<T>(&self, msg: impl std::fmt::Display) -> ApiResult<T> {
        Err(err(self.input, msg))
    }
    /// Counts one more value, refusing it past the limit (before it is stored).
    fn count_value(&mut self) -> ApiResult<()> {
        self.values += 1;
        if self.values > limits::MAX_FILTER_VALUES {
            return Err(limits::exceeded(
                "filter: the number of values (IN-list items included)",
                limits::MAX_FILTER_VALUES,
            ));
        }
        Ok(())
    }

    fn identifier(&mut self) -> ApiResult<(Entity, String)> {
        match self.next() {
            Some(Token::Ident { prefix: None, key }) => Ok((Entity::Attribute, key)),
            Some(Token::QuotedName(key)) => Ok((Entity::Attribute, key)),
            Some(Token::Ident {
                prefix: Some(p),
                key,
            }) => match Entity::from_prefix(&p) {
                Some(e) => Ok((e, key)),
                None => self.fail(format!(
                    "invalid entity type '{p}'; expected one of metrics, params, tags, attributes, datasets"
                )),
            },
            Some(t) => self.fail(format!("expected an identifier, found {}", describe(&t))),
            None => self.fail("expected an identifier, found the end of the filter"),
        }
    }

    fn string_list(&mut self) -> ApiResult<Vec<String>> {
        if self.next() != Some(Token::LParen) {
            return self.fail("IN must be followed by a parenthesised list of strings");
        }
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Token::Str(s)) | Some(Token::QuotedName(s)) => {
                    self.count_value()?;
                    items.push(s)
                }
                Some(Token::RParen) if items.is_empty() => {
                    return self.fail("the IN list must not be empty")
                }
                _ => return self.fail("the IN list must hold quoted strings"),
            }
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(items),
                _ => return self.fail("expected ',' or ')' in the IN list"),
            }
        }
    }

    fn clause(&mut self) -> ApiResult<Clause> {
        let (entity, key) = self.identifier()?;
        let (op, value) = match self.next() {
            Some(Token::Op(o)) => {
                let op = match o {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    _ => Op::Ge,
                };
                (op, self.value()?)
            }
            Some(Token::Keyword("LIKE")) => (Op::Like, self.value()?),
            Some(Token::Keyword("ILIKE")) => (Op::ILike, self.value()?),
            Some(Token::Keyword("IN")) => (Op::In, Literal::List(self.string_list()?)),
            Some(Token::Keyword("NOT")) => {
                if !self.eat_keyword("IN") {
                    return self.fail("NOT must be followed by IN");
                }
                (Op::NotIn, Literal::List(self.string_list()?))
            }
            Some(Token::Keyword("IS")) => {
                let negated = self.eat_keyword("NOT");
                if !self.eat_keyword("NULL") {
                    return self.fail("IS must be followed by NULL or NOT NULL");
                }
                let op = if negated { Op::IsNotNull } else { Op::IsNull };
                (op, Literal::None)
            }
            Some(t) => {
                return self.fail(format!(
                    "expected a comparator after '{key}', found {}",
                    describe(&t)
                ))
            }
            None => return self.fail(format!("expected a comparator after '{key}'")),
        };
        Ok(Clause {
            entity,
            key,
            op,
            value,
        })
    }

    fn value(&mut self) -> ApiResult<Literal> {
        self.count_value()?;
        match self.next() {
            Some(Token::Number(n)) => Ok(Literal::Number(n)),
            Some(Token::Str(s)) | Some(Token::QuotedName(s)) => Ok(Literal::Str(s)),
            Some(t) => self.fail(format!("expected a value, found {}", describe(&t))),
            None => self.fail("expected a value, found the end of the filter"),
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident { prefix, key } => match prefix {
            Some(p) => format!("identifier '{p}.{key}'"),
            None => format!("identifier '{key}'"),
        },
        Token::Str(s) => format!("string '{s}'"),
        Token::QuotedName(s) => format!("quoted name '{s}'"),
        Token::Number(n) => format!("number {n}"),
        Token::Op(o) => format!("'{o}'"),
        Token::Keyword(k) => format!("keyword {k}"),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
    }
}

/// Parses a filter; an absent or blank filter is the empty conjunction (match all).
pub fn parse_filter(input: &str) -> ApiResult<Vec<Clause>> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Cursor {
        input,
        tokens,
        pos: 0,
        values: 0,
    };
    let mut clauses = vec![c.clause()?];
    while let Some(t) = c.next() {
        match t {
            Token::Keyword("AND") if clauses.len() >= limits::MAX_FILTER_CLAUSES => {
                return Err(limits::exceeded(
                    "filter: the number of clauses joined by AND",
                    limits::MAX_FILTER_CLAUSES,
                ))
            }
            Token::Keyword("AND") => clauses.push(c.clause()?),
            Token::Keyword("OR") => return c.fail("OR is not supported; only AND is"),
            other => return c.fail(format!("expected AND, found {}", describe(&other))),
        }
    }
    Ok(clauses)
}

/// Parses one `order_by` item: `<identifier> [ASC|DESC]`.
pub fn parse_order_by(input: &str) -> ApiResult<OrderBy> {
    let bad = |m: &str| {
        let input = limits::excerpt(input);
        MlflowError::invalid(format!("Invalid order_by clause '{input}': {m}"))
    };
    let tokens = tokenize(input).map_err(|_| bad("cannot be tokenized"))?;
    let mut c = Cursor {
        input,
        tokens,
        pos: 0,
        values: 0,
    };
    let (entity, key) = c.identifier().map_err(|_| bad("expected an identifier"))?;
    let ascending = match c.next() {
        None => true,
        Some(Token::Keyword("ASC")) => true,
        Some(Token::Keyword("DESC")) => false,
        Some(_) => return Err(bad("expected ASC or DESC after the identifier")),
    };
    if c.next().is_some() {
        return Err(bad("unexpected text after the sort direction"));
    }
    Ok(OrderBy {
        entity,
        key,
        ascending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let f = parse_filter(
            "metrics.acc > 0.9 and params.lr = '0.1' AND tags.`a b` ILIKE '%x%' \
             AND attributes.status IN ('FINISHED', 'FAILED') AND run_id NOT IN ('a') \
             AND tags.t IS NULL AND tags.u IS NOT NULL AND datasets.name LIKE 'ir%'",
        )
        .unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(
            f[0],
            Clause {
                entity: Entity::Metric,
                key: "acc".into(),
                op: Op::Gt,
                value: Literal::Number(0.9)
            }
        );
        assert_eq!(f[2].key, "a b");
        assert_eq!(
            f[3].value,
            Literal::List(vec!["FINISHED".into(), "FAILED".into()])
        );
        assert_eq!(f[4].op, Op::NotIn);
        assert_eq!(f[5].op, Op::IsNull);
        assert_eq!(f[6].op, Op::IsNotNull);
        assert_eq!(f[7].entity, Entity::Dataset);
    }

    #[test]
    fn blank_filter_matches_all() {
        assert!(parse_filter("").unwrap().is_empty());
        assert!(parse_filter("   ").unwrap().is_empty());
    }

    #[test]
    fn malformed_filters_are_invalid_parameter_value() {
        for bad in [
            "metrics.acc",
            "metrics.acc >",
            "metrics.acc > > 1",
            "> 1",
            "metrics.acc > 1 AND",
            "AND metrics.acc > 1",
            "metrics.acc > 1 OR metrics.acc < 0",
            "metrics.acc > 1 metrics.b < 2",
            "(metrics.acc > 1)",
            "metrics.acc > 1 AND (params.a = 'b')",
            "foo.bar = 'x'",
            "status IN 'FINISHED'",
            "status IN ()",
            "status IN ('a',)",
            "status IN ('a' 'b')",
            "status IN ('a', 1)",
            "status NOT 'x'",
            "tags.t IS 'x'",
            "tags.t IS NOT",
            "params.a = 'x' AND AND params.b = 'y'",
            "params.a = 'x',",
            "params.a == ",
            "params.a LIKE",
            "1 = 1",
            "'a' = 'a'",
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(
                e.code,
                crate::error::ErrorCode::InvalidParameterValue,
                "{bad}"
            );
        }
    }

    #[test]
    fn order_by_items() {
        let o = parse_order_by("metrics.`val loss` DESC").unwrap();
        assert_eq!(
            (o.entity, o.key.as_str(), o.ascending),
            (Entity::Metric, "val loss", false)
        );
        assert!(parse_order_by("start_time").unwrap().ascending);
        assert!(parse_order_by("start_time ASC").unwrap().ascending);
        for bad in [
            "",
            "start_time UP",
            "start_time ASC DESC",
            "x.y",
            "'a'",
            "a, b",
        ] {
            assert!(parse_order_by(bad).is_err(), "{bad}");
        }
    }
}
