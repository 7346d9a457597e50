//! HTTP handlers of experiments (`/api/2.0/mlflow/experiments/...`): decode the message,
//! call `services::experiments`, encode the answer.

use crate::error::{required, ApiResult};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::experiments as service;
use mlflow_wire::tracking as wire;

pub const ROUTES: &[Route] = &[
    route(Method::Post, "experiments/create", create),
    route(Method::Get, "experiments/get", get),
    route(Method::Get, "experiments/get-by-name", get_by_name),
    route(Method::Post, "experiments/search", search),
    route(Method::Get, "experiments/search", search),
    route(Method::Post, "experiments/update", update),
    route(Method::Post, "experiments/delete", delete),
    route(Method::Post, "experiments/restore", restore),
    route(Method::Post, "experiments/set-experiment-tag", set_tag),
    route(
        Method::Post,
        "experiments/delete-experiment-tag",
        delete_tag,
    ),
];

fn create(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::CreateExperiment = req.message()?;
    let id = service::create_experiment(
        ctx.db,
        m.name.as_deref(),
        m.artifact_location.as_deref(),
        &m.tags,
    )?;
    ApiResponse::json(&wire::CreateExperimentResponse { experiment_id: id })
}

fn get(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    let experiment = service::get_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::json(&wire::ExperimentResponse { experiment })
}

fn get_by_name(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::GetExperimentByName = req.message()?;
    let name = required(&m.experiment_name, "experiment_name")?;
    let experiment = service::get_experiment_by_name(ctx.db, name)?;
    ApiResponse::json(&wire::ExperimentResponse { experiment })
}

fn search(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::SearchExperiments = req.message()?;
    ApiResponse::json(&service::search_experiments(ctx.db, &m)?)
}

fn update(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::UpdateExperiment = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    service::rename_experiment(ctx.db, id, Some(required(&m.new_name, "new_name")?))?;
    ApiResponse::empty()
}

fn delete(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    service::delete_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::empty()
}

fn restore(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentRef = req.message()?;
    service::restore_experiment(ctx.db, required(&m.experiment_id, "experiment_id")?)?;
    ApiResponse::empty()
}

fn set_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentTagRequest = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    service::set_experiment_tag(ctx.db, id, m.key.as_deref(), m.value.as_deref())?;
    ApiResponse::empty()
}

fn delete_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::ExperimentTagRequest = req.message()?;
    let id = required(&m.experiment_id, "experiment_id")?;
    let key = required(&m.key, "key")?;
    service::delete_experiment_tag(ctx.db, id, key)?;
    ApiResponse::empty()
}
