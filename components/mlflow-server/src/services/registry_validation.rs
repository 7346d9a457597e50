//! The registry's validation rules (MLflow's `utils/validation.py` semantics): model and
//! logged-model names, versions, aliases, stages, tags and model-version sources.

use super::validation::validate_key;
use crate::error::{ApiResult, MlflowError};

pub const MAX_TAG_VALUE_LEN: usize = 100_000;
pub const MAX_ALIAS_LEN: usize = 255;
pub const DEFAULT_SEARCH_MODELS: i64 = 100;
pub const MAX_SEARCH_MODELS: i64 = 1000;
pub const DEFAULT_SEARCH_VERSIONS: i64 = 10_000;
pub const MAX_SEARCH_VERSIONS: i64 = 200_000;
pub const DEFAULT_SEARCH_LOGGED_MODELS: i64 = 50;
pub const MAX_SEARCH_LOGGED_MODELS: i64 = 1000;

/// The stages a version can be in, canonically spelled.
pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

/// Registered model names: non-blank, without `/` or `:`, not a climbing path.
pub fn model_name(name: Option<&str>) -> ApiResult<&str> {
    model_name_field(name, "name")
}

fn model_name_field<'a>(name: Option<&'a str>, field: &str) -> ApiResult<&'a str> {
    let name = match name {
        Some(n) if !n.trim().is_empty() => n,
        _ => return Err(MlflowError::missing(field)),
    };
    if name.contains('/') || name.contains(':') {
        return Err(MlflowError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if name == "." || name == ".." {
        return Err(MlflowError::invalid(format!(
            "Invalid value '{name}' for parameter '{field}': it must be a normalized path"
        )));
    }
    Ok(name)
}

/// The new name of a rename.
pub fn new_model_name(name: Option<&str>) -> ApiResult<&str> {
    model_name_field(name, "new_name")
}

/// Version numbers travel as strings; they must be integers.
pub fn version(version: Option<&str>) -> ApiResult<i64> {
    let v = match version {
        Some(v) if !v.is_empty() => v,
        _ => return Err(MlflowError::missing("version")),
    };
    v.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid(format!(
            "Parameter 'version' must be an integer, got '{v}'."
        ))
    })
}

/// Alias names: `^[\w\-]*$`, non-empty, at most 255 characters.
pub fn alias(alias: Option<&str>) -> ApiResult<&str> {
    let alias = match alias {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(MlflowError::invalid(
                "Registered model alias name cannot be empty.",
            ))
        }
    };
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(MlflowError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    if alias.chars().count() > MAX_ALIAS_LEN {
        return Err(MlflowError::invalid(format!(
            "Registered model alias name '{alias}' had length {}, which exceeded length limit of {MAX_ALIAS_LEN}",
            alias.chars().count()
        )));
    }
    Ok(alias)
}

/// Aliases that would shadow version references in `models:/` URIs cannot be set.
pub fn alias_not_reserved(alias: &str) -> ApiResult<()> {
    if alias.eq_ignore_ascii_case("latest") {
        return Err(MlflowError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(MlflowError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

/// A stage name, case-insensitively, in its canonical spelling.
pub fn stage(stage: Option<&str>) -> ApiResult<&'static str> {
    let s = stage.unwrap_or("");
    STAGES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(s.trim()))
        .copied()
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Invalid Model Version stage: {s}. Value must be one of {}.",
                STAGES.join(", ")
            ))
        })
}

/// A registry tag (registered model or version): key as run tag keys, value ≤ 100000.
pub fn tag(key: Option<&str>, value: Option<&str>) -> ApiResult<(String, String)> {
    let key = validate_key("tag", key)?;
    let value = value.unwrap_or("");
    if value.chars().count() > MAX_TAG_VALUE_LEN {
        return Err(MlflowError::invalid(format!(
            "Tag value for '{key}' exceeded length limit of {MAX_TAG_VALUE_LEN}"
        )));
    }
    Ok((key, value.to_string()))
}

/// `max_results` within 1..=max (MLflow's wording for the registry).
pub fn max_results(value: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(MlflowError::invalid(format!(
            "Invalid value for request parameter max_results. It must be at most {max} and at least 1, but got value {n}"
        ))),
    }
}

/// Logged-model names: non-empty, none of `/ : . % " '` (they are used in paths and filters).
pub fn logged_model_name(name: &str) -> ApiResult<()> {
    const BAD: [char; 6] = ['/', ':', '.', '%', '"', '\''];
    if name.is_empty() || name.contains(BAD) {
        return Err(MlflowError::invalid(format!(
            "Invalid model name ({name:?}) provided. Model name must be a non-empty string and cannot contain any of / : . % \" '"
        )));
    }
    Ok(())
}

/// A model-version source must not reach outside its store: after repeated
/// percent-decoding, no NUL and no `..` segment.
pub fn source_has_no_traversal(source: &str) -> ApiResult<()> {
    let mut decoded = source.to_string();
    for _ in 0..8 {
        let next = percent_encoding::percent_decode_str(&decoded.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if decoded.contains('\0') || decoded.split('/').any(|seg| seg == "..") {
        return Err(MlflowError::invalid(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert_eq!(model_name(Some("iris")).unwrap(), "iris");
        assert!(model_name(Some("My Model-2")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("  "),
            Some("a/b"),
            Some("a:b"),
            Some(".."),
        ] {
            assert!(model_name(bad).is_err(), "{bad:?}");
        }
        assert!(new_model_name(None)
            .unwrap_err()
            .message
            .contains("new_name"));
    }

    #[test]
    fn versions_must_be_integers() {
        assert_eq!(version(Some("3")).unwrap(), 3);
        let err = version(Some("three")).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message.contains("must be an integer"));
        assert!(version(None).is_err());
    }

    #[test]
    fn aliases_follow_mlflow_rules() {
        for ok in ["champion", "prod-eu_1", "v1a", "version2"] {
            assert!(
                alias(Some(ok)).is_ok() && alias_not_reserved(ok).is_ok(),
                "{ok}"
            );
        }
        for bad in ["", "a b", "a/b", "a.b"] {
            assert!(alias(Some(bad)).is_err(), "{bad}");
        }
        assert!(alias(Some(&"a".repeat(256))).is_err());
        for reserved in ["latest", "LaTeSt", "v1", "V42"] {
            assert!(alias_not_reserved(reserved).is_err(), "{reserved}");
        }
        assert!(alias_not_reserved("v").is_ok());
    }

    #[test]
    fn stages_are_canonicalised() {
        assert_eq!(stage(Some("production")).unwrap(), "Production");
        assert_eq!(stage(Some("NONE")).unwrap(), "None");
        assert!(stage(Some("Deleted_Internal")).is_err());
        assert!(stage(Some("prod")).is_err());
        assert!(stage(None).is_err());
    }

    #[test]
    fn tags_and_logged_model_names() {
        assert_eq!(tag(Some("k"), None).unwrap(), ("k".into(), String::new()));
        assert!(tag(Some("bad key!"), Some("v")).is_err());
        assert!(tag(Some("k"), Some(&"x".repeat(100_001))).is_err());
        assert!(logged_model_name("model").is_ok());
        for bad in ["", "a.b", "a/b", "50%", "it's"] {
            assert!(logged_model_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources_cannot_traverse() {
        assert!(source_has_no_traversal("mlflow-artifacts:/1/models/m-1/artifacts").is_ok());
        assert!(source_has_no_traversal("models:/m-abc").is_ok());
        for bad in [
            "mlflow-artifacts:/1/../../etc",
            "mlflow-artifacts:/1/..%2f..%2fetc",
            "mlflow-artifacts:/1/%252e%252e/x",
            "http://h/api/2.0/mlflow-artifacts/artifacts/%00",
        ] {
            assert!(source_has_no_traversal(bad).is_err(), "{bad}");
        }
    }
}
