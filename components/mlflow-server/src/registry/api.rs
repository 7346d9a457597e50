//! HTTP handlers of the model registry (`/api/2.0/mlflow/registered-models/...` and
//! `/model-versions/...`): decode the message, validate, call the store, encode.

use super::validation as v;
use super::{models, versions};
use crate::error::{required, ApiResult};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use mlflow_wire::registry::{
    CreateModelVersion, CreateRegisteredModel, DownloadUriResponse, ModelVersionRequest,
    ModelVersionResponse, ModelVersionsResponse, RegisteredModelRequest, RegisteredModelResponse,
    RegisteredModelsResponse, SearchRegistry,
};

pub const ROUTES: &[Route] = &[
    route(Method::Post, "registered-models/create", create_model),
    route(Method::Post, "registered-models/rename", rename_model),
    route(Method::Patch, "registered-models/update", update_model),
    route(Method::Delete, "registered-models/delete", delete_model),
    route(Method::Get, "registered-models/get", get_model),
    route(Method::Get, "registered-models/search", search_models),
    route(
        Method::Post,
        "registered-models/get-latest-versions",
        latest_versions,
    ),
    route(
        Method::Get,
        "registered-models/get-latest-versions",
        latest_versions,
    ),
    route(Method::Post, "registered-models/set-tag", set_model_tag),
    route(
        Method::Delete,
        "registered-models/delete-tag",
        delete_model_tag,
    ),
    route(Method::Post, "registered-models/alias", set_alias),
    route(Method::Delete, "registered-models/alias", delete_alias),
    route(Method::Get, "registered-models/alias", get_by_alias),
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

fn model_response(
    registered_model: mlflow_wire::registry::RegisteredModel,
) -> ApiResult<ApiResponse> {
    ApiResponse::json(&RegisteredModelResponse { registered_model })
}

fn version_response(model_version: mlflow_wire::registry::ModelVersion) -> ApiResult<ApiResponse> {
    ApiResponse::json(&ModelVersionResponse { model_version })
}

fn create_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: CreateRegisteredModel = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    model_response(models::create(
        ctx.db,
        name,
        &m.tags,
        m.description.as_deref(),
    )?)
}

fn rename_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    let new_name = v::new_model_name(m.new_name.as_deref())?;
    model_response(models::rename(ctx.db, name, new_name)?)
}

fn update_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    model_response(models::update(ctx.db, name, m.description.as_deref())?)
}

fn delete_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    models::delete(ctx.db, v::model_name(m.name.as_deref())?)?;
    ApiResponse::empty()
}

fn get_model(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    model_response(models::get(ctx.db, v::model_name(m.name.as_deref())?)?)
}

fn search_models(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: SearchRegistry = req.message()?;
    let (registered_models, next_page_token) = models::search(
        ctx.db,
        m.filter.as_deref(),
        m.max_results,
        &m.order_by,
        m.page_token.as_deref(),
    )?;
    ApiResponse::json(&RegisteredModelsResponse {
        registered_models,
        next_page_token,
    })
}

fn latest_versions(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    models::require(ctx.db, name)?;
    let model_versions = models::latest_versions(ctx.db, name, &m.stages)?;
    ApiResponse::json(&ModelVersionsResponse {
        model_versions,
        next_page_token: None,
    })
}

fn set_model_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    let (key, value) = v::tag(m.key.as_deref(), m.value.as_deref())?;
    models::set_tag(ctx.db, name, &key, &value)?;
    ApiResponse::empty()
}

fn delete_model_tag(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    models::delete_tag(ctx.db, name, required(&m.key, "key")?)?;
    ApiResponse::empty()
}

fn set_alias(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    let alias = v::alias(m.alias.as_deref())?;
    v::alias_not_reserved(alias)?;
    let version = v::version(m.version.as_deref())?;
    models::set_alias(ctx.db, name, alias, version)?;
    ApiResponse::empty()
}

fn delete_alias(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    models::delete_alias(ctx.db, name, v::alias(m.alias.as_deref())?)?;
    ApiResponse::empty()
}

fn get_by_alias(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    let alias = v::alias(m.alias.as_deref())?;
    version_response(models::version_by_alias(ctx.db, name, alias)?)
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
