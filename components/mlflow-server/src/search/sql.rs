//! Building SQL fragments with bound parameters.

use super::parser::{Literal, Op};
use crate::error::{ApiResult, MlflowError};
use crate::store::db::SqlValue;

/// SQL text plus the values of its `?` placeholders, in order.
#[derive(Debug, Default, Clone)]
pub struct Fragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Fragment {
    pub fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }
    pub fn bind(&mut self, v: impl Into<SqlValue>) {
        self.sql.push('?');
        self.params.push(v.into());
    }
    pub fn append(&mut self, other: Fragment) {
        self.sql.push_str(&other.sql);
        self.params.extend(other.params);
    }
}

/// MLflow's LIKE is case-sensitive; SQLite's is not, so LIKE becomes GLOB with the
/// wildcards translated and GLOB's own metacharacters escaped.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// `<column> <op> <value>` for a string-valued column.
pub fn string_comparison(column: &str, op: Op, value: &Literal, what: &str) -> ApiResult<Fragment> {
    let mut f = Fragment::default();
    match (op, value) {
        (Op::Eq | Op::Ne, Literal::Str(s)) => {
            f.push(&format!("{column} {} ", op.sql()));
            f.bind(s.as_str());
        }
        (Op::Like, Literal::Str(s)) => {
            f.push(&format!("{column} GLOB "));
            f.bind(like_to_glob(s));
        }
        (Op::ILike, Literal::Str(s)) => {
            f.push(&format!("LOWER({column}) LIKE LOWER("));
            f.bind(s.as_str());
            f.push(")");
        }
        (Op::In | Op::NotIn, Literal::List(items)) => {
            f.push(&format!("{column} {} (", op.sql()));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.push(", ");
                }
                f.bind(item.as_str());
            }
            f.push(")");
        }
        (_, Literal::Number(_)) => {
            return Err(MlflowError::invalid(format!(
                "Invalid filter: the value of {what} must be a quoted string"
            )))
        }
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid filter: comparator '{}' is not supported for {what}",
                op.sql()
            )))
        }
    }
    Ok(f)
}

/// `<column> <op> <number>` for a numeric column.
pub fn number_comparison(column: &str, op: Op, value: &Literal, what: &str) -> ApiResult<Fragment> {
    if !op.is_numeric() {
        return Err(MlflowError::invalid(format!(
            "Invalid filter: comparator '{}' is not supported for {what}; use one of =, !=, <, <=, >, >=",
            op.sql()
        )));
    }
    let n = match value {
        Literal::Number(n) => *n,
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid filter: the value of {what} must be a number"
            )))
        }
    };
    let mut f = Fragment::default();
    f.push(&format!("{column} {} ", op.sql()));
    f.bind(n);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?["), "[*][?][[]");
    }

    #[test]
    fn comparisons_bind_values() {
        let f = string_comparison(
            "c",
            Op::In,
            &Literal::List(vec!["a".into(), "b".into()]),
            "x",
        )
        .unwrap();
        assert_eq!(f.sql, "c IN (?, ?)");
        assert_eq!(f.params.len(), 2);
        assert!(string_comparison("c", Op::Gt, &Literal::Str("a".into()), "x").is_err());
        assert!(string_comparison("c", Op::Eq, &Literal::Number(1.0), "x").is_err());
        assert!(number_comparison("c", Op::Like, &Literal::Number(1.0), "x").is_err());
        assert!(number_comparison("c", Op::Gt, &Literal::Str("1".into()), "x").is_err());
        assert_eq!(
            number_comparison("c", Op::Ge, &Literal::Number(1.0), "x")
                .unwrap()
                .sql,
            "c >= ?"
        );
    }
}
