//! Building SQL fragments with bound parameters.

use super::parser::{Literal, Op};
use crate::error::{ApiResult, MlflowError};
use crate::store::db::{Dialect, SqlValue};

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

    /// The fragment in `dialect`'s SQL. Fragments are built in SQLite's, where MLflow's
    /// case-sensitive `LIKE` is a `GLOB` (see [`like_to_glob`]); PostgreSQL's `LIKE` is
    /// case-sensitive already, and both `LIKE`s there take the pattern as it is (no escape
    /// character, as in SQLite).
    pub fn in_dialect(mut self, dialect: Dialect) -> Fragment {
        if dialect == Dialect::Sqlite {
            return self;
        }
        let mut sql = String::with_capacity(self.sql.len() + 16);
        let mut param = 0;
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('?') {
            let (before, after) = rest.split_at(at);
            let after = &after[1..];
            if let Some(head) = before.strip_suffix(" GLOB ") {
                sql.push_str(head);
                sql.push_str(" LIKE ? ESCAPE ''");
                if let Some(SqlValue::Text(glob)) = self.params.get_mut(param) {
                    *glob = glob_to_like(glob);
                }
                rest = after;
            } else if before.ends_with(" LIKE LOWER(") && after.starts_with(')') {
                sql.push_str(before);
                sql.push_str("?) ESCAPE ''");
                rest = &after[1..];
            } else {
                sql.push_str(before);
                sql.push('?');
                rest = after;
            }
            param += 1;
        }
        sql.push_str(rest);
        self.sql = sql;
        self
    }
}

/// The inverse of [`like_to_glob`].
fn glob_to_like(glob: &str) -> String {
    glob.replace("[*]", "\u{1}")
        .replace("[?]", "\u{2}")
        .replace("[[]", "[")
        .replace('*', "%")
        .replace('?', "_")
        .replace('\u{1}', "*")
        .replace('\u{2}', "?")
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
        for like in ["a%b_c", "*?[", "[*]?x%", "plain"] {
            assert_eq!(glob_to_like(&like_to_glob(like)), like);
        }
    }

    #[test]
    fn postgres_likes_take_the_mlflow_pattern() {
        let mut f = string_comparison("a", Op::Eq, &Literal::Str("x?".into()), "x").unwrap();
        f.push(" AND ");
        f.append(string_comparison("b", Op::Like, &Literal::Str("p%_*".into()), "x").unwrap());
        f.push(" AND ");
        f.append(string_comparison("c", Op::ILike, &Literal::Str("Q%".into()), "x").unwrap());
        let pg = f.clone().in_dialect(Dialect::Postgres);
        assert_eq!(
            pg.sql,
            "a = ? AND b LIKE ? ESCAPE '' AND LOWER(c) LIKE LOWER(?) ESCAPE ''"
        );
        assert_eq!(
            pg.params,
            vec![
                SqlValue::from("x?"),
                SqlValue::from("p%_*"),
                SqlValue::from("Q%")
            ]
        );
        assert_eq!(f.clone().in_dialect(Dialect::Sqlite).sql, f.sql);
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
