//! HTTP handlers of registered models and their aliases
//! (`/api/2.0/mlflow/registered-models/...`): decode the message, check its fields, call
//! `services::registered_models` or `services::aliases`, encode the answer.

use crate::error::{required, ApiResult};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::services::registry_validation as v;
use crate::services::{aliases, registered_models as models};
use mlflow_wire::registry::{
    CreateRegisteredModel, ModelVersionResponse, ModelVersionsResponse, RegisteredModelRequest,
    RegisteredModelResponse, RegisteredModelsResponse, SearchRegistry,
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
    aliases::set_alias(ctx.db, name, alias, version)?;
    ApiResponse::empty()
}

fn delete_alias(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    aliases::delete_alias(ctx.db, name, v::alias(m.alias.as_deref())?)?;
    ApiResponse::empty()
}

fn get_by_alias(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let m: RegisteredModelRequest = req.message()?;
    let name = v::model_name(m.name.as_deref())?;
    let alias = v::alias(m.alias.as_deref())?;
    version_response(aliases::version_by_alias(ctx.db, name, alias)?)
}
