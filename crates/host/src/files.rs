//! A component's `files` and `exclude_files`, as local `spin up` serves them.
//!
//! At load, every selected file is copied into one directory per component,
//! under a temporary directory that is removed with the app; each instance
//! gets that directory preopened at `/`, read-only unless
//! `--allow-transient-write`. Where the guest cannot write, a hard link
//! stands in for the copy (same bytes, no copying time). Copying (Spin's default, rather than its
//! `--direct-mounts`) is what lets globs, single files, `exclude_files` and
//! several mounts share one guest tree. Which file lands where follows
//! Spin 3.6's loader, quirks included, so that an app sees the same tree
//! under both hosts:
//!
//! * `"dir"` (an existing directory named without a glob) is copied to
//!   `/dir/dir/...`: its files keep their app-relative path under `/dir`;
//! * `exclude_files` are matched against app-relative paths (for a
//!   `{ source, destination }` mount too), with `*` also matching `/`, and
//!   they do not apply to a file named by its own path;
//! * only regular files are copied; a directory appears when a file in it
//!   does, or when it is the root of a directory or glob mount;
//! * a file whose guest path would leave `/` (`"../x/*"`, a destination with
//!   `..`) is not mounted: Spin copies it outside the component's directory,
//!   where the guest never sees it. spinflow skips it with a warning.

use crate::manifest::{ComponentDecl, FilesMount};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Where a component's files are mounted in the guest.
const GUEST_ROOT: &str = "/";

/// The copied files of one component, to preopen in each of its instances.
#[derive(Clone, Default)]
pub struct ComponentFiles {
    /// The copies and how the guest may use them; `None`: the component has
    /// no `files`, and its guest no filesystem.
    mount: Option<(Arc<Path>, FsPerms)>,
}

impl ComponentFiles {
    /// Preopens the component's directory at `/`: one `open` per instance,
    /// no walking.
    pub fn preopen(&self, wasi: &mut WasiCtxBuilder) -> Result<()> {
        if let Some((dir, perms)) = &self.mount {
            wasi.preopened_dir(dir, GUEST_ROOT, *perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot preopen {}", dir.display()))?;
        }
        Ok(())
    }
}

/// Copies the files of an app's components, each into its own directory.
pub struct Staging {
    app_root: PathBuf,
    perms: FsPerms,
    /// Made when the first component with `files` is staged.
    root: Option<tempfile::TempDir>,
}

impl Staging {
    /// `app_root` is the manifest's directory; `writable` is Spin's
    /// `--allow-transient-write` (writes change the copies only).
    pub fn new(app_root: &Path, writable: bool) -> Self {
        Self {
            app_root: app_root.to_path_buf(),
            perms: if writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            },
            root: None,
        }
    }

    /// Copies component `id`'s files; errors name the entry at fault, and
    /// the caller names the component.
    pub fn stage(&mut self, id: &str, decl: &ComponentDecl) -> Result<ComponentFiles> {
        if decl.files.is_empty() {
            return Ok(ComponentFiles::default());
        }
        let root = match &self.root {
            Some(root) => root,
            None => self.root.insert(
                tempfile::Builder::new()
                    .prefix("spinflow-files-")
                    .tempdir()
                    .context("cannot create a temporary directory for files")?,
            ),
        };
        let dir = root.path().join(id);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let mut copier = Copier {
            id,
            app_root: &self.app_root,
            dest_root: &dir,
            excludes: None,
            exclude_files: &decl.exclude_files,
            escaped: false,
            link: matches!(self.perms, FsPerms::ReadOnly),
        };
        for mount in &decl.files {
            copier.escaped = false;
            match mount {
                FilesMount::Pattern(pattern) => copier.pattern(pattern)?,
                FilesMount::Placement(p) => copier.placement(&p.source, &p.destination)?,
            }
            if copier.escaped {
                eprintln!(
                    "spinflow: component `{id}`: files entry {} selects files whose guest \
                     path is outside `/`; they are not mounted (nor are they under Spin)",
                    describe(mount)
                );
            }
        }
        Ok(ComponentFiles {
            mount: Some((dir.into(), self.perms)),
        })
    }

    /// The directory holding every copy, removed when dropped (with the app).
    pub fn into_root(self) -> Option<tempfile::TempDir> {
        self.root
    }
}

/// A `files` entry as the manifest spells it.
fn describe(mount: &FilesMount) -> String {
    match mount {
        FilesMount::Pattern(p) => format!("{p:?}"),
        FilesMount::Placement(p) => format!(
            "{{ source = {:?}, destination = {:?} }}",
            p.source, p.destination
        ),
    }
}

/// Copies one component's mounts into `dest_root`. Destinations are paths
/// relative to `dest_root` as Spin builds them (they may hold `..`), and
/// are checked by `place` before anything is written.
struct Copier<'a> {
    /// The component, for warnings.
    id: &'a str,
    app_root: &'a Path,
    dest_root: &'a Path,
    /// Compiled when a glob is first walked: an invalid exclusion is an error
    /// only then, as in Spin.
    excludes: Option<Vec<glob::Pattern>>,
    exclude_files: &'a [String],
    /// The current mount selected a file whose guest path leaves `/`.
    escaped: bool,
    /// The guest cannot write (no `--allow-transient-write`), so a hard link
    /// serves as the copy: staging the MLflow UI's 40 MB takes milliseconds
    /// instead of most of the app's start.
    link: bool,
}

impl Copier<'_> {
    /// A `files` string: a glob, or the path of a file or directory.
    fn pattern(&mut self, pattern: &str) -> Result<()> {
        let hint = "If you want to include a directory, use the { source, destination } form, \
                    or a glob pattern ending in **/*";
        if pattern == ".." || pattern.ends_with("/..") {
            bail!("files pattern {pattern:?} ends in a parent directory path (..). {hint}");
        }
        if pattern == "." || pattern.ends_with("/.") {
            bail!("files pattern {pattern:?} ends in a current directory path (.). {hint}");
        }
        if pattern == "*" || pattern == "**/*" {
            eprintln!(
                "spinflow: component `{}`: files pattern {pattern:?} includes the whole \
                 application directory; write \"./{pattern}\" if that is what you want",
                self.id
            );
        }
        let path = self.app_root.join(pattern);
        if path.exists() {
            if path.is_dir() {
                // App-relative paths under `pattern`: `/dir/dir/...` (see the module doc).
                self.glob(&path.join("**/*"), self.app_root, Path::new(pattern))
            } else {
                self.single_file(&path, Path::new(pattern), pattern)
            }
        } else if glob::Pattern::escape(pattern) != pattern {
            self.glob(&path, self.app_root, Path::new(""))
        } else {
            bail!("{pattern:?} does not exist and doesn't appear to be a glob pattern")
        }
    }

    /// `{ source, destination }`: a directory's files, or one file.
    fn placement(&mut self, source: &str, destination: &str) -> Result<()> {
        let src = self.app_root.join(source);
        let meta = std::fs::metadata(&src).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow!("File or directory {source:?} does not exist")
            }
            _ => anyhow::Error::new(e).context(format!("invalid file mount source {source:?}")),
        })?;
        let dest = Path::new(destination.trim_start_matches('/'));
        if meta.is_dir() {
            self.glob(&src.join("**/*"), &src, dest)
        } else {
            self.single_file(&src, dest, destination)
        }
    }

    /// Copies the regular files `pattern` matches, less the excluded ones,
    /// to `dest` joined with their path relative to `src_prefix`.
    fn glob(&mut self, pattern: &Path, src_prefix: &Path, dest: &Path) -> Result<()> {
        let pattern = pattern
            .to_str()
            .with_context(|| format!("invalid (non-UTF-8) file pattern {pattern:?}"))?;
        let paths = glob::glob(pattern)
            .with_context(|| format!("Failed to resolve glob pattern {pattern:?}"))?;
        if self.excludes.is_none() {
            let compiled = self
                .exclude_files
                .iter()
                .map(|p| {
                    glob::Pattern::new(p)
                        .with_context(|| format!("Invalid exclude_files glob pattern {p:?}"))
                })
                .collect::<Result<Vec<_>>>()?;
            self.excludes = Some(compiled);
        }
        if let Some(dir) = self.place(dest) {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        for src in paths {
            let src = src?;
            if !src.is_file() {
                continue;
            }
            let Ok(app_relative) = src.strip_prefix(self.app_root) else {
                bail!(
                    "{pattern} cannot be mapped because it is outside the application directory. \
                     Files must be within the application directory."
                );
            };
            let excludes = self.excludes.as_deref().unwrap_or_default();
            if excludes.iter().any(|p| p.matches_path(app_relative)) {
                continue;
            }
            let relative = src.strip_prefix(src_prefix).unwrap_or(app_relative);
            self.single_file(&src, &dest.join(relative), &relative.to_string_lossy())?;
        }
        Ok(())
    }

    /// Copies `src` to `dest`; `guest_dest` is the destination as the
    /// manifest (or the glob) gave it, for messages.
    fn single_file(&mut self, src: &Path, dest: &Path, guest_dest: &str) -> Result<()> {
        if src.strip_prefix(self.app_root).is_err() {
            bail!(
                "{} cannot be mapped because it is outside the application directory. \
                 Files must be within the application directory.",
                src.display()
            );
        }
        let Some(target) = self.place(dest) else {
            self.escaped = true;
            return Ok(());
        };
        let failed = || {
            format!(
                "Failed to copy {:?} to working path {:?}",
                src.display(),
                target.display()
            )
        };
        // A file cannot take a directory's name ("/", "x/", "x/.."): Spin's copy fails there.
        if matches!(guest_dest.rsplit('/').next(), Some("" | "." | "..")) {
            return Err(anyhow!(
                "{guest_dest:?} is not a valid destination file name"
            ))
            .with_context(failed);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create directory {}", parent.display()))?;
        }
        if self.link {
            // A later mount replaces the file: unlink first, so that the copy
            // below never writes through an earlier link into its source.
            match std::fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(failed);
                }
                _ => {}
            }
            // Across file systems (or where links are refused) it copies.
            if std::fs::hard_link(src, &target).is_ok() {
                return Ok(());
            }
        }
        std::fs::copy(src, &target)
            .with_context(|| format!("{} (for destination path {guest_dest:?})", failed()))?;
        Ok(())
    }

    /// `dest_root` joined with `relative` with its `.` and `..` resolved, or
    /// `None` if it leaves `dest_root` (the guest's `/`).
    fn place(&self, relative: &Path) -> Option<PathBuf> {
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => parts.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(
            parts
                .iter()
                .fold(self.dest_root.to_path_buf(), |p, c| p.join(c)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FilesPlacement;

    /// An app directory with a few files, and a directory beside it.
    struct Fixture {
        base: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let base = tempfile::tempdir().unwrap();
            for (path, text) in [
                ("sibling/s.txt", "beside the app"),
                ("app/index.html", "<h1>hi</h1>"),
                ("app/static/app.js", "js"),
                ("app/static/css/site.css", "css"),
                ("app/static/secret.key", "key"),
                ("app/static/css/deep.key", "key"),
                ("app/assets/logo.txt", "logo"),
                ("app/assets/docs/readme.txt", "readme"),
                ("app/assets/docs/scratch.tmp", "tmp"),
            ] {
                let file = base.path().join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, text).unwrap();
            }
            Self { base }
        }

        fn app(&self) -> PathBuf {
            self.base.path().join("app")
        }

        /// The files staged for a component with these `files` and
        /// `exclude_files`, as sorted guest paths.
        fn stage(&self, files: Vec<FilesMount>, exclude: &[&str]) -> Result<Vec<String>> {
            let mut decl = component();
            decl.files = files;
            decl.exclude_files = exclude.iter().map(|s| s.to_string()).collect();
            let mut staging = Staging::new(&self.app(), false);
            let staged = staging.stage("web", &decl)?;
            let (dir, _) = staged.mount.expect("a directory");
            let mut found = Vec::new();
            list(&dir, &dir, &mut found);
            found.sort();
            Ok(found)
        }
    }

    fn list(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                list(root, &path, out);
            } else {
                out.push(format!("/{}", path.strip_prefix(root).unwrap().display()));
            }
        }
    }

    fn component() -> ComponentDecl {
        toml::from_str("source = \"web.wasm\"").unwrap()
    }

    fn pattern(p: &str) -> FilesMount {
        FilesMount::Pattern(p.into())
    }

    fn placement(source: &str, destination: &str) -> FilesMount {
        FilesMount::Placement(FilesPlacement {
            source: source.into(),
            destination: destination.into(),
        })
    }

    #[test]
    fn globs_and_files_keep_their_relative_paths() {
        let fx = Fixture::new();
        let got = fx
            .stage(vec![pattern("static/**/*"), pattern("index.html")], &[])
            .unwrap();
        assert_eq!(
            got,
            [
                "/index.html",
                "/static/app.js",
                "/static/css/deep.key",
                "/static/css/site.css",
                "/static/secret.key"
            ]
        );
    }

    #[test]
    fn exclusions_match_app_relative_paths_with_star_crossing_slashes() {
        let fx = Fixture::new();
        let got = fx
            .stage(
                vec![pattern("static/**/*"), placement("assets", "/data")],
                &["static/*.key", "assets/docs/*"],
            )
            .unwrap();
        assert_eq!(
            got,
            ["/data/logo.txt", "/static/app.js", "/static/css/site.css"]
        );
        // A file named by its own path is not excluded.
        let got = fx
            .stage(vec![pattern("static/secret.key")], &["**/*.key"])
            .unwrap();
        assert_eq!(got, ["/static/secret.key"]);
    }

    #[test]
    fn placements_put_a_directory_or_a_file_at_a_guest_path() {
        let fx = Fixture::new();
        let got = fx
            .stage(vec![placement("assets", "/")], &["**/*.tmp"])
            .unwrap();
        assert_eq!(got, ["/docs/readme.txt", "/logo.txt"]);
        let got = fx
            .stage(vec![placement("index.html", "/web/home.html")], &[])
            .unwrap();
        assert_eq!(got, ["/web/home.html"]);
        for destination in ["/", "/web/", "/web/.."] {
            let err = fx
                .stage(vec![placement("index.html", destination)], &[])
                .unwrap_err();
            let expected = format!("{destination:?} is not a valid destination file name");
            assert!(format!("{err:#}").contains(&expected), "{err:#}");
        }
    }

    #[test]
    fn a_named_directory_nests_under_itself_as_in_spin() {
        let fx = Fixture::new();
        let got = fx.stage(vec![pattern("assets")], &[]).unwrap();
        assert_eq!(
            got,
            [
                "/assets/assets/docs/readme.txt",
                "/assets/assets/docs/scratch.tmp",
                "/assets/assets/logo.txt"
            ]
        );
    }

    #[test]
    fn paths_leaving_the_guest_root_are_not_mounted() {
        let fx = Fixture::new();
        let got = fx
            .stage(
                vec![
                    pattern("../sibling/*"),
                    pattern("../sibling/s.txt"),
                    placement("assets", "/../up"),
                    pattern("static/../index.html"),
                ],
                &[],
            )
            .unwrap();
        assert_eq!(got, ["/index.html"]);
        // A `source` may be outside the app's directory, as in Spin.
        let got = fx.stage(vec![placement("../sibling", "/s")], &[]).unwrap();
        assert_eq!(got, ["/s/s.txt"]);
    }

    #[test]
    fn bad_entries_are_load_errors_with_spins_messages() {
        let fx = Fixture::new();
        let err = |files: Vec<FilesMount>, exclude: &[&str]| {
            format!("{:#}", fx.stage(files, exclude).unwrap_err())
        };
        let e = err(vec![placement("nope", "/")], &[]);
        assert!(
            e.contains("File or directory \"nope\" does not exist"),
            "{e}"
        );
        let e = err(vec![pattern("nope.txt")], &[]);
        assert!(e.contains("doesn't appear to be a glob pattern"), "{e}");
        let e = err(vec![pattern("static/[")], &[]);
        assert!(e.contains("Failed to resolve glob pattern"), "{e}");
        let e = err(vec![pattern("static/*")], &["["]);
        assert!(
            e.contains("Invalid exclude_files glob pattern \"[\""),
            "{e}"
        );
        let e = err(vec![pattern("static/..")], &[]);
        assert!(e.contains("parent directory path"), "{e}");
        let e = err(vec![pattern(".")], &[]);
        assert!(e.contains("current directory path"), "{e}");
        let hosts = "/etc/hosts";
        if Path::new(hosts).is_file() {
            let e = err(vec![pattern(hosts)], &[]);
            assert!(e.contains("outside the application directory"), "{e}");
            let e = err(vec![pattern("/etc/host*")], &[]);
            assert!(e.contains("outside the application directory"), "{e}");
        }
    }

    #[test]
    fn a_later_mount_replaces_a_linked_file_without_touching_its_source() {
        let fx = Fixture::new();
        let mut decl = component();
        decl.files = vec![
            placement("assets/logo.txt", "/x.txt"),
            placement("index.html", "/x.txt"),
        ];
        let mut staging = Staging::new(&fx.app(), false);
        let (dir, _) = staging.stage("web", &decl).unwrap().mount.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("x.txt")).unwrap(),
            "<h1>hi</h1>"
        );
        let logo = std::fs::read_to_string(fx.app().join("assets/logo.txt")).unwrap();
        assert_eq!(logo, "logo");
    }

    #[test]
    fn writable_files_are_copies_whose_writes_stay_in_the_app() {
        let fx = Fixture::new();
        let mut decl = component();
        decl.files = vec![pattern("index.html")];
        let mut staging = Staging::new(&fx.app(), true);
        let (dir, _) = staging.stage("web", &decl).unwrap().mount.unwrap();
        std::fs::write(dir.join("index.html"), "changed").unwrap();
        let source = std::fs::read_to_string(fx.app().join("index.html")).unwrap();
        assert_eq!(source, "<h1>hi</h1>");
    }

    #[test]
    fn no_files_no_directory() {
        let fx = Fixture::new();
        let mut staging = Staging::new(&fx.app(), false);
        let staged = staging.stage("web", &component()).unwrap();
        assert!(staged.mount.is_none());
        assert!(staging.into_root().is_none());
    }
}
