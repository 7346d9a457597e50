//! Turning request bodies into feature rows, with errors that say what is wrong.
//!
//! Shared by `/predict`, `/invocations` (MLflow scoring) and the Open Inference
//! Protocol: each form is parsed into `Vec<Row>` and checked the same way.

use crate::error::ApiError;
use iris_model::{FEATURE_NAMES, N_FEATURES};
use serde_json::{Map, Value};

/// One flower: the four measurements in [`FEATURE_NAMES`] order.
pub type Row = [f32; N_FEATURES];

/// Parses a JSON body. JSON has no NaN or infinity; a body that tries to send them
/// (as Python's `json.dumps` does) gets a message saying so rather than a parse error.
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = String::from_utf8_lossy(body);
        if ["NaN", "Infinity"].iter().any(|t| text.contains(t)) {
            ApiError::bad_request(
                "features must be finite numbers: NaN and infinities are not accepted",
            )
        } else if e.to_string().contains("number out of range") {
            ApiError::bad_request(format!("a number is out of range: {e}"))
        } else {
            ApiError::bad_request(format!("body is not valid JSON: {e}"))
        }
    })
}

fn feature_list() -> String {
    FEATURE_NAMES.join(", ")
}

/// A finite number that fits in f32.
pub fn number(value: &Value, what: impl Fn() -> String) -> Result<f32, ApiError> {
    let Some(v) = value.as_f64() else {
        return Err(ApiError::bad_request(format!(
            "{} must be a number, got {}",
            what(),
            describe(value)
        )));
    };
    let v32 = v as f32;
    if !v32.is_finite() {
        return Err(ApiError::bad_request(format!(
            "{} is out of range: {v}",
            what()
        )));
    }
    Ok(v32)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::Number(n) => n.to_string(),
    }
}

/// A row given as a list of four numbers.
pub fn row_from_list(values: &[Value], row: usize) -> Result<Row, ApiError> {
    if values.len() != N_FEATURES {
        return Err(ApiError::bad_request(format!(
            "row {row} has {} values; the model takes {N_FEATURES} features ({})",
            values.len(),
            feature_list()
        )));
    }
    let mut out = [0f32; N_FEATURES];
    for (j, (slot, v)) in out.iter_mut().zip(values).enumerate() {
        *slot = number(v, || format!("row {row}, {}", FEATURE_NAMES[j]))?;
    }
    Ok(out)
}

/// A row given as `{"sepal_length": ..., ...}`: all four names, nothing else.
pub fn row_from_object(fields: &Map<String, Value>, row: usize) -> Result<Row, ApiError> {
    if let Some(unknown) = fields.keys().find(|k| !FEATURE_NAMES.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown field {unknown:?} in row {row}; the features are {}",
            feature_list()
        )));
    }
    let mut out = [0f32; N_FEATURES];
    for (slot, name) in out.iter_mut().zip(FEATURE_NAMES) {
        let v = fields.get(name).ok_or_else(|| {
            ApiError::bad_request(format!("row {row} is missing the feature {name:?}"))
        })?;
        *slot = number(v, || format!("row {row}, {name}"))?;
    }
    Ok(out)
}

/// A row that is either a list of four numbers or a named-feature object.
pub fn row_from_value(value: &Value, row: usize) -> Result<Row, ApiError> {
    match value {
        Value::Array(values) => row_from_list(values, row),
        Value::Object(fields) => row_from_object(fields, row),
        other => Err(ApiError::bad_request(format!(
            "row {row} must be a list of {N_FEATURES} numbers or an object of named features, got {}",
            describe(other)
        ))),
    }
}

/// Rows from a JSON list of rows (each a list or an object), under `field` for messages.
pub fn rows_from_list(value: &Value, field: &str) -> Result<Vec<Row>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "{field:?} must be a list of rows"
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| row_from_value(v, i))
        .collect()
}

/// Rows from columns: `{"sepal_length": [..], "sepal_width": [..], ...}`.
pub fn rows_from_columns(columns: &Map<String, Value>) -> Result<Vec<Row>, ApiError> {
    if let Some(unknown) = columns
        .keys()
        .find(|k| !FEATURE_NAMES.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown column {unknown:?}; the features are {}",
            feature_list()
        )));
    }
    let mut cols = Vec::with_capacity(N_FEATURES);
    for name in FEATURE_NAMES {
        match columns.get(name) {
            Some(Value::Array(values)) => cols.push(values),
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "column {name:?} must be a list"
                )))
            }
            None => return Err(ApiError::bad_request(format!("missing column {name:?}"))),
        }
    }
    let n = cols[0].len();
    if cols.iter().any(|c| c.len() != n) {
        return Err(ApiError::bad_request(
            "all columns must have the same length",
        ));
    }
    (0..n)
        .map(|i| {
            let mut row = [0f32; N_FEATURES];
            for (j, slot) in row.iter_mut().enumerate() {
                *slot = number(&cols[j][i], || format!("row {i}, {}", FEATURE_NAMES[j]))?;
            }
            Ok(row)
        })
        .collect()
}

/// Rejects an empty batch and one over `max_rows`.
pub fn check_batch(rows: &[Row], max_rows: usize) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Err(ApiError::bad_request(
            "the batch is empty: send at least one row",
        ));
    }
    if rows.len() > max_rows {
        return Err(ApiError::bad_request(format!(
            "the batch has {} rows; at most {max_rows} are accepted per request",
            rows.len()
        )));
    }
    Ok(())
}

/// Parses a `/predict` body: one named-feature object, `{"features": [[...], ...]}`
/// or `{"instances": [...]}` (rows as lists or named objects).
pub fn predict_rows(body: &Value, max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let rows = match body {
        Value::Object(fields) => {
            let batch_key = ["features", "instances"].into_iter().find(|k| fields.contains_key(*k));
            match batch_key {
                Some(key) => {
                    if let Some(other) = fields.keys().find(|k| k.as_str() != key) {
                        return Err(ApiError::bad_request(format!(
                            "unknown field {other:?} next to {key:?}"
                        )));
                    }
                    rows_from_list(&fields[key], key)?
                }
                None => vec![row_from_object(fields, 0)?],
            }
        }
        Value::Array(_) => rows_from_list(body, "body")?,
        _ => {
            return Err(ApiError::bad_request(
                "expected a JSON object: named features, {\"features\": [[...]]} or {\"instances\": [...]}",
            ))
        }
    };
    check_batch(&rows, max_rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(body: Value) -> String {
        predict_rows(&body, 1000).unwrap_err().message
    }

    #[test]
    fn the_three_forms_give_the_same_rows() {
        let named = json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
        let expected = vec![[5.1, 3.5, 1.4, 0.2]];
        assert_eq!(predict_rows(&named, 10).unwrap(), expected);
        assert_eq!(
            predict_rows(&json!({"features": [[5.1, 3.5, 1.4, 0.2]]}), 10).unwrap(),
            expected
        );
        assert_eq!(
            predict_rows(&json!({"instances": [named]}), 10).unwrap(),
            expected
        );
        assert_eq!(
            predict_rows(&json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}), 10).unwrap(),
            expected
        );
    }

    #[test]
    fn bad_input_is_explained() {
        assert!(err(json!({"features": [[1, 2, 3]]})).contains("has 3 values"));
        assert!(
            err(json!({"features": [[1, 2, "x", 4]]})).contains("petal_length must be a number")
        );
        assert!(err(json!({"features": []})).contains("empty"));
        assert!(err(json!({"features": [[1, 2, 3, 1e39]]})).contains("out of range"));
        assert!(
            err(json!({"sepal_length": 1, "sepal_width": 2, "petal_length": 3}))
                .contains("missing the feature \"petal_width\"")
        );
        assert!(err(json!({"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4, "color": 1})).contains("unknown field \"color\""));
        assert!(err(json!({"features": [[1, 2, 3, 4]], "extra": 1})).contains("\"extra\""));
        assert!(err(json!("hello")).contains("expected a JSON object"));
        let too_many = json!({"features": vec![vec![1, 2, 3, 4]; 11]});
        assert!(predict_rows(&too_many, 10)
            .unwrap_err()
            .message
            .contains("at most 10"));
    }

    #[test]
    fn json_without_nan_support_gets_a_clear_message() {
        let e = parse_json(br#"{"features": [[NaN, 1, 2, 3]]}"#).unwrap_err();
        assert!(e.message.contains("NaN"), "{}", e.message);
        assert!(parse_json(b"{")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
        assert!(parse_json(b"  ").unwrap_err().message.contains("empty"));
    }

    #[test]
    fn columns_become_rows() {
        let cols = json!({"sepal_length": [1, 5], "sepal_width": [2, 6], "petal_length": [3, 7], "petal_width": [4, 8]});
        let rows = rows_from_columns(cols.as_object().unwrap()).unwrap();
        assert_eq!(rows, vec![[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]);
        let ragged = json!({"sepal_length": [1], "sepal_width": [2, 6], "petal_length": [3], "petal_width": [4]});
        assert!(rows_from_columns(ragged.as_object().unwrap()).is_err());
    }
}
