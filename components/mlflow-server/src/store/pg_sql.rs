//! What both PostgreSQL backends (`pg_spin` in the component, `pg_native` in tests) do
//! to the crate's SQL: each `?` (or SQLite's numbered `?NNN`) outside quotes becomes `$n`, cast to the type of the
//! value bound to it (`$1::int8`, `$2::text` …), so that PostgreSQL types every
//! parameter as SQLite would see it — also where it could not infer one (`SELECT ?, ?`)
//! or would infer another. A NULL gets no cast and takes the type of its context.

use super::db::SqlValue;

/// `sql` with `$n` placeholders for `params`.
pub fn placeholders(sql: &str, params: &[SqlValue]) -> String {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut quote: Option<char> = None;
    // The number of the last parameter: `?` is the next one, `?NNN` number NNN.
    let mut last = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                let n: usize = digits.parse().unwrap_or(last + 1);
                last = n;
                let cast = match params.get(n.wrapping_sub(1)) {
                    Some(SqlValue::Integer(_)) => "::int8",
                    Some(SqlValue::Real(_)) => "::float8",
                    Some(SqlValue::Text(_)) => "::text",
                    Some(SqlValue::Blob(_)) => "::bytea",
                    Some(SqlValue::Null) | None => "",
                };
                out.push_str(&format!("${n}{cast}"));
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
