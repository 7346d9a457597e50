//! `spinflow train`: trains the Iris model and logs it to an MLflow tracking server.

use clap::Args;

/// Options of `spinflow train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// MLflow tracking server to log to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "http://127.0.0.1:3000")]
    pub tracking_uri: String,
}

/// Runs `spinflow train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("spinflow train is not implemented yet (tracking URI {})", args.tracking_uri)
}
