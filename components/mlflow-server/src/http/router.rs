//! The router: one dispatch table per API area.
//!
//! # Adding a service area
//! 1. Write a module under `handlers` with handlers of type [`Handler`] and a
//!    `pub const ROUTES: &[Route]` table (see `super::route`; paths relative to the area
//!    prefix; `{name}` matches one path segment and `{*name}` the rest of the path, raw;
//!    both are read with [`PathParams::get`]).
//! 2. Add one line to [`AREAS`] naming the prefixes it serves (e.g. [`MLFLOW_V2`] serves
//!    both `/api/2.0/mlflow/` and its `/ajax-api/2.0/mlflow/` alias).
//! 3. Put the area's rules in a `services` module and its SQL in `store` modules (one
//!    per entity). If the area has tables, give it its own `&[Migration]` list under
//!    `store::schema` and add one line to `store::migrations::AREAS` (steps are versioned
//!    per area, so areas never collide).
//!
//! Handlers decode their message with [`ApiRequest::message`] (query string for GET, JSON
//! body otherwise), return `Err(MlflowError)` for failures (rendered once, by
//! [`dispatch`]), and never panic. Paths no table claims answer a plain 404, which the
//! MLflow client reads as "endpoint not supported" and falls back.

use super::route::{Ctx, Handler, PathParams, Route};
use super::{ApiRequest, ApiResponse, Method};

pub struct Area {
    pub prefixes: &'static [&'static str],
    pub routes: &'static [Route],
}

pub const MLFLOW_V2: &[&str] = &["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"];
pub const MLFLOW_V3: &[&str] = &["/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"];
pub const ARTIFACTS_V2: &[&str] = &["/api/2.0/mlflow-artifacts/"];
pub const ROOT: &[&str] = &["/"];

/// Every area the server answers. Model registry and logged models plug in here.
pub const AREAS: &[Area] = &[
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::experiments::ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::runs::ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::metrics::ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::artifacts::TRACKING_ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::registered_models::ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::model_versions::ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::logged_models::ROUTES,
    },
    Area {
        prefixes: ARTIFACTS_V2,
        routes: crate::handlers::artifacts::PROXY_ROUTES,
    },
    Area {
        prefixes: MLFLOW_V3,
        routes: crate::handlers::server_info::V3_ROUTES,
    },
    Area {
        prefixes: ROOT,
        routes: crate::handlers::server_info::ROOT_ROUTES,
    },
    Area {
        prefixes: ROOT,
        routes: crate::handlers::graphql::endpoint::ROUTES,
    },
    Area {
        prefixes: ROOT,
        routes: crate::handlers::web_ui::ROOT_ROUTES,
    },
    Area {
        prefixes: MLFLOW_V2,
        routes: crate::handlers::web_ui::V2_ROUTES,
    },
    Area {
        prefixes: MLFLOW_V3,
        routes: crate::handlers::web_ui::V3_ROUTES,
    },
];

fn match_pattern(pattern: &'static str, path: &str) -> Option<PathParams> {
    let mut params = PathParams::default();
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(h)) if w.starts_with("{*") && w.ends_with('}') => {
                // Wildcard: the rest of the path, left percent-encoded for the handler.
                let rest: Vec<&str> = std::iter::once(h).chain(have.by_ref()).collect();
                params.0.push((&w[2..w.len() - 1], rest.join("/")));
                return Some(params);
            }
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') && !h.is_empty() => {
                let decoded = percent_encoding::percent_decode_str(h)
                    .decode_utf8_lossy()
                    .into_owned();
                params.0.push((&w[1..w.len() - 1], decoded));
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

/// Finds the handler for a request, if any table claims it.
pub fn find(method: Method, path: &str) -> Option<(Handler, PathParams)> {
    find_route(method, path).map(|(r, params)| (r.handler, params))
}

/// Whether the request's handler checks the schema itself ([`Route::checks_schema`]).
pub fn checks_schema_itself(method: Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    find_route(method, path).is_some_and(|(r, _)| r.checks_schema)
}

fn find_route(method: Method, path: &str) -> Option<(&'static Route, PathParams)> {
    for area in AREAS {
        for prefix in area.prefixes {
            let Some(rest) = path.strip_prefix(prefix) else {
                continue;
            };
            for r in area.routes {
                if r.method != method {
                    continue;
                }
                if let Some(params) = match_pattern(r.path, rest) {
                    return Some((r, params));
                }
            }
        }
    }
    None
}

/// Routes a buffered request and renders errors the MLflow way.
pub fn dispatch(ctx: &Ctx, req: &ApiRequest) -> ApiResponse {
    let path = req.path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    match find(req.method, path) {
        Some((handler, params)) => {
            handler(ctx, req, &params).unwrap_or_else(|e| ApiResponse::error(&e))
        }
        None => ApiResponse::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_segments() {
        let p = match_pattern(
            "logged-models/{id}/tags/{key}",
            "logged-models/m-1/tags/a%2Fb",
        )
        .unwrap();
        assert_eq!(p.get("id"), "m-1");
        assert_eq!(p.get("key"), "a/b");
        assert!(match_pattern("logged-models/{id}", "logged-models/").is_none());
        assert!(match_pattern("runs/get", "runs/get/x").is_none());
        let p = match_pattern("artifacts/{*path}", "artifacts/1/r/artifacts/a%20b.txt").unwrap();
        assert_eq!(p.get("path"), "1/r/artifacts/a%20b.txt");
    }

    #[test]
    fn ajax_alias_and_unknown_paths() {
        assert!(find(Method::Post, "/api/2.0/mlflow/runs/create").is_some());
        assert!(find(Method::Post, "/ajax-api/2.0/mlflow/runs/create").is_some());
        assert!(find(Method::Get, "/api/2.0/mlflow/runs/create").is_none());
        assert!(find(Method::Get, "/api/2.0/mlflow/webhooks").is_none());
        assert!(find(Method::Get, "/api/2.0/mlflow/nope").is_none());
    }
}
