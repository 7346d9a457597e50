//! The TOML the harness writes and reads: copies of a spin.toml that can live anywhere
//! (sources made absolute, one component's replaced), the check that another checkout's
//! app is built (every local file its spin.toml serves is there), the Wasmtime cache
//! config of `spin up`, and the string quoting they share.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the Wasmtime cache config (`spin up --cache FILE`) that keeps compiled code
/// in `dir`, as `<dir>.toml`, and returns its path.
pub fn spin_cache_config(dir: &Path) -> Result<PathBuf> {
    let file = dir.with_extension("toml");
    if let Some(parent) = file.parent() {
        fs::create_dir_all(parent)?;
    }
    let text = format!(
        "[cache]\ndirectory = {}\n",
        toml_string(&dir.display().to_string())
    );
    fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// The section a `[header]` line opens (`component.iris-api.build`), if it is one.
fn section_of(trimmed: &str) -> Option<String> {
    let rest = trimmed.strip_prefix('[')?;
    Some(
        rest.split(']')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
    )
}

/// The path of a `source = "path"` line (not of a `{ url = ... }` table).
fn source_value(trimmed: &str) -> Option<&str> {
    trimmed
        .strip_prefix("source")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('='))
        .map(str::trim)
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
}

/// The `{ source = "..." }` paths of a `files = [...]` line.
fn mount_sources(line: &str) -> Vec<&str> {
    line.split("source = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The local files `manifest` (the text of a spin.toml in `dir`) serves, resolved
/// against `dir`: each component's `source` and the `source` of each of its `files`
/// mounts. URLs are left out.
pub fn local_sources(manifest: &str, dir: &Path) -> Vec<PathBuf> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if let Some(s) = section_of(trimmed) {
            section = s;
        }
        if !section.starts_with("component.") || section.ends_with(".build") {
            continue;
        }
        let paths = if trimmed.starts_with("files") {
            mount_sources(trimmed)
        } else {
            source_value(trimmed).into_iter().collect()
        };
        out.extend(
            paths
                .into_iter()
                .filter(|p| !p.contains("://"))
                .map(|p| dir.join(p)),
        );
    }
    out
}

/// The local `source` of `[component.<id>]` in `manifest` (the text of a spin.toml in
/// `dir`), resolved against `dir`.
pub fn component_source(manifest: &str, dir: &Path, id: &str) -> Option<PathBuf> {
    let target = format!("component.{id}");
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if let Some(s) = section_of(trimmed) {
            section = s;
        }
        if section == target {
            if let Some(path) = source_value(trimmed).filter(|p| !p.contains("://")) {
                return Some(dir.join(path));
            }
        }
    }
    None
}

/// The manifest of another checkout of this app (`--baseline-app DIR`), served as it
/// is: `DIR/spin.toml`, once every local file it serves is there (its components are
/// built), else an error naming what is missing.
pub fn built_app_manifest(dir: &Path) -> Result<PathBuf> {
    let manifest = dir.join("spin.toml");
    let text =
        fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let missing: Vec<String> = local_sources(&text, dir)
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    ensure!(
        missing.is_empty(),
        "{} is not built: missing {}",
        dir.display(),
        missing.join(", ")
    );
    Ok(manifest)
}

/// Links each relative `files` mount source (`{ source = "dir", ... }`) of `manifest` (the text of a spin.toml in
/// `dir`) at the same relative path under `copy_dir`, so that a copy of the manifest in
/// `copy_dir` mounts the app's files: a mount must lie within the directory of the
/// manifest that names it (Spin refuses one outside), so it cannot be made absolute.
pub fn link_file_mounts(manifest: &str, dir: &Path, copy_dir: &Path) -> Result<()> {
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if let Some(s) = section_of(trimmed) {
            section = s;
        }
        if !section.starts_with("component.") || !trimmed.starts_with("files") {
            continue;
        }
        for source in mount_sources(trimmed) {
            let relative = Path::new(source);
            if relative.is_absolute() || source.contains("://") {
                continue;
            }
            let link = copy_dir.join(relative);
            if let Some(parent) = link.parent() {
                fs::create_dir_all(parent)?;
            }
            if fs::symlink_metadata(&link).is_ok() {
                fs::remove_file(&link)?;
            }
            std::os::unix::fs::symlink(dir.join(relative), &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(())
}

/// `manifest` (the text of a spin.toml in `dir`) with every component `source` made
/// absolute, `component`'s replaced by `wasm`, and the build sections dropped: a copy
/// that serves `wasm` in place of the built component from any directory where
/// [`link_file_mounts`] has linked its `files` mounts.
pub fn rewrite_manifest(
    manifest: &str,
    dir: &Path,
    component: &str,
    wasm: &Path,
) -> Result<String> {
    let target = format!("component.{component}");
    let mut replaced = false;
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if let Some(s) = section_of(trimmed) {
            section = s;
        }
        let in_build = section.starts_with("component.") && section.ends_with(".build");
        if in_build {
            continue;
        }
        match source_value(trimmed) {
            Some(_) if section == target => {
                replaced = true;
                out.push_str(&format!(
                    "source = {}\n",
                    toml_string(&wasm.display().to_string())
                ));
            }
            Some(path) if section.starts_with("component.") && !path.contains("://") => {
                let absolute = dir.join(path);
                out.push_str(&format!(
                    "source = {}\n",
                    toml_string(&absolute.display().to_string())
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    anyhow::ensure!(
        replaced,
        "no `source = \"...\"` of [component.{component}] to replace"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_source_is_found_in_its_own_section() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = fs::read_to_string(repo.join("spin.toml")).unwrap();
        assert_eq!(
            component_source(&text, repo, "iris-api"),
            Some(repo.join("target/wasm32-wasip2/wasm-release/iris_api.preinit.wasm"))
        );
        assert_eq!(component_source(&text, repo, "nope"), None);
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("/a b/c"), "\"/a b/c\"");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn spin_cache_config_names_its_directory() {
        let dir = std::env::temp_dir().join(format!("bench-spin-cache-{}", std::process::id()));
        let file = spin_cache_config(&dir).unwrap();
        assert_eq!(file, dir.with_extension("toml"));
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            format!("[cache]\ndirectory = \"{}\"\n", dir.display())
        );
        fs::remove_file(file).unwrap();
    }

    #[test]
    fn baked_manifest_copy_serves_the_baked_component_from_anywhere() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = std::fs::read_to_string(repo.join("spin.toml")).unwrap();
        let baked = Path::new("/work dir/iris_api.baked.wasm");
        let copy = rewrite_manifest(&text, repo, "iris-api", baked).unwrap();

        let sources: Vec<&str> = copy
            .lines()
            .filter(|l| l.trim_start().starts_with("source"))
            .collect();
        assert_eq!(sources.len(), 3, "{copy}");
        assert!(
            copy.contains("files = [{ source = \"target/mlflow-ui/site\", destination = \"/\" }]"),
            "the UI's files mount is not kept as it is:\n{copy}"
        );
        let mlflow = repo.join("target/wasm32-wasip2/wasm-release/mlflow_server.wasm");
        assert!(
            sources.contains(&format!("source = \"{}\"", mlflow.display()).as_str()),
            "{sources:?}"
        );
        assert!(sources.contains(&"source = \"/work dir/iris_api.baked.wasm\""));
        // No build steps; everything else (routes, variables, stores) kept.
        assert!(!copy.contains(".build]") && !copy.contains("command ="));
        for kept in [
            "[component.iris-api.variables]",
            "route = \"/predict\"",
            "key_value_stores = [\"default\"]",
            "sqlite_databases = [\"default\"]",
        ] {
            assert!(copy.contains(kept), "lost {kept}:\n{copy}");
        }
    }

    #[test]
    fn file_mounts_are_linked_beside_a_copy() {
        let text = "[component.ui]\nsource = \"ui.wasm\"\nfiles = [{ source = \"site/dist\", destination = \"/\" }, { source = \"/abs\", destination = \"/x\" }]\n";
        let copy_dir = std::env::temp_dir().join(format!("bench-mounts-{}", std::process::id()));
        let app = Path::new("/app dir");
        link_file_mounts(text, app, &copy_dir).unwrap();
        // Linking again (another repetition) replaces the link.
        link_file_mounts(text, app, &copy_dir).unwrap();
        let link = copy_dir.join("site/dist");
        assert_eq!(fs::read_link(&link).unwrap(), app.join("site/dist"));
        assert!(fs::symlink_metadata(copy_dir.join("abs")).is_err());
        fs::remove_dir_all(copy_dir).unwrap();
    }

    #[test]
    fn local_sources_are_the_components_and_their_mounts() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = fs::read_to_string(repo.join("spin.toml")).unwrap();
        let wasm = repo.join("target/wasm32-wasip2/wasm-release");
        let want = [
            wasm.join("mlflow_server.wasm"),
            wasm.join("iris_api.preinit.wasm"),
            wasm.join("mlflow_ui.wasm"),
            repo.join("target/mlflow-ui/site"),
        ];
        let got = local_sources(&text, repo);
        assert!(want.iter().all(|w| got.contains(w)), "{got:?}");
        assert_eq!(got.len(), want.len(), "{got:?}");

        let text = "[component.a]\nsource = \"a.wasm\"\n\
                    files = [{ source = \"site\", destination = \"/\" }, \"static/*\"]\n\
                    [component.a.build]\ncommand = \"x\"\nsource = \"not-served\"\n\
                    [component.b]\nsource = { url = \"https://x/b.wasm\", digest = \"sha256:0\" }\n\
                    [component.c]\nsource = \"https://x/c.wasm\"\n";
        assert_eq!(
            local_sources(text, Path::new("/app")),
            [PathBuf::from("/app/a.wasm"), PathBuf::from("/app/site")]
        );
    }

    #[test]
    fn a_baseline_app_must_be_built() {
        let dir = std::env::temp_dir().join(format!("bench-baseline-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert!(built_app_manifest(&dir).is_err(), "no spin.toml");
        fs::write(
            dir.join("spin.toml"),
            "[component.a]\nsource = \"t/a.wasm\"\nfiles = [{ source = \"site\", destination = \"/\" }]\n",
        )
        .unwrap();
        let err = built_app_manifest(&dir).unwrap_err().to_string();
        assert!(
            err.contains("is not built") && err.contains("t/a.wasm"),
            "{err}"
        );
        assert!(err.contains("site"), "{err}");
        fs::create_dir_all(dir.join("t")).unwrap();
        fs::create_dir_all(dir.join("site")).unwrap();
        fs::write(dir.join("t/a.wasm"), b"").unwrap();
        assert_eq!(built_app_manifest(&dir).unwrap(), dir.join("spin.toml"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rewrite_makes_paths_absolute_and_keeps_urls() {
        let text = "[component.a]\nsource = \"a.wasm\"\n[component.a.build]\ncommand = \"x\"\n\
                    [component.b]\nsource = { url = \"https://x/b.wasm\", digest = \"sha256:0\" }\n\
                    [component.c]\nsource = \"https://x/c.wasm\"\n";
        let copy = rewrite_manifest(text, Path::new("/app"), "c", Path::new("/c.wasm")).unwrap();
        assert_eq!(
            copy,
            "[component.a]\nsource = \"/app/a.wasm\"\n\
             [component.b]\nsource = { url = \"https://x/b.wasm\", digest = \"sha256:0\" }\n\
             [component.c]\nsource = \"/c.wasm\"\n"
        );
        // A component whose source cannot be replaced is an error, not a silent copy.
        assert!(rewrite_manifest(text, Path::new("/app"), "b", Path::new("/b.wasm")).is_err());
        assert!(rewrite_manifest(text, Path::new("/app"), "d", Path::new("/d.wasm")).is_err());
    }
}
