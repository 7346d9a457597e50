//! search_runs: which clauses are allowed, and their SQL over `runs r`.

use super::parser::{parse_filter, parse_order_by, Clause, Entity, Op};
use super::sql::{number_comparison, string_comparison, Fragment};
use crate::error::{ApiResult, MlflowError};
use crate::store::db::SqlValue;

/// String attributes and their columns.
fn string_attribute(name: &str) -> Option<&'static str> {
    Some(match name {
        "run_id" | "run_uuid" => "r.run_uuid",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "artifact_uri" => "r.artifact_uri",
        "lifecycle_stage" => "r.lifecycle_stage",
        _ => return None,
    })
}

fn numeric_attribute(name: &str) -> Option<&'static str> {
    Some(match name {
        "start_time" | "created" | "Created" => "r.start_time",
        "end_time" => "r.end_time",
        _ => return None,
    })
}

/// `<value of the run's `key` in `table`> <cond>`: the value is a scalar subquery on the
/// table's primary key (run_uuid, key), NULL when the run has no such key (which no
/// comparison passes). Each run costs one index lookup whatever the planner knows of
/// the tables; an `EXISTS` semi-join, planned on the statistics of tables just
/// filled, can rescan every run's matching entries instead. `comparison` builds the
/// condition on the column expression it is given; its `?`s follow the key's.
fn key_value_matches(
    table: &str,
    value: &str,
    key: &str,
    comparison: impl FnOnce(&str) -> ApiResult<Fragment>,
) -> ApiResult<Fragment> {
    let column =
        format!("(SELECT {value} FROM {table} kv WHERE kv.run_uuid = r.run_uuid AND kv.key = ?)");
    let cond = comparison(&column)?;
    let mut params = vec![SqlValue::from(key)];
    params.extend(cond.params);
    Ok(Fragment {
        sql: cond.sql,
        params,
    })
}

fn clause_sql(c: &Clause) -> ApiResult<Fragment> {
    match c.entity {
        Entity::Metric => {
            let what = format!("metric '{}'", c.key);
            // A NaN point compares as no value: no comparison passes.
            let value = "CASE WHEN kv.is_nan = 0 THEN kv.value END";
            key_value_matches("latest_metrics", value, &c.key, |column| {
                number_comparison(column, c.op, &c.value, &what)
            })
        }
        Entity::Param | Entity::Tag => {
            let table = if c.entity == Entity::Param {
                "params"
            } else {
                "tags"
            };
            let what = format!("{} '{}'", c.entity.name(), c.key);
            match c.op {
                Op::IsNull | Op::IsNotNull => {
                    let mut f = Fragment::default();
                    if c.op == Op::IsNull {
                        f.push("NOT ");
                    }
                    f.push(&format!(
                        "EXISTS (SELECT 1 FROM {table} kv WHERE kv.run_uuid = r.run_uuid AND kv.key = "
                    ));
                    f.bind(c.key.as_str());
                    f.push(")");
                    Ok(f)
                }
                Op::Eq | Op::Ne | Op::Like | Op::ILike => {
                    key_value_matches(table, "kv.value", &c.key, |column| {
                        string_comparison(column, c.op, &c.value, &what)
                    })
                }
                _ => Err(MlflowError::invalid(format!(
                    "Invalid filter: comparator '{}' is not supported for {what}; use =, !=, LIKE, ILIKE, IS NULL or IS NOT NULL",
                    c.op.sql()
                ))),
            }
        }
        Entity::Attribute => {
            let what = format!("attribute '{}'", c.key);
            if let Some(col) = string_attribute(&c.key) {
                string_comparison(col, c.op, &c.value, &what)
            } else if let Some(col) = numeric_attribute(&c.key) {
                number_comparison(col, c.op, &c.value, &what)
            } else {
                Err(MlflowError::invalid(format!(
                    "Invalid attribute key '{}' specified. Valid keys are run_id, run_name, status, user_id, artifact_uri, start_time, end_time",
                    c.key
                )))
            }
        }
        Entity::Dataset => {
            let col = match c.key.as_str() {
                "name" => "d.name",
                "digest" => "d.digest",
                "context" => "d.context",
                other => {
                    return Err(MlflowError::invalid(format!(
                        "Invalid dataset key '{other}'. Valid keys are name, digest, context"
                    )))
                }
            };
            let cond = string_comparison(col, c.op, &c.value, &format!("dataset {}", c.key))?;
            let mut f = Fragment::default();
            f.push("EXISTS (SELECT 1 FROM run_dataset_inputs d WHERE d.run_uuid = r.run_uuid AND ");
            f.append(cond);
            f.push(")");
            Ok(f)
        }
    }
}

/// `AND …` conditions for a filter string (empty when there is no filter).
pub fn filter_sql(filter: &str) -> ApiResult<Fragment> {
    let mut out = Fragment::default();
    for clause in parse_filter(filter)? {
        out.push(" AND ");
        out.append(clause_sql(&clause)?);
    }
    Ok(out)
}

fn sort_expr(entity: Entity, key: &str) -> ApiResult<Fragment> {
    let mut f = Fragment::default();
    let table = match entity {
        Entity::Metric => "latest_metrics",
        Entity::Param => "params",
        Entity::Tag => "tags",
        Entity::Attribute => {
            let col = match key {
                "experiment_id" => "r.experiment_id",
                k => string_attribute(k)
                    .or(numeric_attribute(k))
                    .ok_or_else(|| {
                        MlflowError::invalid(format!("Invalid order_by attribute key '{key}'"))
                    })?,
            };
            f.push(col);
            return Ok(f);
        }
        Entity::Dataset => {
            return Err(MlflowError::invalid(
                "Invalid order_by clause: datasets cannot be used to sort runs",
            ))
        }
    };
    // A NaN metric sorts with the missing ones, last.
    let value = if entity == Entity::Metric {
        "CASE WHEN kv.is_nan = 1 THEN NULL ELSE kv.value END"
    } else {
        "kv.value"
    };
    f.push(&format!(
        "(SELECT {value} FROM {table} kv WHERE kv.run_uuid = r.run_uuid AND kv.key = "
    ));
    f.bind(key);
    f.push(")");
    Ok(f)
}

/// `ORDER BY …` for the order_by items; missing values sort last either way, and the
/// default and tie-break is `start_time DESC, run_id ASC`.
pub fn order_sql(order_by: &[String]) -> ApiResult<Fragment> {
    super::limits::check_order_by(order_by)?;
    let mut out = Fragment::default();
    out.push(" ORDER BY ");
    for item in order_by {
        let o = parse_order_by(item)?;
        let expr = sort_expr(o.entity, &o.key)?;
        out.append(expr.clone());
        out.push(" IS NULL, ");
        out.append(expr);
        out.push(if o.ascending { " ASC, " } else { " DESC, " });
    }
    out.push("r.start_time DESC, r.run_uuid ASC");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_bind_every_value() {
        let f = filter_sql("metrics.acc > 0.5 AND params.p = 'x' AND status IN ('A','B')").unwrap();
        assert_eq!(f.params.len(), 6);
        assert!(!f.sql.contains("'x'"));
        assert!(!f.sql.contains("0.5"));
    }

    #[test]
    fn entity_specific_rules() {
        for bad in [
            "metrics.acc = 'x'",
            "metrics.acc LIKE '1'",
            "metrics.acc IS NULL",
            "params.p > 1",
            "params.p < 'a'",
            "tags.t IN ('a')",
            "start_time = 'yesterday'",
            "start_time LIKE '1%'",
            "status > 'A'",
            "nonsense = 'x'",
            "datasets.size = 'x'",
            "run_id = 5",
        ] {
            assert!(filter_sql(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_by_rules() {
        assert!(order_sql(&["metrics.acc DESC".into(), "params.p".into()]).is_ok());
        assert!(order_sql(&["nonsense".into()]).is_err());
        assert!(order_sql(&["datasets.name".into()]).is_err());
    }
}

#[cfg(test)]
mod robustness {
    //! Every input either parses or is refused with INVALID_PARAMETER_VALUE: generated
    //! filters built from the language's pieces (in valid and broken orders) never panic.
    use super::*;
    use crate::error::ErrorCode;

    const PIECES: &[&str] = &[
        "metrics.a",
        "params.`b c`",
        "tags.\"d\"",
        "attributes.status",
        "run_name",
        "datasets.name",
        "=",
        "!=",
        "<>",
        "<",
        ">=",
        "LIKE",
        "ILIKE",
        "IN",
        "NOT",
        "IS",
        "NULL",
        "AND",
        "OR",
        "'x'",
        "'it''s'",
        "1.5",
        "-2e3",
        "(",
        ")",
        ",",
        "`",
        "'",
        "\"",
        "é",
        "%",
        ";",
        "--",
    ];

    #[test]
    fn generated_filters_never_panic() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 8) as usize;
            let filter: Vec<&str> = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let filter = filter.join(" ");
            if let Err(e) = filter_sql(&filter) {
                assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{filter}");
            }
            if let Err(e) = order_sql(std::slice::from_ref(&filter)) {
                assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{filter}");
            }
        }
    }
}
