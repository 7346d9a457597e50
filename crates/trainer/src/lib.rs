//! `spinflow train`: trains the Iris model, logs the run and the model to an MLflow
//! tracking server over its REST API, registers the model and points an alias at it.
//!
//! It speaks only the public REST API, so it works against our mlflow-server component and
//! against a stock `mlflow server` (3.x with logged models, 2.x with run artifacts).

mod client;
pub mod fetch;
mod model_dir;
mod model_log;
mod progress;
mod register;
mod tracking;

use anyhow::ensure;
use clap::Args;
use iris_model::{iris, TrainConfig};
use mlflow_wire::tracking::{KeyValue, Metric, RunInfo};
use serde::Serialize;

use crate::client::RestClient;
use crate::model_log::{LoggedLocation, ModelToLog};
use crate::progress::Progress;

/// Options of `spinflow train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// MLflow tracking server to log to (http or https).
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:3000"
    )]
    pub tracking_uri: String,
    /// Experiment of the run (created if absent).
    #[arg(long, default_value = "iris")]
    pub experiment: String,
    /// Name of the run (the server picks one if absent).
    #[arg(long)]
    pub run_name: Option<String>,
    /// Registered model that receives the new version.
    #[arg(long, default_value = "iris")]
    pub model_name: String,
    /// Alias pointed at the new version.
    #[arg(long, default_value = "champion")]
    pub alias: String,
    /// Register the version but leave the aliases as they are.
    #[arg(long)]
    pub no_alias: bool,
    /// Log the run and the model but do not register it.
    #[arg(long, conflicts_with = "no_alias")]
    pub no_register: bool,
    /// Gradient-descent passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Gradient-descent step size.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// L2 penalty on the weights.
    #[arg(long)]
    pub l2: Option<f64>,
    /// Seed of the train/test split.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of each class held out for evaluation (0 < f < 1).
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What `spinflow train` did (printed with `--json`).
#[derive(Debug, Serialize)]
pub struct TrainOutcome {
    pub experiment_id: String,
    pub run_id: String,
    pub run_url: String,
    pub model_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    pub artifact_uri: String,
    pub metrics: std::collections::BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// Runs `spinflow train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let outcome = train_and_log(args)?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        print_summary(&outcome);
    }
    Ok(())
}

/// Trains, logs, registers; returns what was done.
pub fn train_and_log(args: &TrainArgs) -> anyhow::Result<TrainOutcome> {
    let config = train_config(args)?;
    if !args.no_register && !args.no_alias {
        // Checked before anything is logged, so a bad alias leaves no half-done version.
        validate_alias(&args.alias)?;
    }
    let client = RestClient::new(&args.tracking_uri)?;
    let register = !args.no_register;
    let set_alias = register && !args.no_alias;
    let steps = 4 + usize::from(register) + usize::from(set_alias);
    let mut progress = Progress::new(steps, args.quiet);

    let (model, evaluation) = progress.step("Training the Iris model", || {
        let (train_set, test_set) = iris().split(config.test_fraction, config.seed);
        let model = iris_model::train(&train_set, &config);
        let evaluation = model.evaluate(&test_set);
        Ok((model, evaluation))
    })?;
    progress.note(&format!(
        "held-out accuracy {:.4} on {} samples",
        evaluation.accuracy, evaluation.n_samples
    ));

    let run = progress.step(
        &format!(
            "Starting a run in experiment {:?} at {}",
            args.experiment,
            client.base()
        ),
        || {
            let experiment = tracking::get_or_create_experiment(&client, &args.experiment)?;
            tracking::create_run(
                &client,
                &experiment.experiment_id,
                args.run_name.as_deref(),
                &run_tags(),
            )
        },
    )?;
    progress.note(&format!("run {} ({})", run.run_id, run.run_name));

    let params: Vec<KeyValue> = config
        .params()
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect();
    let now = tracking::now_ms();
    let metrics: Vec<Metric> = evaluation
        .metrics()
        .into_iter()
        .map(|(key, value)| Metric {
            key,
            value,
            timestamp: now,
            step: 0,
            ..Metric::default()
        })
        .collect();

    let logged = (|| {
        progress.step("Logging params and metrics", || {
            tracking::log_params(&client, &run.run_id, &params)?;
            tracking::log_metrics(&client, &run.run_id, &metrics)
        })?;
        let logged = progress.step(
            "Logging the model (MLmodel, model.onnx, environment)",
            || {
                model_log::log_model(
                    &client,
                    &run,
                    ModelToLog {
                        onnx: model.to_onnx(),
                        params: &params,
                        metrics: &metrics,
                        tags: &run_tags(),
                    },
                )
            },
        )?;
        tracking::end_run(&client, &run.run_id, "FINISHED")?;
        Ok(logged)
    })();
    let logged: LoggedLocation = match logged {
        Ok(logged) => logged,
        Err(e) => {
            // Best effort: the run should not stay RUNNING forever.
            let _ = tracking::end_run(&client, &run.run_id, "FAILED");
            return Err(e);
        }
    };
    progress.note(&format!("model {}", logged.model_uri(&run.run_id)));

    let mut outcome = outcome_of(&client, &run, &logged, &metrics);
    if register {
        let version = progress.step(
            &format!("Registering a version of {:?}", args.model_name),
            || {
                register::register(
                    &client,
                    &args.model_name,
                    &logged.registry_source(),
                    &run.run_id,
                    logged.model_id(),
                )
            },
        )?;
        outcome.registered_model = Some(args.model_name.clone());
        outcome.version = Some(version.version.clone());
        if set_alias {
            progress.step(
                &format!(
                    "Pointing alias {:?} at version {}",
                    args.alias, version.version
                ),
                || register::set_alias(&client, &args.model_name, &args.alias, &version.version),
            )?;
            outcome.alias = Some(args.alias.clone());
        }
    }
    Ok(outcome)
}

fn train_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        learning_rate: args.learning_rate.unwrap_or(defaults.learning_rate),
        epochs: args.epochs.unwrap_or(defaults.epochs),
        l2: args.l2.unwrap_or(defaults.l2),
        seed: args.seed.unwrap_or(defaults.seed),
        test_fraction: args.test_fraction.unwrap_or(defaults.test_fraction),
    };
    ensure!(
        config.test_fraction > 0.0 && config.test_fraction < 1.0,
        "--test-fraction must be between 0 and 1 (exclusive), got {}",
        config.test_fraction
    );
    ensure!(
        config.learning_rate.is_finite() && config.learning_rate > 0.0,
        "--learning-rate must be a positive number, got {}",
        config.learning_rate
    );
    ensure!(
        config.l2.is_finite() && config.l2 >= 0.0,
        "--l2 must be a non-negative number, got {}",
        config.l2
    );
    Ok(config)
}

/// MLflow's alias rule: 1..=255 word characters or dashes, not `latest`, not `v<digits>`
/// (those name versions in `models:/` URIs).
fn validate_alias(alias: &str) -> anyhow::Result<()> {
    ensure!(
        !alias.is_empty()
            && alias.chars().count() <= 255
            && alias
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-'),
        "--alias {alias:?} is not a valid alias: use 1 to 255 letters, digits, '_' or '-'"
    );
    let lower = alias.to_ascii_lowercase();
    let names_a_version =
        lower.len() > 1 && lower.starts_with('v') && lower[1..].chars().all(|c| c.is_ascii_digit());
    ensure!(
        lower != "latest" && !names_a_version,
        "--alias {alias:?} is reserved by MLflow ('latest' and 'v<number>' name versions)"
    );
    Ok(())
}

/// Tags the official client derives from its context, for a command-line source.
fn run_tags() -> Vec<KeyValue> {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "spinflow".to_string());
    vec![
        KeyValue::new("mlflow.user", user),
        KeyValue::new("mlflow.source.name", "spinflow train"),
        KeyValue::new("mlflow.source.type", "LOCAL"),
    ]
}

fn outcome_of(
    client: &RestClient,
    run: &RunInfo,
    logged: &LoggedLocation,
    metrics: &[Metric],
) -> TrainOutcome {
    let artifact_uri = match logged {
        LoggedLocation::LoggedModel { artifact_uri, .. }
        | LoggedLocation::RunArtifacts { artifact_uri } => artifact_uri.clone(),
    };
    TrainOutcome {
        experiment_id: run.experiment_id.clone(),
        run_id: run.run_id.clone(),
        run_url: format!(
            "{}/#/experiments/{}/runs/{}",
            client.base(),
            run.experiment_id,
            run.run_id
        ),
        model_uri: logged.model_uri(&run.run_id),
        model_id: logged.model_id().map(str::to_string),
        artifact_uri,
        metrics: metrics.iter().map(|m| (m.key.clone(), m.value)).collect(),
        registered_model: None,
        version: None,
        alias: None,
    }
}

fn print_summary(outcome: &TrainOutcome) {
    println!("run:      {}", outcome.run_url);
    println!("model:    {}", outcome.model_uri);
    if let Some(accuracy) = outcome.metrics.get("accuracy") {
        println!("accuracy: {accuracy:.4} (held out)");
    }
    if let (Some(name), Some(version)) = (&outcome.registered_model, &outcome.version) {
        println!("version:  {name} version {version} (models:/{name}/{version})");
        if let Some(alias) = &outcome.alias {
            println!("alias:    models:/{name}@{alias}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        train: TrainArgs,
    }

    fn parse(args: &[&str]) -> TrainArgs {
        Cli::try_parse_from(std::iter::once("train").chain(args.iter().copied()))
            .unwrap()
            .train
    }

    #[test]
    fn defaults_match_the_documented_loop() {
        let args = parse(&["--tracking-uri", "http://h:1"]);
        assert_eq!(args.experiment, "iris");
        assert_eq!(args.model_name, "iris");
        assert_eq!(args.alias, "champion");
        assert!(!args.no_register);
        assert_eq!(train_config(&args).unwrap(), TrainConfig::default());
    }

    #[test]
    fn hyper_parameters_are_overridable_and_checked() {
        let args = parse(&["--epochs", "10", "--test-fraction", "0.3"]);
        let config = train_config(&args).unwrap();
        assert_eq!((config.epochs, config.test_fraction), (10, 0.3));
        let err = train_config(&parse(&["--test-fraction", "1.5"])).unwrap_err();
        assert!(err.to_string().contains("--test-fraction"), "{err}");
        assert!(train_config(&parse(&["--learning-rate=-1"])).is_err());
    }

    #[test]
    fn reserved_or_malformed_aliases_are_refused() {
        for ok in ["champion", "challenger-2", "v1x", "prod_eu"] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "latest",
            "LATEST",
            "v3",
            "V12",
            "",
            "a b",
            "a/b",
            &"a".repeat(256),
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_register_excludes_no_alias() {
        let both = Cli::try_parse_from(["train", "--no-register", "--no-alias"]);
        assert!(both.is_err());
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        // Port 9 on loopback: nothing listens there in tests.
        let args = parse(&["--tracking-uri", "http://127.0.0.1:9", "--quiet"]);
        let err = train_and_log(&args).unwrap_err();
        assert!(format!("{err:#}").contains("127.0.0.1:9"), "{err:#}");
    }
}
