//! `spinflow build`: runs each component's `[component.<id>.build]` command, as `spin build` does.

use crate::manifest::LoadedManifest;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Builds the components of `manifest` (all, or only `only` when not empty).
pub fn build(manifest: &Path, only: &[String]) -> Result<()> {
    let loaded = LoadedManifest::load(manifest)?;
    for id in only {
        if !loaded.manifest.component.contains_key(id) {
            bail!("--component-id {id}: no such component");
        }
    }
    for (id, decl) in &loaded.manifest.component {
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        let Some(build) = &decl.build else {
            println!("No build command for component {id}; skipping");
            continue;
        };
        let workdir = match &build.workdir {
            Some(w) => loaded.dir.join(w),
            None => loaded.dir.clone(),
        };
        for command in build.command.commands() {
            println!("Building component {id} with `{command}`");
            let status = shell(command)
                .current_dir(&workdir)
                .status()
                .with_context(|| {
                    format!("cannot run build command of component `{id}`: {command}")
                })?;
            if !status.success() {
                bail!("build command for component `{id}` failed ({status}): {command}");
            }
        }
    }
    println!("Finished building all Spin components");
    Ok(())
}

fn shell(command: &str) -> Command {
    if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    }
}
