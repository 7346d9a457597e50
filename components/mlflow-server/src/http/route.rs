//! What a handler is: its signature ([`Handler`]), what it gets besides the request
//! ([`Ctx`], [`PathParams`]) and the route-table entries ([`Route`]) that each handler
//! module exports for `super::router`.

use super::{ApiRequest, ApiResponse, Method};
use crate::error::ApiResult;
use crate::store::artifact_store::ArtifactStore;
use crate::store::db::Db;

/// What a handler gets besides the request.
pub struct Ctx<'a> {
    pub db: &'a dyn Db,
    /// Where artifact bytes live (the database or S3).
    pub artifacts: &'a dyn ArtifactStore,
}

/// `{name}` segments captured from the route pattern, percent-decoded.
#[derive(Debug, Default)]
pub struct PathParams(pub(super) Vec<(&'static str, String)>);

impl PathParams {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

pub type Handler = fn(&Ctx, &ApiRequest, &PathParams) -> ApiResult<ApiResponse>;

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: Handler,
    /// The handler brings the schema up to date itself, when its first statement finds
    /// it behind (`store::migrations::SCHEMA_IS_CURRENT`), so the request skips the
    /// separate check that every other request makes first.
    pub checks_schema: bool,
}

/// Shorthand for building route tables.
pub const fn route(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        handler,
        checks_schema: false,
    }
}

/// A route whose handler checks the schema itself (see [`Route::checks_schema`]).
pub const fn route_checking_schema(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        checks_schema: true,
        ..route(method, path, handler)
    }
}
