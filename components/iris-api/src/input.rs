//! Turning request bodies into feature rows, with errors that say what is wrong.
//!
//! Shared by `/predict`, `/invocations` (MLflow scoring) and the Open Inference
//! Protocol: each form is parsed into `Vec<Row>` and checked the same way.

use crate::error::ApiError;
use iris_model::{FEATURE_NAMES, N_FEATURES};
use serde_json::{Map, Value};

/// One flower: the four measurements in [`FEATURE_NAMES`] order.
pub type Row = [f32; N_FEATURES];

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
pub fn rows_from_list(value: &Value, field: &str, max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "{field:?} must be a list of rows"
        )));
    };
    check_batch(items.len() as u64, max_rows)?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| row_from_value(v, i))
        .collect()
}

/// Rows from columns: `{"sepal_length": [..], "sepal_width": [..], ...}`.
pub fn rows_from_columns(
    columns: &Map<String, Value>,
    max_rows: usize,
) -> Result<Vec<Row>, ApiError> {
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
    check_batch(n as u64, max_rows)?;
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

/// Rejects an empty batch and one over `max_rows`: called with the number of rows
/// before they are built, so a batch over the limit allocates nothing. A u64, as a
/// count claimed by an OIP shape may not fit wasm32's usize.
pub fn check_batch(rows: u64, max_rows: usize) -> Result<(), ApiError> {
    if rows == 0 {
        return Err(ApiError::bad_request(
            "the batch is empty: send at least one row",
        ));
    }
    if rows > max_rows as u64 {
        return Err(ApiError::bad_request(format!(
            "the batch has {rows} rows; at most {max_rows} are accepted per request"
        )));
    }
    Ok(())
}

/// Parses a `/predict` body: one named-feature object, `{"features": [[...], ...]}`
/// or `{"instances": [...]}` (rows as lists or named objects).
pub fn predict_rows(body: &Value, max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let Value::Object(fields) = body else {
        // A bare list of rows is not one of the documented forms: refusing it keeps
        // one way to send a batch, with a message pointing to it.
        return Err(ApiError::bad_request(format!(
            "expected a JSON object: named features, {{\"features\": [[...]]}} or \
             {{\"instances\": [...]}}; got {}",
            describe(body)
        )));
    };
    let batch_key = ["features", "instances"]
        .into_iter()
        .find(|k| fields.contains_key(*k));
    match batch_key {
        Some(key) => {
            if let Some(other) = fields.keys().find(|k| k.as_str() != key) {
                return Err(ApiError::bad_request(format!(
                    "unknown field {other:?} next to {key:?}"
                )));
            }
            rows_from_list(&fields[key], key, max_rows)
        }
        None => {
            check_batch(1, max_rows)?;
            Ok(vec![row_from_object(fields, 0)?])
        }
    }
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
    fn a_bare_list_is_not_a_predict_body() {
        let m = err(json!([[5.1, 3.5, 1.4, 0.2]]));
        assert!(
            m.contains("expected a JSON object") && m.contains("a list"),
            "{m}"
        );
    }

    #[test]
    fn columns_become_rows() {
        let cols = json!({"sepal_length": [1, 5], "sepal_width": [2, 6], "petal_length": [3, 7], "petal_width": [4, 8]});
        let rows = rows_from_columns(cols.as_object().unwrap(), 10).unwrap();
        assert_eq!(rows, vec![[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]);
        let ragged = json!({"sepal_length": [1], "sepal_width": [2, 6], "petal_length": [3], "petal_width": [4]});
        assert!(rows_from_columns(ragged.as_object().unwrap(), 10).is_err());
        let m = rows_from_columns(cols.as_object().unwrap(), 1)
            .unwrap_err()
            .message;
        assert!(m.contains("at most 1 "), "{m}");
    }
}
