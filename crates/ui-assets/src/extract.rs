//! The UI build out of the wheel: every file under `mlflow/server/js/build/`, with
//! its path relative to that directory, refused if it could land outside the site
//! or clash with what this tool adds beside it.

use anyhow::{bail, ensure, Context, Result};
use std::io::Read;
use std::path::Path;

/// Where MLflow's wheel keeps the built UI (what its Flask server serves).
pub const UI_DIR: &str = "mlflow/server/js/build/";

/// More than ten times what MLflow 3.17's UI holds: a bound against a broken wheel.
const MAX_TOTAL: u64 = 512 << 20;

pub struct UiFile {
    /// Relative to the site root, `/`-separated.
    pub path: String,
    pub data: Vec<u8>,
}

pub fn ui_files(wheel: &Path) -> Result<Vec<UiFile>> {
    let file =
        std::fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel (zip)", wheel.display()))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name().context("a wheel entry's name")?.into_owned();
        let Some(path) = name.strip_prefix(UI_DIR).map(str::to_string) else {
            continue;
        };
        if entry.is_dir() || path.is_empty() {
            continue;
        }
        check_path(&path)?;
        if path.split('/').any(|s| s.starts_with('.')) {
            // Dotfiles are never served (the site's manifest is one).
            continue;
        }
        let size = entry.size();
        total += size;
        ensure!(
            total <= MAX_TOTAL,
            "the UI in {} exceeds {MAX_TOTAL} bytes",
            wheel.display()
        );
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // One byte over the declared size is enough to tell a lying entry.
        (&mut entry).take(size + 1).read_to_end(&mut data)?;
        ensure!(
            data.len() as u64 == size,
            "{path}: size differs from the zip directory"
        );
        files.push(UiFile { path, data });
    }
    ensure!(
        files.iter().any(|f| f.path == "index.html"),
        "{} has no {UI_DIR}index.html: not a wheel with the MLflow UI",
        wheel.display()
    );
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A path is kept only if each segment is a plain name: no `..`, backslash or
/// control character (the manifest is tab- and line-separated), and no name this
/// tool writes itself (`.br`/`.gz` variants).
fn check_path(path: &str) -> Result<()> {
    for segment in path.split('/') {
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.contains(|c: char| c == '\\' || c.is_control())
        {
            bail!("unsafe path in the wheel: {path:?}");
        }
    }
    if path.ends_with(".br") || path.ends_with(".gz") {
        bail!("{path:?} would clash with the pre-compressed variants this tool writes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub fn wheel(dir: &Path, entries: &[(&str, &[u8])]) -> std::path::PathBuf {
        let path = dir.join("test-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, data) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ui-assets-extract-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_the_ui_build_is_taken() {
        let dir = tempdir("only");
        let w = wheel(
            &dir,
            &[
                ("mlflow/__init__.py", b"x"),
                ("mlflow/server/js/build/index.html", b"<html>"),
                ("mlflow/server/js/build/static/js/a.1234abcd.js", b"js"),
                ("mlflow/server/js/build/.DS_Store", b"junk"),
                ("mlflow/server/js/src/index.js", b"src"),
            ],
        );
        let files = ui_files(&w).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["index.html", "static/js/a.1234abcd.js"]);
        assert_eq!(files[0].data, b"<html>");
    }

    #[test]
    fn unsafe_or_clashing_names_and_missing_index_are_refused() {
        for bad in [
            "../evil",
            "a/../../evil",
            "a\\b",
            "a\tb",
            "x.js.br",
            "x.js.gz",
        ] {
            let dir = tempdir("bad");
            let name = format!("mlflow/server/js/build/{bad}");
            let w = wheel(
                &dir,
                &[
                    ("mlflow/server/js/build/index.html", b"<html>"),
                    (&name, b"x"),
                ],
            );
            assert!(ui_files(&w).is_err(), "{bad}");
        }
        let dir = tempdir("noindex");
        let w = wheel(&dir, &[("mlflow/server/js/build/a.js", b"x")]);
        assert!(ui_files(&w).is_err());
        std::fs::write(dir.join("not.whl"), b"not a zip").unwrap();
        assert!(ui_files(&dir.join("not.whl")).is_err());
    }
}
