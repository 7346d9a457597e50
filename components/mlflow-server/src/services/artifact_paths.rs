//! Artifact path safety, as MLflow's `validate_path_is_safe`, and where paths lead: decode first, then refuse
//! `..` segments, absolute and drive-letter paths, backslashes, `#` and NUL.

use crate::error::{ApiResult, MlflowError};

/// Decodes and checks a relative artifact path; returns it normalised (no empty or `.`
/// segments, no trailing slash). The empty path is the root.
pub fn safe_path(raw: &str) -> ApiResult<String> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| invalid(raw))?;
    let p = decoded.as_ref();
    if p.starts_with('/') || p.contains('\\') || p.contains('#') || p.contains('\0') {
        return Err(invalid(raw));
    }
    let mut parts = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(invalid(raw)),
            s => parts.push(s),
        }
    }
    let normal = parts.join("/");
    // On the normalised path: `./C:/x` must not become the drive path `C:/x`.
    if has_drive(&normal) {
        return Err(invalid(raw));
    }
    Ok(normal)
}

/// `C:...`: a Windows drive (absolute, or relative to that drive's directory).
fn has_drive(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic()
}

fn invalid(raw: &str) -> MlflowError {
    MlflowError::invalid(format!("Invalid path: {raw}"))
}

/// A query value taken as a literal path (already decoded: a `%` in it is a `%`).
pub fn literal_path(raw: &str) -> ApiResult<String> {
    safe_path(&raw.replace('%', "%25"))
}

/// `base/rel`, either side possibly empty.
pub fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

/// The store path of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/abc/artifacts` or
/// with an authority, `mlflow-artifacts://host/1/abc/artifacts`).
pub fn from_artifact_uri(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => rest.trim_start_matches('/'),
    };
    safe_path(rest).ok()
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_and_unsafe_paths() {
        assert_eq!(
            safe_path("1/r/artifacts/a%20b.txt").unwrap(),
            "1/r/artifacts/a b.txt"
        );
        assert_eq!(safe_path("a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(safe_path("").unwrap(), "");
        for bad in [
            "../x",
            "a/../../b",
            "a/%2e%2e/b",
            "/etc/passwd",
            "%2Fetc",
            "C:/x",
            "c:x",
            "a\\b",
            "a%5Cb",
            "a#b",
            "a%00b",
            "..",
            "./C:/x",
            "%2e%2fc:",
        ] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn artifact_uris() {
        assert_eq!(
            from_artifact_uri("mlflow-artifacts:/1/r/artifacts").unwrap(),
            "1/r/artifacts"
        );
        assert_eq!(
            from_artifact_uri("mlflow-artifacts://h:5000/1/r/artifacts").unwrap(),
            "1/r/artifacts"
        );
        assert!(from_artifact_uri("s3://b/1").is_none());
        assert_eq!(join("a", ""), "a");
        assert_eq!(join("", "b"), "b");
        assert_eq!(join("a", "b"), "a/b");
    }
}
