//! Endpoints only the MLflow web UI calls (outside the REST API the clients use).

use crate::http::router::Route;

pub const ROOT_ROUTES: &[Route] = &[];
pub const V2_ROUTES: &[Route] = &[];
pub const V3_ROUTES: &[Route] = &[];
