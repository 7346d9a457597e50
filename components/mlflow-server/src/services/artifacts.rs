//! Artifacts: the proxied store's files (list, download, upload, delete, and the
//! piece-by-piece forms the Spin entry point streams with), the listings of a run's or a
//! logged model's artifacts, and the web UI's files of runs, model versions and logged
//! models. Every path is checked by `artifact_paths` before it reaches the
//! [`ArtifactStore`] that holds the bytes (the database or S3), and an owner's files are
//! found under its `mlflow-artifacts:` root.

use super::artifact_paths::{from_artifact_uri, join, literal_path, safe_path};
use super::{logged_models, model_versions, runs};
use crate::error::{ApiResult, MlflowError};
use crate::store::artifact_store::{ArtifactReader, ArtifactStore, ArtifactWriter};
use crate::store::db::Db;
use mlflow_wire::tracking::{FileInfo, ListArtifactsResponse};

/// Immediate children of `dir`, each named `prefix/<basename>` (or just the basename when
/// `prefix` is empty). A file path or a missing directory lists as empty.
pub fn list(files: &dyn ArtifactStore, dir: &str, prefix: &str) -> ApiResult<Vec<FileInfo>> {
    Ok(files
        .children(dir)?
        .into_iter()
        .map(|(name, size)| FileInfo {
            path: join(prefix, &name),
            is_dir: size.is_none(),
            // MLflow lists an empty file without a size.
            file_size: size.filter(|s| *s > 0),
        })
        .collect())
}

/// The proxy's listing of a directory given as a (decoded) query value.
pub fn list_proxied(files: &dyn ArtifactStore, raw: &str) -> ApiResult<Vec<FileInfo>> {
    let dir = literal_path(raw)?;
    list(files, &dir, "")
}

/// A whole file of the proxy (the buffered form of a download): its store path and
/// bytes.
pub fn download(files: &dyn ArtifactStore, raw: &str) -> ApiResult<(String, Vec<u8>)> {
    let path = safe_path(raw)?;
    let bytes = files
        .get(&path)?
        .ok_or_else(|| MlflowError::not_found(format!("File not found: {path}")))?;
    Ok((path, bytes))
}

/// A file path to write: a checked path that names a file, not the root.
fn file_path(raw: &str) -> ApiResult<String> {
    let path = safe_path(raw)?;
    if path.is_empty() {
        return Err(MlflowError::invalid(
            "Invalid path: an artifact needs a file name",
        ));
    }
    Ok(path)
}

/// Stores a buffered body as the proxy's file `raw`.
pub fn upload(files: &dyn ArtifactStore, raw: &str, body: &[u8]) -> ApiResult<()> {
    files.put(&file_path(raw)?, body)
}

/// Deletes the proxy's file or directory `raw`.
pub fn delete(files: &dyn ArtifactStore, raw: &str) -> ApiResult<()> {
    let path = safe_path(raw)?;
    files.delete(&path)
}

/// Starts a streamed upload to the proxy's file `raw`: its store path and writer.
pub fn begin_upload<'f>(
    files: &'f dyn ArtifactStore,
    raw: &str,
) -> ApiResult<(String, Box<dyn ArtifactWriter + 'f>)> {
    let path = file_path(raw)?;
    let writer = files.create(&path)?;
    Ok((path, writer))
}

/// Opens the proxy's file `raw` for a streamed download.
pub fn open_proxied<'f>(
    files: &'f dyn ArtifactStore,
    raw: &str,
) -> ApiResult<(String, Box<dyn ArtifactReader + 'f>)> {
    let path = safe_path(raw)?;
    let file = files
        .open(&path)?
        .ok_or_else(|| MlflowError::not_found(format!("File not found: {path}")))?;
    Ok((path, file))
}

/// The store path of an artifact root URI this server serves.
fn served_root(uri: &str, owner: &str) -> ApiResult<String> {
    from_artifact_uri(uri).ok_or_else(|| {
        MlflowError::invalid(format!(
            "The artifacts of {owner} are not served by this server ({uri})"
        ))
    })
}

fn run_root(db: &dyn Db, run_id: &str) -> ApiResult<String> {
    let info = runs::get_run_info(db, run_id)?;
    served_root(&info.artifact_uri, &format!("run {run_id}"))
}

/// `artifacts/list`: a run-relative listing of a run's artifacts (`path` is a decoded
/// query value).
pub fn list_run_artifacts(
    db: &dyn Db,
    files: &dyn ArtifactStore,
    run_id: &str,
    path: &str,
) -> ApiResult<ListArtifactsResponse> {
    let info = runs::get_run_info(db, run_id)?;
    let rel = literal_path(path)?;
    let root = from_artifact_uri(&info.artifact_uri).ok_or_else(|| {
        MlflowError::invalid(format!(
            "The artifacts of run {run_id} are not served by this server ({})",
            info.artifact_uri
        ))
    })?;
    Ok(ListArtifactsResponse {
        files: list(files, &join(&root, &rel), &rel)?,
        root_uri: Some(info.artifact_uri),
        next_page_token: None,
    })
}

/// A directory of a logged model's artifacts (paths relative to the model root).
pub fn list_logged_model_artifacts(
    db: &dyn Db,
    files: &dyn ArtifactStore,
    model_id: &str,
    directory: &str,
) -> ApiResult<ListArtifactsResponse> {
    let model = logged_models::get(db, model_id, false)?;
    let relative = safe_path(directory)?;
    let root = from_artifact_uri(&model.info.artifact_uri).ok_or_else(|| {
        MlflowError::invalid(format!(
            "The artifacts of model {} are not served by this server ({})",
            model.info.model_id, model.info.artifact_uri
        ))
    })?;
    Ok(ListArtifactsResponse {
        files: list(files, &join(&root, &relative), &relative)?,
        root_uri: Some(model.info.artifact_uri),
        next_page_token: None,
    })
}

/// The store path of file `rel` (checked) of a run.
pub fn run_file(db: &dyn Db, run_id: &str, rel: &str) -> ApiResult<String> {
    Ok(join(&run_root(db, run_id)?, rel))
}

/// The store path of file `rel` (checked) of a registered model version.
pub fn model_version_file(db: &dyn Db, name: &str, version: i64, rel: &str) -> ApiResult<String> {
    let uri = model_versions::download_uri(db, name, version)?;
    let root = served_root(&uri, &format!("model version {name}/{version}"))?;
    Ok(join(&root, rel))
}

/// The store path of file `rel` (checked) of a logged model.
pub fn logged_model_file(db: &dyn Db, model_id: &str, rel: &str) -> ApiResult<String> {
    let model = logged_models::get(db, model_id, false)?;
    let root = served_root(&model.info.artifact_uri, &format!("model {model_id}"))?;
    Ok(join(&root, rel))
}

/// Opens a file, telling a directory (400) from a missing file (404) as MLflow does.
pub fn open_file<'f>(
    files: &'f dyn ArtifactStore,
    path: String,
) -> ApiResult<(String, Box<dyn ArtifactReader + 'f>)> {
    match files.open(&path)? {
        Some(file) => Ok((path, file)),
        None if files.is_dir(&path)? => Err(MlflowError::invalid(format!(
            "Artifact path refers to a directory, not a file: '{path}'"
        ))),
        None => Err(MlflowError::not_found(format!(
            "No such artifact: '{path}'"
        ))),
    }
}

/// The rest of an opened file, in memory (the buffered form of a UI download).
pub fn read_all(mut file: Box<dyn ArtifactReader + '_>) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
    while let Some(piece) = file.next_piece()? {
        bytes.extend(piece);
    }
    Ok(bytes)
}

/// The web UI's upload: `body` becomes file `rel` (checked) of the run.
pub fn upload_run_file(
    db: &dyn Db,
    files: &dyn ArtifactStore,
    run_id: &str,
    rel: &str,
    body: &[u8],
) -> ApiResult<()> {
    let root = run_root(db, run_id)?;
    files.put(&join(&root, rel), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::artifacts::{begin_upload, commit_upload, put};
    use crate::store::database_artifacts::DatabaseArtifacts;
    use crate::store::testing;

    #[test]
    fn listing_and_delete() {
        let db = testing::db();
        let files = DatabaseArtifacts(&db);
        put(&db, "1/r/artifacts/a.txt", b"a").unwrap();
        put(&db, "1/r/artifacts/empty", b"").unwrap();
        put(&db, "1/r/artifacts/dir/b.txt", b"bb").unwrap();
        put(&db, "1/r/artifacts/dir/sub/c.txt", b"ccc").unwrap();
        put(&db, "1/r/artifacts0/other", b"x").unwrap();
        let root = list(&files, "1/r/artifacts", "").unwrap();
        let names: Vec<_> = root
            .iter()
            .map(|f| (f.path.as_str(), f.is_dir, f.file_size))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a.txt", false, Some(1)),
                ("dir", true, None),
                ("empty", false, None)
            ]
        );
        let sub = list(&files, "1/r/artifacts/dir", "dir").unwrap();
        assert_eq!(sub[0].path, "dir/b.txt");
        assert_eq!(sub[1].path, "dir/sub");
        assert!(list(&files, "1/r/artifacts/a.txt", "").unwrap().is_empty());
        assert!(commit_upload(&db, "1/r/artifacts/dir", begin_upload(&db).unwrap(), 0).is_err());
        files.delete("1/r/artifacts/dir").unwrap();
        assert_eq!(list(&files, "1/r/artifacts", "").unwrap().len(), 2);
        assert!(files.get("1/r/artifacts0/other").unwrap().is_some());
    }
}
