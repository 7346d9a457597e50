//! Resolvers: each calls the service function its REST endpoint calls, with the request
//! message `super::schema` made of the GraphQL input.
//!
//! async-graphql wants `Send + Sync + 'static` context data, while the database is a
//! `&dyn Db` borrowed for one request (and rusqlite's connection is not `Sync`). So a
//! resolver does not touch the database: it queues a job ([`DbJobs`]) and awaits its
//! answer; the endpoint runs the queued jobs with the database whenever execution
//! waits (see `endpoint::drive`). Everything stays on the request's one thread.

use crate::error::{required, ApiResult, MlflowError};
use crate::services::model_versions as versions;
use crate::services::registry_validation::{DEFAULT_SEARCH_VERSIONS, MAX_SEARCH_VERSIONS};
use crate::services::{experiments, metrics, runs};
use crate::store::db::Db;
use async_graphql::{Context, Error, Lookahead, Result};
use futures::channel::oneshot;
use mlflow_wire::registry::ModelVersion;
use mlflow_wire::tracking::{self as wire, Experiment, Run};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Job = Box<dyn FnOnce(&dyn Db) + Send>;

/// Database work queued by resolvers, run by the endpoint (one queue per request).
#[derive(Clone, Default)]
pub struct DbJobs(Arc<Mutex<Vec<Job>>>);

impl DbJobs {
    fn lock(&self) -> MutexGuard<'_, Vec<Job>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The jobs queued so far, in order.
    pub fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.lock())
    }
}

/// Runs `f` with the database (when the endpoint next runs the queue) and awaits it.
async fn with_db<T: Send + 'static>(
    ctx: &Context<'_>,
    f: impl FnOnce(&dyn Db) -> ApiResult<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = oneshot::channel();
    ctx.data::<DbJobs>()?.lock().push(Box::new(move |db| {
        // The receiver is gone only if execution was dropped: nothing to tell.
        let _ = tx.send(f(db));
    }));
    match rx.await {
        Ok(answer) => answer.map_err(|e| Error::new(e.message)),
        Err(_) => Err(Error::new(
            "The request ended before the database answered.",
        )),
    }
}

/// A run and, when the query selects them, its experiment and model versions, read
/// for a whole page of runs at once (one query per experiment, a few per page for the
/// versions) rather than once per run.
#[derive(Clone)]
pub struct RunNode {
    pub run: Arc<Run>,
    experiment: Option<Arc<Experiment>>,
    model_versions: Option<Arc<Vec<ModelVersion>>>,
}

/// Which of a run's extension fields a query selects.
#[derive(Clone, Copy)]
struct Wants {
    experiment: bool,
    model_versions: bool,
}

impl Wants {
    fn of(run: Lookahead<'_>) -> Wants {
        Wants {
            experiment: run.field("experiment").exists(),
            model_versions: run.field("modelVersions").exists(),
        }
    }
}

/// The nodes of `runs`, in order. What cannot be read ahead here is left for the
/// field's own resolver, which then reads it (or reports its error) for that run only.
fn run_nodes(db: &dyn Db, runs: Vec<Run>, wants: Wants) -> Vec<RunNode> {
    let mut experiments: HashMap<String, Option<Arc<Experiment>>> = HashMap::new();
    if wants.experiment {
        for run in &runs {
            let id = &run.info.experiment_id;
            if !experiments.contains_key(id) {
                let found = experiments::get_experiment(db, id).ok().map(Arc::new);
                experiments.insert(id.clone(), found);
            }
        }
    }
    let versions = if wants.model_versions {
        let ids: Vec<&str> = runs.iter().map(|r| r.info.run_id.as_str()).collect();
        versions_by_run(db, &ids).ok()
    } else {
        None
    };
    runs.into_iter()
        .map(|run| RunNode {
            experiment: experiments.get(&run.info.experiment_id).cloned().flatten(),
            model_versions: versions
                .as_ref()
                .map(|by_run| Arc::new(by_run.get(&run.info.run_id).cloned().unwrap_or_default())),
            run: Arc::new(run),
        })
        .collect()
}

/// The filter MLflow searches a run's model versions with. Run ids are generated
/// here (hex), so quoting them needs no escaping.
fn run_id_filter(ids: &[&str]) -> String {
    match ids {
        [one] => format!("run_id='{one}'"),
        _ => {
            let quoted: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
            format!("run_id IN ({})", quoted.join(", "))
        }
    }
}

/// Run ids per `run_id IN (...)` search (well under the filter's bound on values).
const RUNS_PER_VERSION_SEARCH: usize = 1000;

/// The model versions of many runs, each run's as its own search would list them
/// (same order, same page size), read with IN searches.
fn versions_by_run(db: &dyn Db, ids: &[&str]) -> ApiResult<HashMap<String, Vec<ModelVersion>>> {
    let mut by_run: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for chunk in ids.chunks(RUNS_PER_VERSION_SEARCH) {
        let filter = run_id_filter(chunk);
        let mut token: Option<String> = None;
        loop {
            let (page, next) = versions::search(
                db,
                Some(&filter),
                Some(MAX_SEARCH_VERSIONS),
                &[],
                token.as_deref(),
            )?;
            for v in page {
                let list = by_run
                    .entry(v.run_id.clone().unwrap_or_default())
                    .or_default();
                if (list.len() as i64) < DEFAULT_SEARCH_VERSIONS {
                    list.push(v);
                }
            }
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    Ok(by_run)
}

pub async fn get_run(ctx: &Context<'_>, m: wire::RunRef) -> Result<RunNode> {
    let wants = Wants::of(ctx.look_ahead().field("run"));
    with_db(ctx, move |db| {
        let run = runs::get_run(db, &m)?;
        run_nodes(db, vec![run], wants)
            .pop()
            .ok_or_else(|| MlflowError::internal("The run was read but not answered."))
    })
    .await
}

/// A page of runs (as nodes) and the token of the next page.
pub async fn search_runs(
    ctx: &Context<'_>,
    m: wire::SearchRuns,
) -> Result<(Vec<RunNode>, Option<String>)> {
    let wants = Wants::of(ctx.look_ahead().field("runs"));
    with_db(ctx, move |db| {
        let found = runs::search_runs(db, &m)?;
        Ok((run_nodes(db, found.runs, wants), found.next_page_token))
    })
    .await
}

pub async fn get_experiment(
    ctx: &Context<'_>,
    experiment_id: Option<String>,
) -> Result<Arc<Experiment>> {
    with_db(ctx, move |db| {
        let id = required(&experiment_id, "experiment_id")?;
        experiments::get_experiment(db, id).map(Arc::new)
    })
    .await
}

pub async fn metric_history_bulk_interval(
    ctx: &Context<'_>,
    m: wire::GetMetricHistoryBulkInterval,
) -> Result<wire::MetricsResponse> {
    with_db(ctx, move |db| metrics::history_bulk_interval(db, &m)).await
}

/// A page of model versions (`filter`, page size, `order_by` and token as in the REST
/// search) and the token of the next page.
pub async fn search_model_versions(
    ctx: &Context<'_>,
    filter: Option<String>,
    max_results: Option<i64>,
    order_by: Vec<String>,
    page_token: Option<String>,
) -> Result<(Vec<ModelVersion>, Option<String>)> {
    with_db(ctx, move |db| {
        versions::search(
            db,
            filter.as_deref(),
            max_results,
            &order_by,
            page_token.as_deref(),
        )
    })
    .await
}

/// `run.experiment`: read ahead with the run, or read now.
pub async fn run_experiment(ctx: &Context<'_>, node: &RunNode) -> Result<Arc<Experiment>> {
    if let Some(e) = &node.experiment {
        return Ok(e.clone());
    }
    let id = node.run.info.experiment_id.clone();
    with_db(ctx, move |db| {
        experiments::get_experiment(db, &id).map(Arc::new)
    })
    .await
}

/// `run.modelVersions`: read ahead with the run, or searched now by its run id.
pub async fn run_model_versions(ctx: &Context<'_>, node: &RunNode) -> Result<Vec<ModelVersion>> {
    if let Some(v) = &node.model_versions {
        return Ok(v.to_vec());
    }
    let filter = run_id_filter(&[node.run.info.run_id.as_str()]);
    with_db(ctx, move |db| {
        versions::search(db, Some(&filter), None, &[], None).map(|(found, _)| found)
    })
    .await
}
