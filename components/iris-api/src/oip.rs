//! The Open Inference Protocol (KServe v2 / Triton / MLServer), REST form.
//!
//! Inputs: one tensor of shape `[N, 4]` (any name), or four tensors named after the
//! features, each `[N]` or `[N, 1]`. Data may be flat (row-major) or nested.
//! Outputs: `probabilities` FP32 `[N, C]`, `label` BYTES `[N]`, `class_index` INT64 `[N]`;
//! a request may ask for a subset with `outputs: [{"name": ...}]` (a name asked for
//! twice is answered once).
//!
//! Shapes are read as u64 and checked against the form and the row limit before
//! any value is read; the data must hold exactly as many values as the shape, each
//! in its datatype's range (see [`crate::oip_datatype`]).

use crate::error::ApiError;
use crate::input::{self, Row};
use crate::model::Predictions;
use crate::oip_datatype::Datatype;
use iris_model::{FEATURE_NAMES, N_FEATURES};
use serde_json::{json, Map, Value};

pub const OUTPUTS: [&str; 3] = ["probabilities", "label", "class_index"];

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
    pub id: Option<String>,
    pub rows: Vec<Row>,
    /// Each output at most once, in the order first asked for: the answer's size is
    /// bounded by the rows whatever the request repeats.
    pub outputs: Vec<&'static str>,
}

/// What an input tensor must hold: the whole `[N, 4]` matrix or one feature column.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Matrix,
    Column,
}

/// One input tensor, checked against its form, shape and datatype.
struct Tensor {
    name: String,
    rows: usize,
    values: Vec<f32>,
}

/// The number of elements of `shape`, in 64-bit arithmetic that cannot wrap.
fn element_count(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |n, d| n.checked_mul(*d))
}

fn shape_of(tensor: &Map<String, Value>, name: &str) -> Result<Vec<u64>, ApiError> {
    tensor
        .get("shape")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().map(Value::as_u64).collect())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "input {name:?} needs a shape: a list of non-negative integers"
            ))
        })
}

/// Checks `shape` against `form` and returns its number of rows, before any value
/// is read: a shape over the row limit allocates nothing.
fn rows_of(shape: &[u64], form: Form, name: &str, max_rows: usize) -> Result<usize, ApiError> {
    let fits = match (form, shape) {
        (Form::Matrix, [_, width]) => *width == N_FEATURES as u64,
        (Form::Column, [_]) => true,
        (Form::Column, [_, width]) => *width == 1,
        _ => false,
    };
    if !fits {
        let expected = match form {
            Form::Matrix => format!("[N, {N_FEATURES}]"),
            Form::Column => "[N] or [N, 1]".into(),
        };
        return Err(ApiError::bad_request(format!(
            "input {name:?} must have shape {expected}, got {shape:?}"
        )));
    }
    input::check_batch(shape[0], max_rows)?;
    // At most max_rows: it fits.
    Ok(shape[0] as usize)
}

/// Appends the numbers of `data` (flat or nested) to `out`, refusing more than `limit`.
fn flatten(
    data: &Value,
    datatype: Datatype,
    name: &str,
    limit: usize,
    out: &mut Vec<f32>,
) -> Result<(), ApiError> {
    match data {
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| flatten(v, datatype, name, limit, out)),
        value => {
            if out.len() == limit {
                return Err(ApiError::bad_request(format!(
                    "input {name:?} has more values than its shape holds ({limit})"
                )));
            }
            let i = out.len();
            out.push(datatype.value(value, || format!("input {name:?} value {i}"))?);
            Ok(())
        }
    }
}

fn tensor(value: &Value, form: Form, max_rows: usize) -> Result<Tensor, ApiError> {
    let tensor = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("each input must be an object"))?;
    let name = tensor
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("each input needs a name (a string)"))?
        .to_string();
    let datatype = Datatype::parse(
        tensor.get("datatype").and_then(Value::as_str).unwrap_or(""),
        &name,
    )?;
    let shape = shape_of(tensor, &name)?;
    let rows = rows_of(&shape, form, &name, max_rows)?;
    // Bounded by the row limit checked above, so it fits a usize.
    let expected = element_count(&shape)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!("input {name:?}: shape {shape:?} is too large"))
        })?;
    let data = tensor
        .get("data")
        .ok_or_else(|| ApiError::bad_request(format!("input {name:?} has no data")))?;
    // Sized by the data actually sent, not only by the shape's claim.
    let sent = data.as_array().map_or(1, Vec::len);
    let mut values = Vec::with_capacity(expected.min(sent.saturating_mul(N_FEATURES)));
    flatten(data, datatype, &name, expected, &mut values)?;
    if values.len() != expected {
        return Err(ApiError::bad_request(format!(
            "input {name:?} has {} values but its shape {shape:?} holds {expected}",
            values.len()
        )));
    }
    Ok(Tensor { name, rows, values })
}

/// The outputs asked for, each once (as Triton does with a repeated name).
fn requested_outputs(outputs: Option<&Value>) -> Result<Vec<&'static str>, ApiError> {
    let Some(outputs) = outputs else {
        return Ok(OUTPUTS.to_vec());
    };
    let list = outputs
        .as_array()
        .ok_or_else(|| ApiError::bad_request("outputs must be a list of {\"name\": ...}"))?;
    let mut asked = Vec::with_capacity(OUTPUTS.len());
    for output in list {
        let name = output
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("each output must be an object with a name"))?;
        let known = OUTPUTS.iter().find(|o| **o == name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown output {name:?}; the outputs are {}",
                OUTPUTS.join(", ")
            ))
        })?;
        if !asked.contains(known) {
            asked.push(*known);
        }
    }
    Ok(asked)
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
    let id = match req.get("id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ApiError::bad_request("id must be a string")),
    };
    if req.get("parameters").is_some_and(|p| !p.is_object()) {
        return Err(ApiError::bad_request("parameters must be an object"));
    }
    let inputs = req
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("the inference request needs an inputs list"))?;
    let rows: Vec<Row> = match inputs.len() {
        1 => {
            let matrix = tensor(&inputs[0], Form::Matrix, max_rows)?;
            matrix
                .values
                .chunks_exact(N_FEATURES)
                .map(|c| c.try_into().expect("chunk of 4"))
                .collect()
        }
        N_FEATURES => {
            let tensors = inputs
                .iter()
                .map(|t| tensor(t, Form::Column, max_rows))
                .collect::<Result<Vec<_>, _>>()?;
            let columns = FEATURE_NAMES
                .iter()
                .map(|feature| {
                    tensors.iter().find(|t| t.name == *feature).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "with {N_FEATURES} inputs, they must be named {}",
                            FEATURE_NAMES.join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let n = columns[0].rows;
            if columns.iter().any(|c| c.rows != n) {
                return Err(ApiError::bad_request(
                    "the feature inputs must all have the same length",
                ));
            }
            (0..n)
                .map(|i| std::array::from_fn(|j| columns[j].values[i]))
                .collect()
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "expected one input of shape [N, {N_FEATURES}] or {N_FEATURES} inputs named after the features, got {other}"
            )))
        }
    };
    Ok(InferRequest {
        id,
        rows,
        outputs: requested_outputs(req.get("outputs"))?,
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
        .map(|&name| match name {
            "probabilities" => json!({"name": name, "datatype": "FP32", "shape": [n, classes],
                "data": p.probabilities.iter().flatten().collect::<Vec<_>>()}),
            "label" => json!({"name": name, "datatype": "BYTES", "shape": [n],
                "data": indices.iter().map(|i| &labels[*i]).collect::<Vec<_>>()}),
            _ => json!({"name": name, "datatype": "INT64", "shape": [n], "data": indices}),
        })
        .collect();
    let mut body = json!({"model_name": model, "model_version": version, "outputs": outputs});
    if let Some(id) = &request.id {
        body["id"] = json!(id);
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
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]})).contains("more values than its shape holds (4)"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})).contains("shape [N, 4]"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]})).contains("datatype"));
        assert!(e(
            json!({"inputs": [{"name": "input", "shape": [0, 4], "datatype": "FP32", "data": []}]})
        )
        .contains("empty"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": [{"name": "logits"}]})).contains("unknown output"));
        assert!(e(
            json!({"inputs": [{"shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
        )
        .contains("needs a name"));
        assert!(e(json!({"id": 7, "inputs": []})).contains("id must be a string"));
        assert!(e(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "INT8", "data": [1, 2, 300, 4]}]})).contains("out of the range of datatype INT8"));
    }

    #[test]
    fn shapes_do_not_wrap() {
        let four = json!([5.1, 3.5, 1.4, 0.2]);
        for shape in [
            json!([4_294_967_297u64, 4]),
            json!([1_073_741_825u64, 4]),
            json!([1, 4_294_967_300u64]),
            json!([u64::MAX, 4]),
            json!([4_611_686_018_427_387_905u64, 4]),
        ] {
            let body = json!({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": four}]});
            let e = parse_infer(&body, 1000).unwrap_err();
            assert_eq!(e.status, 400, "{shape}");
        }
        let body = json!({"inputs": [{"name": "input", "shape": [4_294_967_297u64, 4], "datatype": "FP32", "data": four}]});
        let m = parse_infer(&body, 1000).unwrap_err().message;
        assert!(m.contains("4294967297 rows"), "{m}");
        assert_eq!(element_count(&[u64::MAX, 2]), None);
        assert_eq!(element_count(&[1 << 32, 1 << 31]), Some(1 << 63));
        let column = |shape: Value| json!({"name": "sepal_length", "shape": shape, "datatype": "FP32", "data": [1]});
        let mut inputs = vec![column(json!([4_294_967_297u64]))];
        for f in &FEATURE_NAMES[1..] {
            inputs.push(json!({"name": f, "shape": [1], "datatype": "FP32", "data": [1]}));
        }
        assert!(parse_infer(&json!({ "inputs": inputs }), 1000).is_err());
    }

    #[test]
    fn repeated_outputs_are_answered_once() {
        let outputs: Vec<Value> = (0..10_000)
            .map(|i| json!({"name": OUTPUTS[i % 2]}))
            .collect();
        let body = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": outputs});
        let request = parse_infer(&body, 10).unwrap();
        assert_eq!(request.outputs, ["probabilities", "label"]);
    }
}
