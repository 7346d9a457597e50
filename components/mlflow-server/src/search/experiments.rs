//! search_experiments: allowed clauses and their SQL over `experiments e`.

use super::parser::{parse_filter, parse_order_by, Entity, Op};
use super::sql::{number_comparison, string_comparison, Fragment};
use crate::error::{ApiResult, MlflowError};

pub fn filter_sql(filter: &str) -> ApiResult<Fragment> {
    let mut out = Fragment::default();
    for c in parse_filter(filter)? {
        out.push(" AND ");
        let what = format!("{} '{}'", c.entity.name(), c.key);
        match (c.entity, c.key.as_str()) {
            (Entity::Attribute, "name") => out.append(string_comparison("e.name", c.op, &c.value, &what)?),
            (Entity::Attribute, "experiment_id") => out.append(string_comparison(
                "CAST(e.experiment_id AS TEXT)",
                c.op,
                &c.value,
                &what,
            )?),
            (Entity::Attribute, "creation_time") => {
                out.append(number_comparison("e.creation_time", c.op, &c.value, &what)?)
            }
            (Entity::Attribute, "last_update_time") => {
                out.append(number_comparison("e.last_update_time", c.op, &c.value, &what)?)
            }
            (Entity::Tag, key) => {
                let mut f = Fragment::default();
                let negate = c.op == Op::IsNull;
                if negate {
                    f.push("NOT ");
                }
                f.push("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ");
                f.bind(key);
                match c.op {
                    Op::IsNull | Op::IsNotNull => {}
                    Op::Eq | Op::Ne | Op::Like | Op::ILike => {
                        f.push(" AND ");
                        f.append(string_comparison("t.value", c.op, &c.value, &what)?);
                    }
                    _ => {
                        return Err(MlflowError::invalid(format!(
                            "Invalid filter: comparator '{}' is not supported for {what}",
                            c.op.sql()
                        )))
                    }
                }
                f.push(")");
                out.append(f);
            }
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid filter: {what} cannot be used to search experiments; use name, experiment_id, creation_time, last_update_time or tags.<key>"
                )))
            }
        }
    }
    Ok(out)
}

pub fn order_sql(order_by: &[String]) -> ApiResult<Fragment> {
    super::limits::check_order_by(order_by)?;
    let mut out = Fragment::default();
    out.push(" ORDER BY ");
    for item in order_by {
        let o = parse_order_by(item)?;
        let col = match (o.entity, o.key.as_str()) {
            (Entity::Attribute, "name") => "e.name",
            (Entity::Attribute, "experiment_id") => "e.experiment_id",
            (Entity::Attribute, "creation_time") => "e.creation_time",
            (Entity::Attribute, "last_update_time") => "e.last_update_time",
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order_by clause '{}': experiments sort by name, experiment_id, creation_time or last_update_time",
                    crate::search::limits::excerpt(item)
                )))
            }
        };
        out.push(&format!(
            "{col} {}, ",
            if o.ascending { "ASC" } else { "DESC" }
        ));
    }
    out.push("e.creation_time DESC, e.experiment_id ASC");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_filters() {
        assert!(filter_sql("name LIKE 'iris%' AND tags.team = 'a' AND creation_time > 5").is_ok());
        assert!(filter_sql("tags.team IS NULL").is_ok());
        for bad in [
            "metrics.a > 1",
            "params.a = 'x'",
            "status = 'x'",
            "name > 'a'",
            "creation_time = 'x'",
            "tags.t > 1",
        ] {
            assert!(filter_sql(bad).is_err(), "{bad}");
        }
        assert!(order_sql(&["name DESC".into()]).is_ok());
        assert!(order_sql(&["metrics.a".into()]).is_err());
    }
}
