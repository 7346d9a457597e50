//! A check that no module imports a module that imports it back, in any crate of the workspace.
//!
//! Modules that depend on each other cannot be understood, tested or moved one at a time, and
//! such knots grow quietly: each import looks harmless where it is written. This crate makes
//! them visible and fails CI on them (`tests/workspace.rs`). It reads the sources as written,
//! without compiling or expanding them, which keeps it fast and independent of targets and
//! features.
//!
//! One module per job, each used only by the ones after it (so the check passes on itself):
//! - [`workspace`] lists the library and binary targets of the workspace (`cargo metadata`);
//! - [`tree`] walks a target's module tree from its root file;
//! - [`edges`] finds which module names an item of which other module, and where;
//! - [`cycles`] finds the strongly connected components of that graph and cycles through them;
//! - [`report`] turns them into module paths with the file and line of each import.

pub mod cycles;
pub mod edges;
pub mod report;
pub mod tree;
pub mod workspace;

use std::path::{Path, PathBuf};

pub use report::Cycle;
pub use workspace::Target;

/// The import cycles of one crate target, given its root file (`src/lib.rs`, `src/main.rs`).
pub fn check_crate(root_file: &Path) -> Result<Vec<Cycle>, String> {
    let tree = tree::ModuleTree::load(root_file)?;
    let edges = edges::extract(&tree);
    Ok(report::cycles(&tree, &edges))
}

/// What the check found in one target of the workspace.
pub struct Findings {
    pub target: Target,
    pub cycles: Vec<Cycle>,
}

/// Checks every library and binary target of the workspace whose `Cargo.toml` is `manifest`.
/// Returns the workspace root (for shorter paths in reports) and one entry per target.
pub fn check_workspace(manifest: &Path) -> Result<(PathBuf, Vec<Findings>), String> {
    let (root, targets) = workspace::targets(manifest)?;
    let mut findings = Vec::new();
    for target in targets {
        let cycles = check_crate(&target.root_file)
            .map_err(|error| format!("{} ({}): {error}", target.package, target.kind))?;
        findings.push(Findings { target, cycles });
    }
    Ok((root, findings))
}
