//! Filters and orderings of the three registry searches, as SQL over
//! `registered_models rm`, `model_versions mv` and `logged_models lm`.
//! Values only reach SQL as bound parameters.

use super::limits;
use super::parser::{parse_filter, parse_order_by, Clause, Entity, Literal, Op};
use super::sql::{number_comparison, string_comparison, Fragment};
use crate::error::{ApiResult, MlflowError};

fn unsupported(what: &str, hint: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid filter: {what} is not supported here; {hint}"
    ))
}

/// `EXISTS (SELECT 1 FROM <table> WHERE <join> AND key = ? AND value <op> ?)`.
fn tag_exists(table: &str, join: &str, c: &Clause, what: &str) -> ApiResult<Fragment> {
    if !matches!(c.op, Op::Eq | Op::Ne | Op::Like | Op::ILike) {
        return Err(MlflowError::invalid(format!(
            "Invalid filter: comparator '{}' is not supported for {what}",
            c.op.sql()
        )));
    }
    let mut f = Fragment::default();
    f.push(&format!(
        "EXISTS (SELECT 1 FROM {table} t WHERE {join} AND t.key = "
    ));
    f.bind(c.key.as_str());
    f.push(" AND ");
    f.append(string_comparison("t.value", c.op, &c.value, what)?);
    f.push(")");
    Ok(f)
}

fn describe(c: &Clause) -> String {
    format!("{} '{}'", c.entity.name(), c.key)
}

/// The tag that marks prompts (MLflow keeps prompts in the registry). Searches return
/// plain models unless the filter asks for prompts; the 3.x client always adds
/// ``tags.`mlflow.prompt.is_prompt` != 'true'``.
pub const IS_PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// Whether a clause on the prompt tag asks for prompts (`= 'true'` or `!= 'false'`).
fn asks_for_prompts(c: &Clause) -> bool {
    let value = match &c.value {
        Literal::Str(v) => v.to_ascii_lowercase(),
        _ => return false,
    };
    (c.op == Op::Eq && value == "true") || (c.op == Op::Ne && value == "false")
}

/// ` AND [NOT] EXISTS (<prompt tag is 'true'>)` for the entity joined by `join`.
fn prompt_condition(table: &str, join: &str, prompts: bool) -> Fragment {
    let mut f = Fragment::default();
    f.push(if prompts {
        " AND EXISTS"
    } else {
        " AND NOT EXISTS"
    });
    f.push(&format!(
        " (SELECT 1 FROM {table} t WHERE {join} AND t.key = "
    ));
    f.bind(IS_PROMPT_TAG);
    f.push(" AND t.value = 'true')");
    f
}

/// search_registered_models: `name` (= != LIKE ILIKE IN NOT IN) and `tags.<key>`.
pub fn registered_models_filter(filter: &str) -> ApiResult<Fragment> {
    let mut out = Fragment::default();
    let mut prompts = false;
    for c in parse_filter(filter)? {
        let what = describe(&c);
        if c.entity == Entity::Tag && c.key == IS_PROMPT_TAG {
            prompts = asks_for_prompts(&c);
            continue;
        }
        out.push(" AND ");
        match (c.entity, c.key.as_str()) {
            (Entity::Attribute, "name") => {
                out.append(string_comparison("rm.name", c.op, &c.value, &what)?)
            }
            (Entity::Tag, _) => out.append(tag_exists(
                "registered_model_tags",
                "t.name = rm.name",
                &c,
                &what,
            )?),
            _ => {
                return Err(unsupported(
                    &what,
                    "registered models are searched by name and tags.<key>",
                ))
            }
        }
    }
    out.append(prompt_condition(
        "registered_model_tags",
        "t.name = rm.name",
        prompts,
    ));
    Ok(out)
}

/// order_by of search_registered_models; the default and tiebreak is `name ASC`.
pub fn registered_models_order(order_by: &[String]) -> ApiResult<String> {
    limits::check_order_by(order_by)?;
    let mut parts = Vec::new();
    let mut by_name = false;
    for item in order_by {
        let o = parse_order_by(item)?;
        let column = match (o.entity, o.key.as_str()) {
            (Entity::Attribute, "name") => {
                by_name = true;
                "rm.name"
            }
            (Entity::Attribute, "timestamp" | "last_updated_timestamp") => "rm.last_updated_time",
            (Entity::Attribute, "creation_timestamp") => "rm.creation_time",
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by key '{}' specified. Valid keys are 'name', 'creation_timestamp', 'last_updated_timestamp'",
                    limits::excerpt(item)
                )))
            }
        };
        parts.push(format!("{column} {}", direction(o.ascending)));
    }
    if !by_name {
        parts.push("rm.name ASC".into());
    }
    Ok(parts.join(", "))
}

/// search_model_versions: `name`, `run_id`, `source_path` (strings), `version_number`
/// (numbers), `tags.<key>`.
pub fn model_versions_filter(filter: &str) -> ApiResult<Fragment> {
    let mut out = Fragment::default();
    let mut prompts = false;
    for c in parse_filter(filter)? {
        let what = describe(&c);
        if c.entity == Entity::Tag && c.key == IS_PROMPT_TAG {
            prompts = asks_for_prompts(&c);
            continue;
        }
        out.push(" AND ");
        match (c.entity, c.key.as_str()) {
            (Entity::Attribute, "name" | "run_id" | "source_path") => {
                let column = match c.key.as_str() {
                    "name" => "mv.name",
                    "run_id" => "mv.run_id",
                    _ => "mv.source",
                };
                if matches!(c.op, Op::In | Op::NotIn) && c.key == "source_path" {
                    return Err(unsupported(&format!("IN on {what}"), "use = or LIKE"));
                }
                out.append(string_comparison(column, c.op, &c.value, &what)?)
            }
            (Entity::Attribute, "version_number") => {
                if matches!(c.value, Literal::Number(n) if n.fract() != 0.0) {
                    return Err(MlflowError::invalid(format!(
                        "Invalid value for numeric attribute 'version_number': {:?}",
                        c.value
                    )));
                }
                out.append(number_comparison("mv.version", c.op, &c.value, &what)?)
            }
            (Entity::Tag, _) => out.append(tag_exists(
                "model_version_tags",
                "t.name = mv.name AND t.version = mv.version",
                &c,
                &what,
            )?),
            _ => {
                return Err(unsupported(
                    &what,
                    "model versions are searched by name, run_id, source_path, version_number and tags.<key>",
                ))
            }
        }
    }
    out.append(prompt_condition(
        "model_version_tags",
        "t.name = mv.name AND t.version = mv.version",
        prompts,
    ));
    Ok(out)
}

/// order_by of search_model_versions; default `last_updated_timestamp DESC, name ASC,
/// version_number DESC`, ties broken by name then version.
pub fn model_versions_order(order_by: &[String]) -> ApiResult<String> {
    limits::check_order_by(order_by)?;
    let default = [
        "last_updated_timestamp DESC".to_string(),
        "name ASC".to_string(),
        "version_number DESC".to_string(),
    ];
    let items = if order_by.is_empty() {
        &default[..]
    } else {
        order_by
    };
    let mut parts = Vec::new();
    let mut seen = Vec::new();
    for item in items {
        let o = parse_order_by(item)?;
        let column = match (o.entity, o.key.as_str()) {
            (Entity::Attribute, "name") => "mv.name",
            (Entity::Attribute, "version_number") => "mv.version",
            (Entity::Attribute, "creation_timestamp") => "mv.creation_time",
            (Entity::Attribute, "last_updated_timestamp") => "mv.last_updated_time",
            (Entity::Attribute, "run_id") => "mv.run_id",
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by key '{}' specified. Valid keys are name, version_number, creation_timestamp, last_updated_timestamp, run_id",
                    limits::excerpt(item)
                )))
            }
        };
        if seen.contains(&column) {
            return Err(MlflowError::invalid(format!(
                "`order_by` contains duplicate fields: {order_by:?}"
            )));
        }
        seen.push(column);
        parts.push(format!("{column} {}", direction(o.ascending)));
    }
    if !seen.contains(&"mv.name") {
        parts.push("mv.name ASC".into());
    }
    if !seen.contains(&"mv.version") {
        parts.push("mv.version DESC".into());
    }
    Ok(parts.join(", "))
}

/// search_logged_models: attributes, `metrics.<key>` (numeric, on the metrics logged with
/// the model), `params.<key>` and `tags.<key>`.
pub fn logged_models_filter(filter: &str) -> ApiResult<Fragment> {
    let mut out = Fragment::default();
    for c in parse_filter(filter)? {
        let what = describe(&c);
        out.push(" AND ");
        match (c.entity, c.key.as_str()) {
            (Entity::Attribute, "name" | "model_id" | "model_type" | "source_run_id") => {
                let column = format!("lm.{}", c.key);
                out.append(string_comparison(&column, c.op, &c.value, &what)?)
            }
            (Entity::Attribute, "status") => {
                let value = match &c.value {
                    Literal::Str(s) => Literal::Str(logged_model_status_name(s)),
                    other => other.clone(),
                };
                out.append(string_comparison("lm.status", c.op, &value, &what)?)
            }
            (Entity::Attribute, "creation_timestamp" | "creation_time") => {
                out.append(number_comparison("lm.creation_timestamp_ms", c.op, &c.value, &what)?)
            }
            (Entity::Attribute, "last_updated_timestamp" | "last_updated_time") => out.append(
                number_comparison("lm.last_updated_timestamp_ms", c.op, &c.value, &what)?,
            ),
            (Entity::Metric, _) => {
                let mut f = Fragment::default();
                f.push("EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ");
                f.bind(c.key.as_str());
                f.push(" AND ");
                f.append(number_comparison("m.value", c.op, &c.value, &what)?);
                f.push(")");
                out.append(f);
            }
            (Entity::Param, _) => out.append(tag_exists(
                "logged_model_params",
                "t.model_id = lm.model_id",
                &c,
                &what,
            )?),
            (Entity::Tag, _) => out.append(tag_exists(
                "logged_model_tags",
                "t.model_id = lm.model_id",
                &c,
                &what,
            )?),
            _ => {
                return Err(unsupported(
                    &what,
                    "logged models are searched by name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp, metrics.<key>, params.<key> and tags.<key>",
                ))
            }
        }
    }
    Ok(out)
}

/// One `order_by` item of search_logged_models (`field_name` plus direction).
pub fn logged_models_order(fields: &[(String, bool)]) -> ApiResult<Fragment> {
    limits::check_order_by(fields)?;
    let mut f = Fragment::default();
    for (field, ascending) in fields {
        let dir = direction(*ascending);
        if let Some(metric) = field.strip_prefix("metrics.") {
            // Models without the metric sort last in both directions.
            f.push(
                "(SELECT MAX(m.value) FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ",
            );
            f.bind(metric);
            f.push(") IS NULL, (SELECT MAX(m.value) FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ");
            f.bind(metric);
            f.push(&format!(") {dir}, "));
            continue;
        }
        let column = match field.as_str() {
            "name" => "lm.name",
            "model_id" => "lm.model_id",
            "model_type" => "lm.model_type",
            "status" => "lm.status",
            "source_run_id" => "lm.source_run_id",
            "creation_timestamp" | "creation_time" => "lm.creation_timestamp_ms",
            "last_updated_timestamp" | "last_updated_time" => "lm.last_updated_timestamp_ms",
            other => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by field name '{other}'"
                )))
            }
        };
        f.push(&format!("{column} {dir}, "));
    }
    f.push("lm.creation_timestamp_ms DESC, lm.model_id ASC");
    Ok(f)
}

/// `READY` and `LOGGED_MODEL_READY` (any case) both name the stored `LOGGED_MODEL_READY`.
fn logged_model_status_name(s: &str) -> String {
    let upper = s.to_ascii_uppercase();
    if upper.starts_with("LOGGED_MODEL_") {
        upper
    } else {
        format!("LOGGED_MODEL_{upper}")
    }
}

fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_model_filters() {
        let f = registered_models_filter("name LIKE 'iris%' AND tags.team = 'ml'").unwrap();
        assert_eq!(f.params.len(), 4, "with the prompt exclusion");
        let f = registered_models_filter("tags.`mlflow.prompt.is_prompt` != 'true'").unwrap();
        assert!(f.sql.contains("NOT EXISTS"), "{}", f.sql);
        let f = registered_models_filter("tags.`mlflow.prompt.is_prompt` = 'true'").unwrap();
        assert!(!f.sql.contains("NOT EXISTS"), "{}", f.sql);
        assert!(registered_models_filter("name IN ('a', 'b')").is_ok());
        for bad in [
            "run_id = 'x'",
            "tags.t > 1",
            "name > 'a'",
            "metrics.a > 1",
            "name = ",
        ] {
            assert!(registered_models_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registered_model_order() {
        assert_eq!(registered_models_order(&[]).unwrap(), "rm.name ASC");
        assert_eq!(
            registered_models_order(&["timestamp DESC".into()]).unwrap(),
            "rm.last_updated_time DESC, rm.name ASC"
        );
        assert!(registered_models_order(&["version_number".into()]).is_err());
    }

    #[test]
    fn model_version_filters_and_order() {
        assert!(model_versions_filter("name = 'iris' AND version_number > 3").is_ok());
        assert!(model_versions_filter("run_id IN ('a','b') AND tags.k != 'v'").is_ok());
        assert!(model_versions_filter("source_path LIKE 'mlflow-artifacts:%'").is_ok());
        for bad in [
            "version_number = 'x'",
            "version_number > 1.5",
            "stage = 'x'",
            "name < 'a'",
        ] {
            assert!(model_versions_filter(bad).is_err(), "{bad}");
        }
        assert_eq!(
            model_versions_order(&[]).unwrap(),
            "mv.last_updated_time DESC, mv.name ASC, mv.version DESC"
        );
        assert!(model_versions_order(&["name".into(), "name DESC".into()]).is_err());
    }

    #[test]
    fn logged_model_filters() {
        assert!(logged_models_filter("name = 'model'").is_ok());
        assert!(logged_models_filter("metrics.accuracy >= 0.9 AND params.epochs = '10'").is_ok());
        let f = logged_models_filter("status = 'READY'").unwrap();
        assert_eq!(
            f.params[0],
            crate::store::db::SqlValue::Text("LOGGED_MODEL_READY".into())
        );
        assert!(logged_models_filter("metrics.a = 'x'").is_err());
        assert!(logged_models_filter("datasets.name = 'x'").is_err());
        assert!(logged_models_order(&[("metrics.acc".into(), false)]).is_ok());
        assert!(logged_models_order(&[("bogus".into(), true)]).is_err());
    }
}
