//! The site directory the component mounts: the UI files, their `.br`/`.gz`
//! variants and the manifest (`.assets.tsv`, format in
//! `components/mlflow-ui/src/assets.rs`), built beside the old one and swapped in
//! by renames, so an interrupted build never leaves a partial site behind: the
//! site is either the old one, the new one, or absent (and rebuilt next time).

use crate::compress;
use crate::extract::UiFile;
use crate::fetch::hex;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The manifest's name, as the component's `assets` module reads it (this crate's
/// tests read what is written here with that module).
pub const MANIFEST: &str = ".assets.tsv";

/// Whether `out` holds a complete site built with `stamp` (the manifest's first
/// line, written last).
pub fn is_current(out: &Path, stamp: &str) -> bool {
    std::fs::read_to_string(out.join(MANIFEST)).is_ok_and(|m| m.lines().next() == Some(stamp))
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    pub bytes: u64,
    pub br_bytes: u64,
    pub gz_bytes: u64,
}

/// Writes `files`, their variants and the manifest headed by `stamp` into a fresh
/// directory, then puts it in place of `out`.
pub fn build(out: &Path, stamp: &str, files: &[UiFile]) -> Result<Stats> {
    let parent = out.parent().context("the site needs a parent directory")?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .context("bad site path")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    remove_leftovers(parent, name);
    let pid = std::process::id();
    let tmp = parent.join(format!("{name}.tmp-{pid}"));
    let result = write_site(&tmp, stamp, files).and_then(|stats| {
        let old = parent.join(format!("{name}.old-{pid}"));
        if out.exists() {
            std::fs::rename(out, &old)
                .with_context(|| format!("moving {} aside", out.display()))?;
        }
        std::fs::rename(&tmp, out)
            .with_context(|| format!("moving the new site to {}", out.display()))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(stats)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Directories of builds that were interrupted before their swap.
fn remove_leftovers(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let n = file_name.to_string_lossy();
        if n.starts_with(&format!("{name}.tmp-")) || n.starts_with(&format!("{name}.old-")) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The files and their variants, compressed on every core (brotli at quality 11 is
/// the slow part of a cold build), then the manifest.
fn write_site(dir: &Path, stamp: &str, files: &[UiFile]) -> Result<Stats> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Largest first, so no core is left with the main bundle at the end.
    let mut order: Vec<&UiFile> = files.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.data.len()));
    let next = AtomicUsize::new(0);
    let lines = Mutex::new(Vec::with_capacity(files.len()));
    let stats = Mutex::new(Stats::default());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(file) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (line, file_stats) = write_file(dir, file)?;
                        lines
                            .lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?
                            .push(line);
                        let mut s = stats.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                        s.files += 1;
                        s.bytes += file_stats.bytes;
                        s.br_bytes += file_stats.br_bytes;
                        s.gz_bytes += file_stats.gz_bytes;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a compression thread panicked"))??;
        }
        Ok(())
    })?;
    let mut lines = lines
        .into_inner()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    lines.sort();
    let manifest = format!(
        "{stamp}\n# path<TAB>sha256 of the file (first 128 bits, hex)<TAB>stored variants\n{}\n",
        lines.join("\n")
    );
    write(&dir.join(MANIFEST), manifest.as_bytes())?;
    stats.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))
}

/// One file and its variants; its manifest line and sizes.
fn write_file(dir: &Path, file: &UiFile) -> Result<(String, Stats)> {
    let target = dir.join(&file.path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write(&target, &file.data)?;
    let variants = compress::variants(&file.path, &file.data);
    let mut stats = Stats {
        bytes: file.data.len() as u64,
        ..Stats::default()
    };
    let mut names = Vec::new();
    if let Some(br) = &variants.br {
        write(&with_suffix(&target, ".br"), br)?;
        stats.br_bytes = br.len() as u64;
        names.push("br");
    }
    if let Some(gz) = &variants.gz {
        write(&with_suffix(&target, ".gz"), gz)?;
        stats.gz_bytes = gz.len() as u64;
        names.push("gz");
    }
    let hash = hex(&Sha256::digest(&file.data)[..16]);
    let variants = if names.is_empty() {
        "-".to_string()
    } else {
        names.join(",")
    };
    Ok((format!("{}\t{hash}\t{variants}", file.path), stats))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlflow_ui::assets;

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ui-assets-site-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn ui(path: &str, data: &[u8]) -> UiFile {
        UiFile {
            path: path.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn the_component_reads_the_manifest_written_here() {
        assert_eq!(MANIFEST, assets::MANIFEST);
        let out = tempdir("read").join("site");
        let js = "console.log('mlflow');\n".repeat(100);
        let files = [
            ui("index.html", b"<html></html>"),
            ui("static/js/main.1234abcd.js", js.as_bytes()),
        ];
        let stats = build(&out, "# stamp", &files).unwrap();
        assert_eq!(stats.files, 2);
        let manifest = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        assert!(is_current(&out, "# stamp") && !is_current(&out, "# other"));

        let index = assets::find(&manifest, "index.html").unwrap();
        assert!(!index.variants.any(), "too small to compress");
        assert_eq!(index.hash, hex(&Sha256::digest(b"<html></html>")[..16]));
        let main = assets::find(&manifest, "static/js/main.1234abcd.js").unwrap();
        assert!(main.variants.br && main.variants.gz);
        assert_eq!(
            std::fs::read(out.join("static/js/main.1234abcd.js")).unwrap(),
            js.as_bytes()
        );
        assert!(out.join("static/js/main.1234abcd.js.br").is_file());
        assert!(out.join("static/js/main.1234abcd.js.gz").is_file());
    }

    #[test]
    fn a_rebuild_replaces_the_site_and_leaves_nothing_beside_it() {
        let parent = tempdir("swap");
        let out = parent.join("site");
        build(
            &out,
            "# one",
            &[ui("index.html", b"one"), ui("old.js", b"x")],
        )
        .unwrap();
        // What an interrupted build leaves: swept by the next one.
        std::fs::create_dir_all(parent.join("site.tmp-1/static")).unwrap();
        build(&out, "# two", &[ui("index.html", b"two")]).unwrap();
        assert_eq!(std::fs::read(out.join("index.html")).unwrap(), b"two");
        assert!(!out.join("old.js").exists());
        assert!(is_current(&out, "# two"));
        let names: Vec<_> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["site"]);
    }

    #[test]
    fn a_failed_build_keeps_the_old_site() {
        let parent = tempdir("fail");
        let out = parent.join("site");
        build(&out, "# good", &[ui("index.html", b"good")]).unwrap();
        // A file where a directory must go makes the new build fail half way.
        let clash = [ui("a", b"file"), ui("a/b.js", b"below a file")];
        assert!(build(&out, "# bad", &clash).is_err());
        assert!(is_current(&out, "# good"));
        assert_eq!(std::fs::read(out.join("index.html")).unwrap(), b"good");
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 1);
    }
}
