//! `spinflow preinit`: a component's build step that snapshots its initialised state
//! (see `host::preinit`).

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct PreinitArgs {
    /// The component to pre-initialise.
    pub input: PathBuf,
    /// Where to write the pre-initialised component.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The component's initialisation export, a `func()`.
    #[arg(long, default_value = host::preinit::DEFAULT_INIT_EXPORT)]
    pub init_export: String,
}

pub fn run(args: &PreinitArgs) -> Result<()> {
    let wasm =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let snapshot = host::preinit::preinit(&wasm, &args.init_export)
        .with_context(|| format!("pre-initialising {}", args.input.display()))?;
    std::fs::write(&args.output, &snapshot)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
