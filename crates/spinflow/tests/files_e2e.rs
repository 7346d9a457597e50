//! `files` mounts under `spinflow up`: the probe component (its `fs-*` ops)
//! in tests/apps/files-probe, reading, listing and writing guest paths. The
//! expected answers are those Spin 3.6.3 gives for the same app.

mod common;

use common::{build_wasm, host, Host, HostBuilder};
use std::path::{Path, PathBuf};

fn files_probe_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/files-probe/spin.toml")
}

fn files_probe() -> (HostBuilder, tempfile::TempDir) {
    build_wasm(&["probe"]);
    own_tmp(host(files_probe_manifest()))
}

/// The host's copies of the files go into a temporary directory of the test:
/// a host that the test kills (`Host`'s drop) cannot remove them itself.
/// Declared before the host, it is removed after it.
fn own_tmp(builder: HostBuilder) -> (HostBuilder, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    (builder.env("TMPDIR", tmp.path().to_string_lossy()), tmp)
}

/// `op` on `path` through `component`: the status and the body.
fn fs(host: &Host, component: &str, op: &str, path: &str) -> (u16, String) {
    let reply = host.get(&format!("/{component}/?op={op}&path={path}"));
    (reply.status, reply.body)
}

/// The error kind of a failed filesystem op (the probe answers 422 with it).
fn error_kind(host: &Host, component: &str, op: &str, path: &str) -> String {
    let (status, body) = match op {
        "fs-write" => {
            let reply = host.post(&format!("/{component}/?op={op}&path={path}"), b"new");
            (reply.status, reply.body)
        }
        _ => fs(host, component, op, path),
    };
    assert_eq!(status, 422, "{op} {path} should fail: {body}");
    body.lines().next().unwrap_or_default().to_string()
}

fn app_file(path: &str) -> String {
    let dir = files_probe_manifest().parent().unwrap().to_path_buf();
    std::fs::read_to_string(dir.join(path)).unwrap()
}

#[test]
fn globs_named_files_and_placements_make_one_read_only_tree() {
    let (builder, _tmp) = files_probe();
    let host = builder.start();

    // Globs keep their app-relative paths; exclusions match app-relative
    // paths (`*` crossing `/`), the placed directory's too.
    let (status, tree) = fs(&host, "web", "fs-tree", "/");
    assert_eq!(status, 200, "{tree}");
    assert_eq!(
        tree.lines().collect::<Vec<_>>(),
        [
            "/data/docs/readme.txt",
            "/data/docs/scratch.tmp",
            "/data/logo.txt",
            "/index.html",
            "/static/app.js",
            "/static/css/site.css",
        ]
    );
    assert_eq!(
        fs(&host, "web", "fs-list", "/"),
        (200, "data/\nindex.html\nstatic/".to_string())
    );
    for (guest, app) in [
        ("/index.html", "index.html"),
        ("index.html", "index.html"),
        ("/static/css/site.css", "static/css/site.css"),
        ("/data/logo.txt", "assets/logo.txt"),
        ("/data/docs/readme.txt", "assets/docs/readme.txt"),
    ] {
        assert_eq!(fs(&host, "web", "fs-read", guest), (200, app_file(app)));
    }

    // Excluded files, app files not in `files`, and host paths are not there.
    for path in [
        "/static/secret.key",
        "/static/css/deep.key",
        "/data/private/token.txt",
        "/outside.txt",
        "/spin.toml",
        "/etc/passwd",
    ] {
        assert_eq!(
            error_kind(&host, "web", "fs-read", path),
            "NotFound",
            "{path}"
        );
    }
    // Climbing out of the mount is refused, not resolved on the host.
    for path in ["/../outside.txt", "../../etc/passwd"] {
        assert_eq!(
            error_kind(&host, "web", "fs-read", path),
            "PermissionDenied",
            "{path}"
        );
    }

    // Read-only: no write to a mounted file, no new file anywhere.
    for path in [
        "/index.html",
        "/new.txt",
        "/static/new.txt",
        "/data/logo.txt",
    ] {
        assert_eq!(
            error_kind(&host, "web", "fs-write", path),
            "PermissionDenied",
            "{path}"
        );
    }
    assert_eq!(
        fs(&host, "web", "fs-read", "/index.html").1,
        app_file("index.html")
    );
    assert_eq!(error_kind(&host, "web", "fs-read", "/new.txt"), "NotFound");

    // A directory as the guest's root, with its own exclusion.
    let (status, tree) = fs(&host, "placed", "fs-tree", "/");
    assert_eq!(status, 200, "{tree}");
    assert_eq!(
        tree.lines().collect::<Vec<_>>(),
        ["/docs/readme.txt", "/logo.txt", "/private/token.txt"]
    );
    assert_eq!(
        fs(&host, "placed", "fs-read", "/private/token.txt"),
        (200, app_file("assets/private/token.txt"))
    );
    assert_eq!(
        error_kind(&host, "placed", "fs-read", "/docs/scratch.tmp"),
        "NotFound"
    );
    assert_eq!(
        error_kind(&host, "placed", "fs-write", "/logo.txt"),
        "PermissionDenied"
    );

    // No `files`, no filesystem.
    assert_eq!(error_kind(&host, "bare", "fs-list", "/"), "NotFound");
    assert_eq!(
        error_kind(&host, "bare", "fs-read", "/index.html"),
        "NotFound"
    );
    assert_eq!(error_kind(&host, "bare", "fs-write", "/x"), "NotFound");
}

#[test]
fn transient_writes_change_the_copies_which_go_with_the_host() {
    let (builder, tmp) = files_probe();
    let copies = || -> Vec<PathBuf> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("spinflow-files-"))
            .collect()
    };
    let host = builder.arg("--allow-transient-write").start();
    assert_eq!(copies().len(), 1, "one copy of the files while serving");

    let reply = host.post("/web/?op=fs-write&path=/index.html", b"changed");
    assert_eq!((reply.status, reply.body.as_str()), (200, "written"));
    let reply = host.post("/web/?op=fs-write&path=/static/new.txt", b"new");
    assert_eq!((reply.status, reply.body.as_str()), (200, "written"));
    // Later instances see the change; the app's own files do not change.
    assert_eq!(
        fs(&host, "web", "fs-read", "/index.html"),
        (200, "changed".to_string())
    );
    assert_eq!(
        fs(&host, "web", "fs-read", "/static/new.txt"),
        (200, "new".to_string())
    );
    assert_eq!(app_file("index.html"), "<h1>files-probe</h1>\n");
    assert!(!files_probe_manifest()
        .parent()
        .unwrap()
        .join("static/new.txt")
        .exists());
    // Each component has its own copy.
    assert_eq!(
        error_kind(&host, "placed", "fs-read", "/static/new.txt"),
        "NotFound"
    );

    assert!(host.terminate(), "the host exits cleanly");
    assert_eq!(copies(), Vec::<PathBuf>::new(), "copies removed at exit");
}

/// A manifest in a temporary directory whose `web` component (the probe) has
/// these `files` lines; the directory has `static/a.txt`.
fn app_with(files: &str) -> (tempfile::TempDir, PathBuf) {
    build_wasm(&["probe"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("static")).unwrap();
    std::fs::write(dir.path().join("static/a.txt"), "a").unwrap();
    let wasm = common::repo_root().join("target/wasm32-wasip2/wasm-release/probe.wasm");
    let manifest = dir.path().join("spin.toml");
    let text = format!(
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"web\"\n\
         [component.web]\nsource = {:?}\n{files}\n",
        wasm.display()
    );
    std::fs::write(&manifest, text).unwrap();
    (dir, manifest)
}

#[test]
fn bad_files_entries_stop_start_up_naming_the_component() {
    for (files, expected) in [
        (
            r#"files = [{ source = "nope", destination = "/" }]"#,
            r#"File or directory "nope" does not exist"#,
        ),
        (
            r#"files = ["nope.txt"]"#,
            r#""nope.txt" does not exist and doesn't appear to be a glob pattern"#,
        ),
        (r#"files = ["static/["]"#, "Failed to resolve glob pattern"),
        (
            "files = [\"static/*\"]\nexclude_files = [\"[\"]",
            r#"Invalid exclude_files glob pattern "[""#,
        ),
        (r#"files = [".."]"#, "ends in a parent directory path"),
        (
            r#"files = ["/etc/host*"]"#,
            "outside the application directory",
        ),
        (
            r#"files = [{ source = "static/a.txt", destination = "/" }]"#,
            r#""/" is not a valid destination file name"#,
        ),
    ] {
        let (_dir, manifest) = app_with(files);
        let (builder, tmp) = own_tmp(host(&manifest));
        let output = match builder.try_start() {
            Ok(_) => panic!("{files}: the host started"),
            Err(output) => output,
        };
        assert!(
            output.contains("component `web`: cannot mount files") && output.contains(expected),
            "{files}: {output}"
        );
        // Nothing copied is left behind by a failed start.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "{files}");
    }
}

#[test]
fn a_named_directory_and_a_placed_file_land_where_spin_puts_them() {
    let (_dir, manifest) =
        app_with(r#"files = ["static", { source = "static/a.txt", destination = "/b/copy.txt" }]"#);
    let (builder, _tmp) = own_tmp(host(&manifest));
    let host = builder.start();
    assert_eq!(
        fs(&host, "web", "fs-tree", "/"),
        (200, "/b/copy.txt\n/static/static/a.txt".to_string())
    );
}
