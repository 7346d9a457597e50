//! The ONNX file of a model's artifacts, and its download through the artifact proxy.

use crate::client::MlflowClient;
use crate::error::RegistryError;
use crate::http::HttpClient;
use mlflow_wire::tracking::{FileInfo, ListArtifactsResponse};

/// The ONNX file among a directory's entries: `model.onnx`, else the only `*.onnx`
/// file. `Err` carries the names seen, for the message.
pub fn pick_onnx(files: &[FileInfo]) -> Result<&str, OnnxChoice> {
    let names: Vec<&str> = files
        .iter()
        .filter(|f| !f.is_dir)
        .map(|f| f.path.rsplit('/').next().unwrap_or(&f.path))
        .collect();
    let onnx: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.ends_with(".onnx"))
        .collect();
    if onnx.contains(&"model.onnx") {
        return Ok("model.onnx");
    }
    match onnx.as_slice() {
        [only] => Ok(only),
        [] => Err(OnnxChoice::None(
            names.iter().map(|n| n.to_string()).collect(),
        )),
        many => Err(OnnxChoice::Several(
            many.iter().map(|n| n.to_string()).collect(),
        )),
    }
}

/// Why no ONNX file could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnnxChoice {
    /// No `.onnx` file; the file names present.
    None(Vec<String>),
    /// Several `.onnx` files and none is `model.onnx`.
    Several(Vec<String>),
}

impl<H: HttpClient> MlflowClient<'_, H> {
    /// Downloads the ONNX file at `artifact_uri` (a directory holding `model.onnx` or a
    /// single other `*.onnx`, or the file itself), at most `limit` bytes of it.
    pub async fn download_onnx(
        &self,
        artifact_uri: &str,
        limit: usize,
    ) -> Result<Vec<u8>, RegistryError> {
        let dir_or_file = self.server.artifact_path(artifact_uri)?;
        let file = if dir_or_file.as_str().ends_with(".onnx") {
            dir_or_file
        } else {
            let listing_url = self.server.listing_url(&dir_or_file);
            let listing: ListArtifactsResponse = self.json(listing_url, None).await?.decode()?;
            let name = pick_onnx(&listing.files).map_err(|why| {
                RegistryError::Invalid(match why {
                    OnnxChoice::None(names) => {
                        format!("no .onnx file in {artifact_uri} (found {names:?})")
                    }
                    OnnxChoice::Several(names) => {
                        format!(
                            "several .onnx files in {artifact_uri} and no model.onnx: {names:?}"
                        )
                    }
                })
            })?;
            dir_or_file.join(name)?
        };
        let url = self.server.artifact_url(&file);
        self.bytes(&url, limit).await.map_err(|e| match e {
            RegistryError::NotFound(_) => {
                RegistryError::NotFound(format!("artifact {} is missing", file.as_str()))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, bool)]) -> Vec<FileInfo> {
        entries
            .iter()
            .map(|(path, is_dir)| FileInfo {
                path: path.to_string(),
                is_dir: *is_dir,
                file_size: None,
            })
            .collect()
    }

    #[test]
    fn model_onnx_wins_else_the_only_onnx() {
        let both = files(&[
            ("d/a.onnx", false),
            ("d/model.onnx", false),
            ("MLmodel", false),
        ]);
        assert_eq!(pick_onnx(&both), Ok("model.onnx"));
        let one = files(&[("d/iris.onnx", false), ("d/x.onnx", true)]);
        assert_eq!(pick_onnx(&one), Ok("iris.onnx"));
    }

    #[test]
    fn none_or_several_onnx_files_are_errors() {
        let none = files(&[("MLmodel", false)]);
        assert_eq!(
            pick_onnx(&none),
            Err(OnnxChoice::None(vec!["MLmodel".into()]))
        );
        let two = files(&[("a.onnx", false), ("b.onnx", false)]);
        assert_eq!(
            pick_onnx(&two),
            Err(OnnxChoice::Several(vec!["a.onnx".into(), "b.onnx".into()]))
        );
    }
}
