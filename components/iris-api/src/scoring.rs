//! The MLflow scoring protocol of `POST /invocations`, as `mlflow models serve` speaks it:
//! a JSON object with exactly one of `dataframe_split`, `dataframe_records`, `instances`
//! or `inputs` (plus optional `params`, ignored), or a CSV body with a header row.

use crate::error::ApiError;
use crate::input::{self, Row};
use iris_model::{FEATURE_NAMES, N_FEATURES};
use serde_json::Value;

const KEYS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

/// Rows of an `application/json` scoring request.
pub fn json_rows(body: &Value, max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request(format!(
            "expected a JSON object with one of {}",
            KEYS.join(", ")
        )));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !KEYS.contains(&k.as_str()) && *k != "params")
    {
        return Err(ApiError::bad_request(format!(
            "unknown field {unknown:?}; expected one of {}",
            KEYS.join(", ")
        )));
    }
    // MLflow passes params on to the model as a dict; anything else is refused there.
    if fields
        .get("params")
        .is_some_and(|p| !p.is_object() && !p.is_null())
    {
        return Err(ApiError::bad_request("params must be an object"));
    }
    let present: Vec<&str> = KEYS
        .into_iter()
        .filter(|k| fields.contains_key(*k))
        .collect();
    match present.as_slice() {
        ["dataframe_split"] => dataframe_split(&fields["dataframe_split"], max_rows),
        ["dataframe_records"] => {
            input::rows_from_list(&fields["dataframe_records"], "dataframe_records", max_rows)
        }
        [key @ ("instances" | "inputs")] => match &fields[*key] {
            Value::Object(columns) => input::rows_from_columns(columns, max_rows),
            other => input::rows_from_list(other, key, max_rows),
        },
        [] => Err(ApiError::bad_request(format!(
            "the body needs one of {}",
            KEYS.join(", ")
        ))),
        many => Err(ApiError::bad_request(format!(
            "send only one of {}; got {}",
            KEYS.join(", "),
            many.join(", ")
        ))),
    }
}

/// pandas `orient="split"`: `{"columns": [...], "data": [[...]], "index": [...]}`.
/// With columns, they may come in any order; without, the data is in feature order.
/// An `index`, if given, labels the rows one for one, as pandas requires.
fn dataframe_split(value: &Value, max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let Value::Object(split) = value else {
        return Err(ApiError::bad_request(
            "dataframe_split must be an object with columns and data",
        ));
    };
    if let Some(unknown) = split
        .keys()
        .find(|k| !["columns", "data", "index"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown field {unknown:?} in dataframe_split"
        )));
    }
    let data = split
        .get("data")
        .ok_or_else(|| ApiError::bad_request("dataframe_split needs a data field"))?;
    let Value::Array(records) = data else {
        return Err(ApiError::bad_request(
            "dataframe_split.data must be a list of rows",
        ));
    };
    input::check_batch(records.len() as u64, max_rows)?;
    match split.get("index") {
        None => {}
        Some(Value::Array(index)) if index.len() == records.len() => {}
        Some(Value::Array(index)) => {
            return Err(ApiError::bad_request(format!(
                "dataframe_split.index has {} labels for {} rows",
                index.len(),
                records.len()
            )))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "dataframe_split.index must be a list of row labels",
            ))
        }
    }
    let Some(columns) = split.get("columns") else {
        return input::rows_from_list(data, "dataframe_split.data", max_rows);
    };
    let names: Vec<&str> = columns
        .as_array()
        .and_then(|c| c.iter().map(Value::as_str).collect())
        .ok_or_else(|| ApiError::bad_request("dataframe_split.columns must be a list of names"))?;
    let order = column_order(&names)?;
    records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let Value::Array(values) = record else {
                return Err(ApiError::bad_request(format!(
                    "dataframe_split.data row {i} must be a list"
                )));
            };
            if values.len() != names.len() {
                return Err(ApiError::bad_request(format!(
                    "dataframe_split.data row {i} has {} values for {} columns",
                    values.len(),
                    names.len()
                )));
            }
            let mut row = [0f32; N_FEATURES];
            for (j, slot) in row.iter_mut().enumerate() {
                *slot = input::number(&values[order[j]], || {
                    format!("row {i}, {}", FEATURE_NAMES[j])
                })?;
            }
            Ok(row)
        })
        .collect()
}

/// For each feature, the index of its column.
fn column_order(names: &[&str]) -> Result<Vec<usize>, ApiError> {
    if let Some(unknown) = names.iter().find(|n| !FEATURE_NAMES.contains(n)) {
        return Err(ApiError::bad_request(format!(
            "unknown column {unknown:?}; the features are {}",
            FEATURE_NAMES.join(", ")
        )));
    }
    FEATURE_NAMES
        .iter()
        .map(|f| {
            let mut hits = names.iter().enumerate().filter(|(_, n)| *n == f);
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Ok(i),
                (None, _) => Err(ApiError::bad_request(format!("missing column {f:?}"))),
                (Some(_), Some(_)) => {
                    Err(ApiError::bad_request(format!("column {f:?} appears twice")))
                }
            }
        })
        .collect()
}

/// Rows of a `text/csv` scoring request: a header naming the four features, then rows.
pub fn csv_rows(body: &[u8], max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("CSV body is not UTF-8"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| ApiError::bad_request("CSV body is empty"))?
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .collect();
    let order = column_order(&header)?;
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        // Refused at the first row past the limit, before the rest is read.
        input::check_batch(i as u64 + 1, max_rows)?;
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != header.len() {
            return Err(ApiError::bad_request(format!(
                "CSV row {i} has {} cells for {} columns",
                cells.len(),
                header.len()
            )));
        }
        let mut row = [0f32; N_FEATURES];
        for (j, slot) in row.iter_mut().enumerate() {
            let cell = cells[order[j]];
            *slot = cell
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "CSV row {i}, {} must be a finite number, got {cell:?}",
                        FEATURE_NAMES[j]
                    ))
                })?;
        }
        rows.push(row);
    }
    input::check_batch(rows.len() as u64, max_rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROW: Row = [5.1, 3.5, 1.4, 0.2];

    #[test]
    fn every_mlflow_form_is_understood() {
        let forms = [
            json!({"dataframe_split": {"columns": ["petal_width", "sepal_length", "sepal_width", "petal_length"], "data": [[0.2, 5.1, 3.5, 1.4]]}}),
            json!({"dataframe_split": {"data": [[5.1, 3.5, 1.4, 0.2]], "index": [0]}}),
            json!({"dataframe_records": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}),
            json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}),
            json!({"inputs": [[5.1, 3.5, 1.4, 0.2]], "params": {}}),
            json!({"inputs": {"sepal_length": [5.1], "sepal_width": [3.5], "petal_length": [1.4], "petal_width": [0.2]}}),
        ];
        for form in forms {
            assert_eq!(json_rows(&form, 10).unwrap(), vec![ROW], "{form}");
        }
        let csv = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n";
        assert_eq!(csv_rows(csv, 10).unwrap(), vec![ROW]);
    }

    #[test]
    fn wrong_shapes_are_explained() {
        let e = json_rows(
            &json!({"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}),
            10,
        )
        .unwrap_err();
        assert!(e.message.contains("only one"), "{}", e.message);
        assert!(json_rows(&json!({"rows": []}), 10)
            .unwrap_err()
            .message
            .contains("unknown field"));
        assert!(json_rows(&json!({}), 10)
            .unwrap_err()
            .message
            .contains("needs one of"));
        let e = json_rows(
            &json!({"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}}),
            10,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown column \"a\""));
        assert!(json_rows(&json!({"dataframe_records": []}), 10)
            .unwrap_err()
            .message
            .contains("empty"));
        assert!(csv_rows(
            b"sepal_length,sepal_width,petal_length,petal_width\n1,2,x,4\n",
            10
        )
        .is_err());
    }

    #[test]
    fn sizes_are_checked_before_rows_are_built() {
        let e = |v: Value| json_rows(&v, 2).unwrap_err().message;
        let three = json!([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]);
        assert!(e(json!({"instances": three})).contains("at most 2"));
        assert!(e(json!({"dataframe_split": {"data": three}})).contains("at most 2"));
        let split = json!({"dataframe_split": {"data": [[1, 2, 3, 4]], "index": [0, 1]}});
        assert!(e(split).contains("2 labels for 1 rows"));
        assert!(e(json!({"instances": [[1, 2, 3, 4]], "params": [1]})).contains("params"));
        assert!(json_rows(&json!({"instances": [[1, 2, 3, 4]], "params": null}), 2).is_ok());
        let csv = b"sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n1,2,3,4\n1,2,3,4\n";
        assert!(csv_rows(csv, 2).unwrap_err().message.contains("at most 2"));
        assert_eq!(csv_rows(csv, 3).unwrap().len(), 3);
    }
}
