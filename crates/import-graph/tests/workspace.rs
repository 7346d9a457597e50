//! The check itself: no crate or component of the workspace has a module that imports a module
//! that imports it back. On failure it lists every cycle, per crate, with the file and line of
//! each import along it.

use std::path::Path;

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let (root, findings) =
        import_graph::check_workspace(&manifest).unwrap_or_else(|error| panic!("{error}"));
    // A check that found nothing to read would pass vacuously.
    assert!(
        findings
            .iter()
            .any(|found| found.target.package == "import-graph"),
        "the workspace's targets were not found"
    );
    let report: String = findings
        .iter()
        .filter(|found| !found.cycles.is_empty())
        .map(|found| {
            let title = format!("{} ({})", found.target.package, found.target.kind);
            import_graph::report::render(&title, &found.cycles, &root)
        })
        .collect();
    assert!(
        report.is_empty(),
        "modules that import a module that imports them back (break each cycle: move the item \
         both sides need into a module of its own, or import it from where it is defined):\n\n\
         {report}"
    );
}
