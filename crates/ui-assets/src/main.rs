//! ui-assets: the build step of the mlflow-ui component. From the pin file (a pip
//! requirement with its sha256), it gets the mlflow wheel (reused if present with
//! that hash, else `python3 -m pip download`), takes MLflow's built web UI out of it
//! (`mlflow/server/js/build/`, Apache-2.0, as MLflow's own server serves it) and
//! writes the site the component mounts: the files, brotli and gzip variants, and
//! a manifest of content hashes. A site already built from the same wheel is left
//! as it is.
//!
//! ```text
//! ui-assets --requirement components/mlflow-ui/ui-wheel.txt \
//!           --wheel-dir target/mlflow-ui/wheel --out target/mlflow-ui/site
//! ```
//! `PYTHON` names the interpreter whose pip downloads the wheel (default `python3`).

mod compress;
mod extract;
mod fetch;
mod pin;
mod site;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Part of the site's stamp: bump it when the site's layout or compression changes,
/// so that sites built by an older tool are rebuilt.
const FORMAT: u32 = 1;

struct Args {
    requirement: PathBuf,
    wheel_dir: PathBuf,
    out: PathBuf,
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ui-assets: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let (mut requirement, mut wheel_dir, mut out) = (None, None, None);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--requirement" => &mut requirement,
            "--wheel-dir" => &mut wheel_dir,
            "--out" => &mut out,
            _ => bail!(
                "unknown argument {flag:?} (expected --requirement FILE --wheel-dir DIR --out DIR)"
            ),
        };
        *slot = Some(PathBuf::from(
            args.next()
                .with_context(|| format!("{flag} needs a value"))?,
        ));
    }
    Ok(Args {
        requirement: requirement.context("--requirement FILE is required")?,
        wheel_dir: wheel_dir.context("--wheel-dir DIR is required")?,
        out: out.context("--out DIR is required")?,
    })
}

fn run(args: Args) -> Result<()> {
    let pin = pin::read(&args.requirement)?;
    let stamp = format!(
        "# ui-assets {FORMAT} {}=={} sha256:{}",
        pin.name, pin.version, pin.sha256
    );
    if site::is_current(&args.out, &stamp) {
        println!(
            "MLflow UI {} up to date in {}",
            pin.version,
            args.out.display()
        );
        return Ok(());
    }
    let start = Instant::now();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let wheel = fetch::ensure(&pin, &args.requirement, &args.wheel_dir, &python)?;
    let files = extract::ui_files(&wheel)?;
    let stats = site::build(&args.out, &stamp, &files)?;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "MLflow UI {} in {}: {} files, {:.1} MiB (br {:.1} MiB, gzip {:.1} MiB) in {:.1} s",
        pin.version,
        args.out.display(),
        stats.files,
        mib(stats.bytes),
        mib(stats.br_bytes),
        mib(stats.gz_bytes),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
