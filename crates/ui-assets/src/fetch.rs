//! The pinned wheel on disk: reused when a file with the pinned hash is there
//! already (no network), else fetched with `python3 -m pip download`.

use crate::pin::Pin;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wheel of `pin` in `dir`, downloaded there first if needed with `python`'s
/// pip. `requirement` is the pin file itself, handed to pip with `--require-hashes`.
pub fn ensure(pin: &Pin, requirement: &Path, dir: &Path, python: &str) -> Result<PathBuf> {
    if let Some(wheel) = find(pin, dir)? {
        return Ok(wheel);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "ui-assets: downloading {}=={} with {python} -m pip",
        pin.name, pin.version
    );
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
        ])
        .args(["--require-hashes", "--disable-pip-version-check", "--quiet"])
        // Only the wheel's static files are used: the interpreter fetching it need
        // not be one mlflow supports.
        .arg("--ignore-requires-python")
        .arg("-r")
        .arg(requirement)
        .arg("-d")
        .arg(dir)
        .status()
        .with_context(|| format!("cannot run {python} (set PYTHON to a Python 3 with pip)"))?;
    if !status.success() {
        bail!(
            "`{python} -m pip download` failed ({status}); it needs pip (Debian: apt-get install \
             python3-pip) and access to the package index once, to fetch the MLflow UI"
        );
    }
    find(pin, dir)?.with_context(|| {
        format!(
            "pip left no {}*.whl with sha256 {} in {}",
            pin.wheel_prefix(),
            pin.sha256,
            dir.display()
        )
    })
}

/// A wheel of the pinned version in `dir` whose content has the pinned hash (a
/// partial or foreign file of the same name is ignored, and pip replaces it).
fn find(pin: &Pin, dir: &Path) -> Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let prefix = pin.wheel_prefix();
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.to_ascii_lowercase().starts_with(&prefix)
            && name.ends_with(".whl")
            && sha256_file(&path)? == pin.sha256
        {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin_of(content: &[u8]) -> Pin {
        Pin {
            name: "mlflow".into(),
            version: "1.0".into(),
            sha256: hex(&Sha256::digest(content)),
        }
    }

    #[test]
    fn a_wheel_with_the_pinned_hash_is_reused_without_pip() {
        let dir = tempdir("reuse");
        std::fs::write(dir.join("mlflow-1.0-py3-none-any.whl"), b"wheel").unwrap();
        std::fs::write(dir.join("mlflow-0.9-py3-none-any.whl"), b"old").unwrap();
        // Reaching pip would fail the test.
        let found = ensure(
            &pin_of(b"wheel"),
            Path::new("unused.txt"),
            &dir,
            "/nonexistent/python",
        )
        .unwrap();
        assert!(found.ends_with("mlflow-1.0-py3-none-any.whl"));
    }

    #[test]
    fn a_wheel_with_another_hash_is_not_taken() {
        let dir = tempdir("mismatch");
        std::fs::write(dir.join("mlflow-1.0-py3-none-any.whl"), b"truncated").unwrap();
        assert_eq!(find(&pin_of(b"wheel"), &dir).unwrap(), None);
        assert_eq!(find(&pin_of(b"wheel"), &dir.join("absent")).unwrap(), None);
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ui-assets-fetch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
