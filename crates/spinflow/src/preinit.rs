//! `spinflow preinit`: a component's build step that snapshots its initialised state
//! (see `host::preinit`), optionally with a model baked in.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;

/// The variable through which iris-api's initialisation reads the model to bake
/// (base64 of the ONNX file).
const BAKE_MODEL_VARIABLE: &str = "bake_model";

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
    /// A variable the initialisation reads (Spin's variables interface), NAME=VALUE;
    /// repeatable.
    #[arg(long = "variable", value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
    /// A model to bake into iris-api: an ONNX file, or a model URI as iris-api's
    /// `model_uri` takes it (`models:/<name>@<alias>`, `models:/<name>/<version|stage|latest>`,
    /// `models:/m-<id>`, `runs:/<run_id>/<path>`) fetched from --tracking-uri. Registry versions with the same bytes are then served from
    /// the baked plans.
    #[arg(long, value_name = "FILE|MODEL_URI")]
    pub model: Option<String>,
    /// The tracking server that `--model models:/...` is fetched from.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:3000"
    )]
    pub tracking_uri: String,
}

pub fn run(args: &PreinitArgs) -> Result<()> {
    let wasm =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let mut variables = HashMap::new();
    for pair in &args.variables {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--variable {pair:?}: expected NAME=VALUE");
        };
        variables.insert(name.to_string(), value.to_string());
    }
    if let Some(model) = &args.model {
        let onnx = model_bytes(model, &args.tracking_uri)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(onnx);
        variables.insert(BAKE_MODEL_VARIABLE.to_string(), encoded);
    }
    let snapshot = host::preinit::preinit(&wasm, &args.init_export, variables)
        .with_context(|| format!("pre-initialising {}", args.input.display()))?;
    std::fs::write(&args.output, &snapshot)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

/// The ONNX bytes of a file, or of a registry version.
fn model_bytes(model: &str, tracking_uri: &str) -> Result<Vec<u8>> {
    if model.starts_with("models:/") || model.starts_with("runs:/") {
        let fetched = trainer::fetch::fetch_onnx(tracking_uri, model)
            .with_context(|| format!("fetching {model} from {tracking_uri}"))?;
        eprintln!(
            "baking {model}: {} version {} ({} bytes)",
            fetched.name,
            fetched.version,
            fetched.onnx.len()
        );
        return Ok(fetched.onnx);
    }
    std::fs::read(model).with_context(|| format!("reading the model {model}"))
}
