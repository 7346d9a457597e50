//! HTTP handlers of MLflow 3 logged models (`/api/2.0/mlflow/logged-models/...`):
//! decode the request, call `services::logged_models`, encode the answer.

use crate::error::{required, ApiResult};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::artifacts;
use crate::services::logged_models::{self as store, NewLoggedModel};
use mlflow_wire::logged_models::{
    CreateLoggedModel, LoggedModelResponse, SearchLoggedModels, SearchLoggedModelsResponse,
    UpdateLoggedModel,
};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "logged-models", create),
    route(Method::Post, "logged-models/search", search),
    route(Method::Get, "logged-models/{model_id}", get),
    route(Method::Patch, "logged-models/{model_id}", finalize),
    route(Method::Delete, "logged-models/{model_id}", delete),
    route(Method::Patch, "logged-models/{model_id}/tags", set_tags),
    route(
        Method::Delete,
        "logged-models/{model_id}/tags/{tag_key}",
        delete_tag,
    ),
    route(Method::Post, "logged-models/{model_id}/params", log_params),
    route(
        Method::Get,
        "logged-models/{model_id}/artifacts/directories",
        list_artifacts,
    ),
];

fn model_response(model: mlflow_wire::logged_models::LoggedModel) -> ApiResult<ApiResponse> {
    ApiResponse::json(&LoggedModelResponse { model })
}

fn create(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: CreateLoggedModel = req.message()?;
    let experiment_id = required(&m.experiment_id, "experiment_id")?;
    let model = store::create(
        ctx.db,
        &NewLoggedModel {
            experiment_id,
            name: m.name.as_deref().filter(|n| !n.is_empty()),
            model_type: m.model_type.as_deref(),
            source_run_id: m.source_run_id.as_deref(),
            params: &m.params,
            tags: &m.tags,
        },
    )?;
    model_response(model)
}

fn get(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let allow_deleted = req
        .query_value("allow_deleted")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    model_response(store::get(ctx.db, p.get("model_id"), allow_deleted)?)
}

fn finalize(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let m: UpdateLoggedModel = req.message()?;
    let status = required(&m.status, "status")?;
    model_response(store::finalize(ctx.db, p.get("model_id"), status)?)
}

fn delete(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    store::delete(ctx.db, p.get("model_id"))?;
    ApiResponse::empty()
}

fn set_tags(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let m: UpdateLoggedModel = req.message()?;
    store::set_tags(ctx.db, p.get("model_id"), &m.tags)?;
    ApiResponse::empty()
}

fn delete_tag(ctx: &Ctx, _: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    store::delete_tag(ctx.db, p.get("model_id"), p.get("tag_key"))?;
    ApiResponse::empty()
}

fn log_params(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let m: UpdateLoggedModel = req.message()?;
    store::log_params(ctx.db, p.get("model_id"), &m.params)?;
    ApiResponse::empty()
}

fn search(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: SearchLoggedModels = req.message()?;
    let mut order = Vec::new();
    for o in &m.order_by {
        let field = required(&o.field_name, "order_by.field_name")?;
        order.push((field.to_string(), o.ascending.unwrap_or(true)));
    }
    let (models, next_page_token) = store::search(
        ctx.db,
        &m.experiment_ids,
        m.filter.as_deref(),
        &order,
        m.max_results,
        m.page_token.as_deref(),
    )?;
    ApiResponse::json(&SearchLoggedModelsResponse {
        models,
        next_page_token,
    })
}

/// Lists a directory of the model's artifacts (paths relative to the model root).
fn list_artifacts(ctx: &Ctx, req: &ApiRequest, p: &PathParams) -> ApiResult<ApiResponse> {
    let directory = req
        .query_value("artifact_directory_path")
        .unwrap_or_default();
    ApiResponse::json(&artifacts::list_logged_model_artifacts(
        ctx.db,
        ctx.artifacts,
        p.get("model_id"),
        &directory,
    )?)
}
