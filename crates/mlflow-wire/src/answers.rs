//! What a client that fetches a model reads from the registry's and the tracking
//! server's answers: only the fields it uses (unknown fields are ignored).
//!
//! The full entities ([`crate::registry::ModelVersion`], [`crate::tracking::Run`],
//! [`crate::logged_models::LoggedModel`]) would read the same answers, but their
//! deserializers would put code for fields that resolution never looks at into a wasm
//! component (iris-api).

use crate::lenient::string;
use serde::Deserialize;

/// A model version's number (a string in MLflow; some servers send a number).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct VersionNumber {
    #[serde(default, deserialize_with = "string")]
    pub version: String,
}

/// Answer of `registered-models/alias` and `model-versions/get`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct VersionAnswer {
    pub model_version: VersionNumber,
}

/// Answer of `registered-models/get-latest-versions`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct LatestVersionsAnswer {
    #[serde(default)]
    pub model_versions: Vec<VersionNumber>,
}

/// Where an entity's artifacts are (`info` of a run or of a logged model).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct ArtifactLocation {
    #[serde(default)]
    pub artifact_uri: String,
    /// A logged model's name; runs have none here.
    #[serde(default)]
    pub name: String,
}

/// `{"info": ...}` of a run or a logged model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct EntityInfo {
    pub info: ArtifactLocation,
}

/// Answer of `runs/get`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct RunAnswer {
    pub run: EntityInfo,
}

/// Answer of `logged-models/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct LoggedModelAnswer {
    pub model: EntityInfo,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logged_models::LoggedModelResponse;
    use crate::registry::ModelVersionResponse;

    /// The server's full answers read as the client's views.
    #[test]
    fn full_answers_read_as_views() {
        let full = ModelVersionResponse {
            model_version: crate::registry::ModelVersion {
                name: "iris".into(),
                version: "3".into(),
                current_stage: Some("None".into()),
                ..Default::default()
            },
        };
        let view: VersionAnswer =
            serde_json::from_value(serde_json::to_value(&full).unwrap()).unwrap();
        assert_eq!(view.model_version.version, "3");
        let mut model = LoggedModelResponse::default();
        model.model.info.name = "clf".into();
        model.model.info.artifact_uri = "mlflow-artifacts:/1/models/m-1/artifacts".into();
        let view: LoggedModelAnswer =
            serde_json::from_value(serde_json::to_value(&model).unwrap()).unwrap();
        assert_eq!(view.model.info.name, "clf");
        assert_eq!(view.model.info.artifact_uri, model.model.info.artifact_uri);
        let numeric: VersionAnswer =
            serde_json::from_str(r#"{"model_version":{"version":7}}"#).unwrap();
        assert_eq!(numeric.model_version.version, "7");
    }
}
