//! HTTP handlers of model versions (`/api/2.0/mlflow/model-versions/...`): decode the
//! message, check its fields, call `services::model_versions`, encode the answer.

use crate::error::{required, ApiResult};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::model_versions as versions;
use crate::services::registry_validation as v;
use mlflow_wire::registry::{
    CreateModelVersion, DownloadUriResponse, ModelVersionRequest, ModelVersionResponse,
    ModelVersionsResponse, SearchRegistry,
};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "model-versions/create", create_version),
    route(Method::Get, "model-versions/get", get_version),
    route(Method::Patch, "model-versions/update", update_version),
    route(Method::Delete, "model-versions/delete", delete_version),
    route(
        Method::Post,
        "model-versions/transition-stage",
        transition_stage,
    ),
    route(Method::Get, "model-versions/search", search_versions),
    route(Method::Get, "model-versions/get-download-uri", download_uri),
    route(Method::Post, "model-versions/set-tag", set_version_tag),
    route(
        Method::Delete,
        "model-versions/delete-tag",
        delete_version_tag,
    ),
];

fn version_response(model_version: mlflow_wire::registry::ModelVersion) -> ApiResult<ApiResponse> {
    ApiResponse::json(&ModelVersionResponse { model_version })
}

fn create_version(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: CreateModelVersion = req.message()?;
    version_response(versions::create(ctx.db, &m)?)
}

/// The (name, version) a version request names.
fn named_version(m: &ModelVersionRequest) -> ApiResult<(&str, i64)> {
    Ok((
        v::model_name(m.name.as_deref())?,
        v::version(m.version.as_deref())?,
    ))
}

fn get_version(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    version_response(versions::get(ctx.db, name, version)?)
}

fn update_version(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    version_response(versions::update(
        ctx.db,
        name,
        version,
        m.description.as_deref(),
    )?)
}

fn delete_version(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    versions::delete(ctx.db, name, version)?;
    ApiResponse::empty()
}

fn transition_stage(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    let stage = v::stage(m.stage.as_deref())?;
    let archive = m.archive_existing_versions.unwrap_or(false);
    version_response(versions::transition_stage(
        ctx.db, name, version, stage, archive,
    )?)
}

fn search_versions(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: SearchRegistry = req.message()?;
    let (model_versions, next_page_token) = versions::search(
        ctx.db,
        m.filter.as_deref(),
        m.max_results,
        &m.order_by,
        m.page_token.as_deref(),
    )?;
    ApiResponse::json(&ModelVersionsResponse {
        model_versions,
        next_page_token,
    })
}

fn download_uri(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    let artifact_uri = versions::download_uri(ctx.db, name, version)?;
    ApiResponse::json(&DownloadUriResponse { artifact_uri })
}

fn set_version_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    let (key, value) = v::tag(m.key.as_deref(), m.value.as_deref())?;
    versions::set_tag(ctx.db, name, version, &key, &value)?;
    ApiResponse::empty()
}

fn delete_version_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: ModelVersionRequest = req.message()?;
    let (name, version) = named_version(&m)?;
    versions::delete_tag(ctx.db, name, version, required(&m.key, "key")?)?;
    ApiResponse::empty()
}
