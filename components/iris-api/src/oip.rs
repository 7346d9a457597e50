//! The Open Inference Protocol (KServe v2 / Triton / MLServer), REST form.
//!
//! Inputs: one tensor of shape `[N, 4]` (any name), or four tensors named after the
//! features, each `[N]` or `[N, 1]`. Data may be flat (row-major) or nested.
//! Outputs: `probabilities` FP32 `[N, C]`, `label` BYTES `[N]`, `class_index` INT64 `[N]`;
//! a request may ask for a subset with `outputs: [{"name": ...}]`.

use crate::error::ApiError;
use crate::input::{self, Row};
use crate::model::Predictions;
use iris_model::{FEATURE_NAMES, N_FEATURES};
use serde_json::{json, Map, Value};

pub const OUTPUTS: [&str; 3] = ["probabilities", "label", "class_index"];
const NUMERIC: [&str; 11] = [
    "FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
    "UINT64",
];

/// Model metadata (`GET /v2/models/{name}`).
pub fn metadata(name: &str, version: &str, n_classes: usize) -> Value {
    json!({
        "name": name,
        "versions": [version],
        "platform": "onnx",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, N_FEATURES]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, n_classes]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "class_index", "datatype": "INT64", "shape": [-1]},
        ],
    })
}

/// A parsed inference request: the rows and the outputs asked for.
#[derive(Debug)]
pub struct InferRequest {
    pub id: Option<Value>,
    pub rows: Vec<Row>,
    pub outputs: Vec<String>,
}

fn flatten(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other.clone()),
    }
}

fn shape_of(tensor: &Map<String, Value>, name: &str) -> Result<Vec<usize>, ApiError> {
    tensor
        .get("shape")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
        .ok_or_else(|| {
            ApiError::bad_request(format!("input {name:?} needs a shape: a list of sizes"))
        })
}

/// The numbers of one input tensor, checked against its shape and datatype.
fn tensor_values(tensor: &Map<String, Value>) -> Result<(String, Vec<usize>, Vec<f32>), ApiError> {
    let name = tensor
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let datatype = tensor.get("datatype").and_then(Value::as_str).unwrap_or("");
    if !NUMERIC.contains(&datatype) {
        return Err(ApiError::bad_request(format!(
            "input {name:?} has datatype {datatype:?}; use a numeric one such as FP32"
        )));
    }
    let shape = shape_of(tensor, &name)?;
    let mut flat = Vec::new();
    flatten(
        tensor
            .get("data")
            .ok_or_else(|| ApiError::bad_request(format!("input {name:?} has no data")))?,
        &mut flat,
    );
    let expected: usize = shape.iter().product();
    if flat.len() != expected {
        return Err(ApiError::bad_request(format!(
            "input {name:?} has {} values but its shape {shape:?} holds {expected}",
            flat.len()
        )));
    }
    let values = flat
        .iter()
        .enumerate()
        .map(|(i, v)| input::number(v, || format!("input {name:?} value {i}")))
        .collect::<Result<_, _>>()?;
    Ok((name, shape, values))
}

/// Parses `POST /v2/models/{name}/infer`.
pub fn parse_infer(body: &Value, max_rows: usize) -> Result<InferRequest, ApiError> {
    let Value::Object(req) = body else {
        return Err(ApiError::bad_request(
            "expected a JSON object with an inputs list",
        ));
    };
    if let Some(unknown) = req
        .keys()
        .find(|k| !["id", "inputs", "outputs", "parameters"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown field {unknown:?} in the inference request"
        )));
    }
    let inputs = req
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("the inference request needs an inputs list"))?;
    let tensors = inputs
        .iter()
        .map(|t| {
            t.as_object()
                .ok_or_else(|| ApiError::bad_request("each input must be an object"))
                .and_then(tensor_values)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<Row> = match tensors.as_slice() {
        [(name, shape, values)] => {
            if shape.len() != 2 || shape[1] != N_FEATURES {
                return Err(ApiError::bad_request(format!(
                    "input {name:?} must have shape [N, {N_FEATURES}], got {shape:?}"
                )));
            }
            values.chunks(N_FEATURES).map(|c| c.try_into().expect("chunk of 4")).collect()
        }
        many if many.len() == N_FEATURES => {
            let mut columns = Vec::with_capacity(N_FEATURES);
            for feature in FEATURE_NAMES {
                let (_, shape, values) = many.iter().find(|(n, _, _)| n == feature).ok_or_else(|| {
                    ApiError::bad_request(format!("with {N_FEATURES} inputs, they must be named {}", FEATURE_NAMES.join(", ")))
                })?;
                if shape.len() > 2 || shape.get(1).is_some_and(|d| *d != 1) {
                    return Err(ApiError::bad_request(format!("input {feature:?} must have shape [N] or [N, 1]")));
                }
                columns.push(values);
            }
            let n = columns[0].len();
            if columns.iter().any(|c| c.len() != n) {
                return Err(ApiError::bad_request("the feature inputs must all have the same length"));
            }
            (0..n).map(|i| std::array::from_fn(|j| columns[j][i])).collect()
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "expected one input of shape [N, {N_FEATURES}] or {N_FEATURES} inputs named after the features, got {}",
                other.len()
            )))
        }
    };
    input::check_batch(&rows, max_rows)?;
    let outputs = match req.get("outputs") {
        None => OUTPUTS.iter().map(|s| s.to_string()).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|o| {
                let name = o.get("name").and_then(Value::as_str).unwrap_or("");
                if OUTPUTS.contains(&name) {
                    Ok(name.to_string())
                } else {
                    Err(ApiError::bad_request(format!(
                        "unknown output {name:?}; the outputs are {}",
                        OUTPUTS.join(", ")
                    )))
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "outputs must be a list of {\"name\": ...}",
            ))
        }
    };
    Ok(InferRequest {
        id: req.get("id").cloned(),
        rows,
        outputs,
    })
}

/// The inference response.
pub fn infer_response(
    model: &str,
    version: &str,
    request: &InferRequest,
    p: &Predictions,
    labels: &[String],
) -> Value {
    let n = p.probabilities.len();
    let classes = p.probabilities.first().map_or(0, Vec::len);
    let indices = p.class_indices();
    let outputs: Vec<Value> = request
        .outputs
        .iter()
        .map(|name| match name.as_str() {
            "probabilities" => json!({"name": name, "datatype": "FP32", "shape": [n, classes],
                "data": p.probabilities.iter().flatten().collect::<Vec<_>>()}),
            "label" => json!({"name": name, "datatype": "BYTES", "shape": [n],
                "data": indices.iter().map(|i| &labels[*i]).collect::<Vec<_>>()}),
            _ => json!({"name": name, "datatype": "INT64", "shape": [n], "data": indices}),
        })
        .collect();
    let mut body = json!({"model_name": model, "model_version": version, "outputs": outputs});
    if let Some(id) = &request.id {
        body["id"] = id.clone();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_matrix_or_four_columns() {
        let a = parse_infer(&json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}), 10).unwrap();
        let b = parse_infer(&json!({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}]}), 10).unwrap();
        let cols: Vec<Value> = FEATURE_NAMES
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let data = [[5.1, 3.5, 1.4, 0.2][j], [6.7, 3.0, 5.2, 2.3][j]];
                json!({"name": f, "shape": [2], "datatype": "FP32", "data": data})
            })
            .collect();
        let c = parse_infer(&json!({"inputs": cols, "outputs": [{"name": "label"}]}), 10).unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.rows, c.rows);
        assert_eq!(c.outputs, ["label"]);
    }

    #[test]
    fn mismatches_are_explained() {
        let e = |v: Value| parse_infer(&v, 10).unwrap_err().message;
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]})).contains("holds 4"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})).contains("shape [N, 4]"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]})).contains("datatype"));
        assert!(e(
            json!({"inputs": [{"name": "input", "shape": [0, 4], "datatype": "FP32", "data": []}]})
        )
        .contains("empty"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": [{"name": "logits"}]})).contains("unknown output"));
    }
}
