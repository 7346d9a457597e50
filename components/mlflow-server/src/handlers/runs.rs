//! HTTP handlers of runs (`/api/2.0/mlflow/runs/...`, metrics aside): decode the message,
//! call `services::runs`, encode the answer.

use crate::error::{ApiResult, MlflowError};
use crate::http::route::{route, route_checking_schema, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::runs as service;
use crate::services::validation::MAX_BATCH_BODY_BYTES;
use mlflow_wire::tracking as wire;

pub const ROUTES: &[Route] = &[
    route_checking_schema(Method::Post, "runs/create", create),
    route(Method::Get, "runs/get", get),
    route(Method::Post, "runs/update", update),
    route(Method::Post, "runs/delete", delete),
    route(Method::Post, "runs/restore", restore),
    route_checking_schema(Method::Post, "runs/search", search),
    route_checking_schema(Method::Get, "runs/search", search),
    route(Method::Post, "runs/log-parameter", log_param),
    route(Method::Post, "runs/set-tag", set_tag),
    route(Method::Post, "runs/delete-tag", delete_tag),
    route(Method::Post, "runs/log-batch", log_batch),
    route(Method::Post, "runs/log-inputs", log_inputs),
    route(Method::Post, "runs/outputs", log_outputs),
    route(Method::Post, "runs/log-model", log_model),
];

fn create(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::CreateRun = req.message()?;
    let run = service::create_run(ctx.db, &m)?;
    ApiResponse::json(&wire::RunResponse { run })
}

fn get(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    ApiResponse::json(&wire::RunResponse {
        run: service::get_run(ctx.db, &m)?,
    })
}

fn update(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::UpdateRun = req.message()?;
    let run_info = service::update_run(ctx.db, &m)?;
    ApiResponse::json(&wire::UpdateRunResponse { run_info })
}

fn delete(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    service::delete_run(ctx.db, &m)?;
    ApiResponse::empty()
}

fn restore(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunRef = req.message()?;
    service::restore_run(ctx.db, &m)?;
    ApiResponse::empty()
}

fn search(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::SearchRuns = req.message()?;
    ApiResponse::json(&service::search_runs(ctx.db, &m)?)
}

fn log_param(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    service::log_param(ctx.db, &m)?;
    ApiResponse::empty()
}

fn set_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    service::set_tag(ctx.db, &m)?;
    ApiResponse::empty()
}

fn delete_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::RunKeyValue = req.message()?;
    service::delete_tag(ctx.db, &m)?;
    ApiResponse::empty()
}

fn log_batch(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    if req.body.len() > MAX_BATCH_BODY_BYTES {
        return Err(MlflowError::invalid(format!(
            "Batched logging API requests must be at most {} bytes, got a request of {} bytes.",
            MAX_BATCH_BODY_BYTES,
            req.body.len()
        )));
    }
    let m: wire::LogBatch = req.message()?;
    service::log_batch_checked(ctx.db, &m)?;
    ApiResponse::empty()
}

fn log_inputs(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogInputs = req.message()?;
    service::log_inputs(ctx.db, &m)?;
    ApiResponse::empty()
}

fn log_outputs(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogOutputs = req.message()?;
    service::log_outputs(ctx.db, &m)?;
    ApiResponse::empty()
}

fn log_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: wire::LogModel = req.message()?;
    service::log_model(ctx.db, &m)?;
    ApiResponse::empty()
}
