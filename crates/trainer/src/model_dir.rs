//! The MLflow model directory of the Iris model, laid out as `mlflow.onnx.log_model`
//! writes it: `MLmodel` (flavors `onnx` and `python_function`, signature), `model.onnx`,
//! and the environment files `requirements.txt`, `conda.yaml`, `python_env.yaml`, so that
//! `mlflow.pyfunc.load_model` and `mlflow models serve` can use it.

use serde_json::{json, Value};

/// Python packages the model needs at inference time, pinned to the versions it was
/// verified with (mlflow writes the versions installed when a model is logged).
const PIP_REQUIREMENTS: &[&str] = &[
    "mlflow==3.17.2",
    "numpy==2.4.6",
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
];
const ONNX_VERSION: &str = "1.23.2";
const MLFLOW_VERSION: &str = "3.17.2";
const PYTHON_VERSION: &str = "3.11.7";
const PIP_VERSION: &str = "26.3";

/// One file of the model directory, by path relative to the directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub path: &'static str,
    pub bytes: Vec<u8>,
}

/// Where and by what the model is logged: written into `MLmodel`.
#[derive(Debug, Clone)]
pub struct ModelOrigin<'a> {
    /// The run that produced the model.
    pub run_id: &'a str,
    /// The MLflow 3 logged model id (`m-...`), when the server has logged models.
    pub model_id: Option<&'a str>,
    /// The artifact location of the model (MLflow 3 writes the logged model's location,
    /// MLflow 2 the path inside the run's artifacts).
    pub artifact_path: &'a str,
    /// Creation time as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    pub utc_time_created: String,
}

/// The files of the model directory for `onnx` (an ONNX file with the Iris model's
/// input and outputs).
pub fn model_directory(onnx: Vec<u8>, origin: &ModelOrigin<'_>) -> anyhow::Result<Vec<ModelFile>> {
    let requirements = PIP_REQUIREMENTS.join("\n") + "\n";
    let conda = yaml(&json!({
        "channels": ["conda-forge"],
        "dependencies": [
            format!("python={PYTHON_VERSION}"),
            format!("pip<={PIP_VERSION}"),
            { "pip": PIP_REQUIREMENTS },
        ],
        "name": "mlflow-env",
    }))?;
    // python_env.yaml keeps mlflow's key order (python first), so it is written by hand.
    let python_env = format!(
        "python: {PYTHON_VERSION}\nbuild_dependencies:\n- pip=={PIP_VERSION}\n- setuptools\n- wheel\n\
         dependencies:\n- -r requirements.txt\n"
    );
    let others_size = onnx.len() + requirements.len() + conda.len() + python_env.len();
    let mlmodel = yaml(&mlmodel(origin, others_size))?;
    Ok(vec![
        ModelFile {
            path: "MLmodel",
            bytes: mlmodel.into_bytes(),
        },
        ModelFile {
            path: "model.onnx",
            bytes: onnx,
        },
        ModelFile {
            path: "requirements.txt",
            bytes: requirements.into_bytes(),
        },
        ModelFile {
            path: "conda.yaml",
            bytes: conda.into_bytes(),
        },
        ModelFile {
            path: "python_env.yaml",
            bytes: python_env.into_bytes(),
        },
    ])
}

/// The `MLmodel` document. Keys are sorted (serde_json maps are), as PyYAML dumps them.
fn mlmodel(origin: &ModelOrigin<'_>, model_size_bytes: usize) -> Value {
    let model_uuid = match origin.model_id {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    json!({
        "artifact_path": origin.artifact_path,
        "flavors": {
            "onnx": {
                "code": null,
                "data": "model.onnx",
                "onnx_session_options": null,
                "onnx_version": ONNX_VERSION,
                "providers": ["CPUExecutionProvider"],
            },
            "python_function": {
                "data": "model.onnx",
                "env": { "conda": "conda.yaml", "virtualenv": "python_env.yaml" },
                "loader_module": "mlflow.onnx",
                "python_version": PYTHON_VERSION,
            },
        },
        "is_signature_from_type_hint": false,
        "mlflow_version": MLFLOW_VERSION,
        "model_id": origin.model_id,
        "model_size_bytes": model_size_bytes,
        "model_uuid": model_uuid,
        "prompts": null,
        "run_id": origin.run_id,
        "signature": signature(),
        "type_hint_from_example": false,
        "utc_time_created": origin.utc_time_created,
    })
}

/// The model signature: a float32 `[-1, 4]` tensor in, the class index and the class
/// probabilities out. The input tensor is unnamed (as mlflow infers it from an array),
/// so that pyfunc accepts a 4-column DataFrame or array.
fn signature() -> Value {
    let tensor = |name: Option<&str>, dtype: &str, shape: Vec<i64>| {
        let mut spec =
            json!({ "type": "tensor", "tensor-spec": { "dtype": dtype, "shape": shape } });
        if let Some(name) = name {
            spec["name"] = json!(name);
        }
        spec
    };
    let n_features = iris_model::N_FEATURES as i64;
    let n_classes = iris_model::N_CLASSES as i64;
    let inputs = json!([tensor(None, "float32", vec![-1, n_features])]);
    let outputs = json!([
        tensor(Some(iris_model::ONNX_LABEL), "int64", vec![-1]),
        tensor(
            Some(iris_model::ONNX_PROBABILITIES),
            "float32",
            vec![-1, n_classes]
        ),
    ]);
    // MLflow stores each schema as a JSON string inside the YAML.
    json!({ "inputs": inputs.to_string(), "outputs": outputs.to_string(), "params": null })
}

fn yaml(value: &Value) -> anyhow::Result<String> {
    Ok(serde_yaml_ng::to_string(value)?)
}

/// The current UTC time in MLflow's `utc_time_created` format.
pub fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs() as i64, now.subsec_micros())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` for a Unix time (proleptic Gregorian calendar).
fn format_utc(secs: i64, micros: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micros:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's civil calendar
/// algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> ModelOrigin<'static> {
        ModelOrigin {
            run_id: "0123456789abcdef0123456789abcdef",
            model_id: Some("m-0123456789abcdef0123456789abcdef"),
            artifact_path:
                "mlflow-artifacts:/1/models/m-0123456789abcdef0123456789abcdef/artifacts",
            utc_time_created: format_utc(0, 0),
        }
    }

    #[test]
    fn the_directory_has_the_files_mlflow_writes() {
        let files = model_directory(vec![1, 2, 3], &origin()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.path).collect();
        assert_eq!(
            names,
            [
                "MLmodel",
                "model.onnx",
                "requirements.txt",
                "conda.yaml",
                "python_env.yaml"
            ]
        );
        assert_eq!(files[1].bytes, [1, 2, 3]);
        let requirements = String::from_utf8(files[2].bytes.clone()).unwrap();
        assert!(requirements.lines().any(|l| l.starts_with("onnxruntime==")));
    }

    #[test]
    fn mlmodel_declares_both_flavors_and_a_tensor_signature() {
        let files = model_directory(vec![0; 10], &origin()).unwrap();
        let doc: Value = serde_yaml_ng::from_slice(&files[0].bytes).unwrap();
        assert_eq!(
            doc["flavors"]["python_function"]["loader_module"],
            "mlflow.onnx"
        );
        assert_eq!(doc["flavors"]["onnx"]["data"], "model.onnx");
        assert_eq!(doc["model_id"], "m-0123456789abcdef0123456789abcdef");
        assert_eq!(doc["run_id"], "0123456789abcdef0123456789abcdef");
        let inputs: Value =
            serde_json::from_str(doc["signature"]["inputs"].as_str().unwrap()).unwrap();
        assert_eq!(inputs[0]["tensor-spec"]["shape"], json!([-1, 4]));
        let outputs: Value =
            serde_json::from_str(doc["signature"]["outputs"].as_str().unwrap()).unwrap();
        assert_eq!(outputs[0]["name"], iris_model::ONNX_LABEL);
        assert_eq!(outputs[1]["tensor-spec"]["shape"], json!([-1, 3]));
        assert_eq!(doc["utc_time_created"], "1970-01-01 00:00:00.000000");
    }

    #[test]
    fn without_a_logged_model_the_uuid_is_fresh_and_model_id_null() {
        let origin = ModelOrigin {
            model_id: None,
            ..origin()
        };
        let files = model_directory(vec![], &origin).unwrap();
        let doc: Value = serde_yaml_ng::from_slice(&files[0].bytes).unwrap();
        assert!(doc["model_id"].is_null());
        assert_eq!(doc["model_uuid"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn utc_times_are_formatted_like_mlflow() {
        assert_eq!(format_utc(1_700_000_000, 42), "2023-11-14 22:13:20.000042");
        assert_eq!(format_utc(951_782_400, 0), "2000-02-29 00:00:00.000000");
    }
}
