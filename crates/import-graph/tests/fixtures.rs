//! The checker on small crates written to a temporary directory: each kind of cycle it must
//! find is found (so the workspace check can fail), and layerings without one pass.

use std::fs;
use std::path::Path;

use import_graph::Cycle;

/// Writes `files` (paths relative to the crate's `src/`) and checks the crate from `src/lib.rs`.
fn check(files: &[(&str, &str)]) -> Result<Vec<Cycle>, String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, source) in files {
        let path = dir.path().join("src").join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, source).unwrap();
    }
    import_graph::check_crate(&dir.path().join("src/lib.rs"))
}

/// The cycles of a crate as chains: `crate::a -> crate::b -> crate::a`.
fn chains(files: &[(&str, &str)]) -> Vec<String> {
    check(files)
        .unwrap_or_else(|error| panic!("{error}"))
        .iter()
        .map(Cycle::chain)
        .collect()
}

#[test]
fn siblings_that_use_each_other() {
    let found = chains(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A(B);\n"),
        (
            "b.rs",
            "pub struct B;\nimpl B {\n    fn f() {\n        use super::a::A;\n    }\n}\n",
        ),
    ]);
    assert_eq!(found, ["crate::a -> crate::b -> crate::a"]);
}

#[test]
fn parent_and_child_through_super() {
    // The parent re-exports the child's item and the child uses the parent's.
    let found = chains(&[
        (
            "lib.rs",
            "mod store;\npub use store::Store;\npub struct Config;\n",
        ),
        (
            "store.rs",
            "use super::Config;\npub struct Store(Config);\n",
        ),
    ]);
    assert_eq!(found, ["crate -> crate::store -> crate"]);
}

#[test]
fn a_glob_import_of_the_parent_is_an_edge_to_it() {
    let found = chains(&[
        ("lib.rs", "mod service;\n"),
        (
            "service/mod.rs",
            "mod runs;\npub use self::runs::Run;\npub struct Id;\n",
        ),
        ("service/runs.rs", "use super::*;\npub struct Run(Id);\n"),
    ]);
    assert_eq!(
        found,
        ["crate::service -> crate::service::runs -> crate::service"]
    );
}

#[test]
fn three_modules_through_crate_paths() {
    let found = chains(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "use crate::b::{self, B};\n"),
        ("b.rs", "pub struct B;\nuse crate::c::C as Renamed;\n"),
        ("c.rs", "pub struct C;\nfn f() -> crate::a::A { todo!() }\n"),
    ]);
    assert_eq!(found, ["crate::a -> crate::b -> crate::c -> crate::a"]);
}

#[test]
fn qualified_paths_in_expressions_types_and_macros() {
    for user in [
        "pub fn f() -> u32 { crate::store::runs::count() }",
        "pub struct Wrapper(Vec<crate::store::runs::Run>);",
        "pub fn f() -> bool { matches!(1, x if x == crate::store::runs::count()) }",
        "pub fn f() { crate::store::runs::log!(); }",
        "impl crate::store::runs::Trait for u8 {}",
    ] {
        let found = chains(&[
            ("lib.rs", "mod api;\nmod store;\n"),
            ("api.rs", user),
            ("store/mod.rs", "pub mod runs;\n"),
            (
                "store/runs.rs",
                "pub fn count() -> u32 { super::super::api::LIMIT }\n",
            ),
        ]);
        assert_eq!(
            found,
            ["crate::api -> crate::store::runs -> crate::api"],
            "with {user}"
        );
    }
}

#[test]
fn re_exports_make_cycles() {
    let found = chains(&[
        ("lib.rs", "pub mod model;\npub mod wire;\n"),
        ("model.rs", "pub struct Run;\npub use crate::wire::Wire;\n"),
        ("wire.rs", "pub struct Wire;\npub use crate::model::Run;\n"),
    ]);
    assert_eq!(found, ["crate::model -> crate::wire -> crate::model"]);
}

#[test]
fn names_brought_in_by_use_and_globs_are_followed() {
    // `store` is imported, then `store::runs::insert` is called through it; the tests module
    // reaches its sibling `runs` through the glob of its parent.
    let found = chains(&[
        ("lib.rs", "mod api;\nmod store;\n"),
        (
            "api.rs",
            "use crate::store;\npub fn f() { store::runs::insert() }\npub struct Limit;\n",
        ),
        ("store/mod.rs", "pub mod runs;\nuse crate::api;\n"),
        (
            "store/runs.rs",
            "pub fn insert() { let _ = api::Limit; }\nuse super::*;\n",
        ),
    ]);
    assert_eq!(
        found,
        [
            "crate::api -> crate::store -> crate::api",
            "crate::api -> crate::store::runs -> crate::api",
            "crate::api -> crate::store::runs -> crate::store -> crate::api",
        ]
    );
}

#[test]
fn inline_modules_path_attributes_and_mod_rs_layouts() {
    let found = chains(&[
        (
            "lib.rs",
            "mod outer {\n    pub mod inner;\n}\n#[path = \"impls/thing.rs\"]\nmod thing;\n",
        ),
        (
            "outer/inner.rs",
            "pub fn f() { crate::thing::nested::g() }\n",
        ),
        ("impls/thing.rs", "pub mod nested;\n"),
        (
            "impls/nested/mod.rs",
            "pub fn g() { crate::outer::inner::f() }\n",
        ),
    ]);
    assert_eq!(
        found,
        ["crate::outer::inner -> crate::thing::nested -> crate::outer::inner"]
    );
}

#[test]
fn the_report_gives_the_file_and_line_of_each_import() {
    let cycles = check(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "pub struct A;\n\nuse crate::b::B;\n"),
        (
            "b.rs",
            "pub struct B;\nfn f() {\n    let _ = crate::a::A;\n}\n",
        ),
    ])
    .unwrap();
    let report = import_graph::report::render("fixture (lib)", &cycles, Path::new("/"));
    assert!(
        report.starts_with("fixture (lib): 1 import cycle(s)\n"),
        "{report}"
    );
    assert!(report.contains("crate::a -> crate::b\n"), "{report}");
    assert!(report.contains("src/a.rs:3: use crate::b::B\n"), "{report}");
    assert!(report.contains("src/b.rs:3: crate::a::A\n"), "{report}");
}

#[test]
fn an_acyclic_layering_passes() {
    let found = chains(&[
        (
            "lib.rs",
            "mod api;\nmod error;\nmod service;\nmod store;\npub use api::serve;\n\
             #[cfg(test)]\nmod testing;\n",
        ),
        (
            "api.rs",
            "use crate::service::{self, runs::Run};\nuse crate::error::Error;\n\
             pub fn serve() -> Result<Run, Error> { service::runs::get() }\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::testing::fake;\n}\n",
        ),
        ("error.rs", "pub struct Error;\n"),
        ("service/mod.rs", "pub mod metrics;\npub mod runs;\n"),
        (
            "service/runs.rs",
            "use super::metrics;\npub struct Run;\n\
             pub fn get() -> Result<Run, crate::error::Error> { metrics::count(); Ok(Run) }\n",
        ),
        (
            "service/metrics.rs",
            "pub fn count() -> usize { crate::store::ROWS.len() }\n",
        ),
        (
            "store.rs",
            "pub static ROWS: [u8; 0] = [];\n\
             // Only tests use the test helpers: no edge, although they use the store.\n\
             #[cfg(test)]\npub fn sample() { crate::testing::fake() }\n\
             pub fn external() { let _ = std::mem::size_of::<u8>(); serde::x(); }\n",
        ),
        (
            "testing.rs",
            "pub fn fake() { let _ = crate::store::ROWS; }\n",
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn test_modules_using_their_parent_pass() {
    let found = chains(&[(
        "lib.rs",
        "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    \
             #[test]\n    fn t() { f(); super::f(); crate::f(); }\n}\n",
    )]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_missing_module_file_is_an_error() {
    let error = check(&[("lib.rs", "mod gone;\n")]).err().unwrap();
    assert!(
        error.contains("lib.rs:1: no file for `mod gone;`"),
        "{error}"
    );
}
