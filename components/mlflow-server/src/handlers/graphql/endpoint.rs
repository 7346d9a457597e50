//! `POST /graphql` (JSON body) and `GET /graphql?query=&variables=&operationName=`.
//!
//! Answers as MLflow's server does: status 200 with `{"data": ..., "errors": [...]}`,
//! where `errors` lists the messages as plain strings (or is null). A request that is
//! not a GraphQL request (body not a JSON object, no `query`, a batch) is a 400 in
//! MLflow's error shape; a query that fails to parse, breaks a bound or fails
//! validation is answered with `data: null` and its error.

use super::limits;
use super::resolvers::DbJobs;
use super::schema;
use crate::error::{ApiResult, MlflowError};
use crate::http::route::{route, Ctx, PathParams, Route};
use crate::http::{body_to_json, ApiRequest, ApiResponse, Method};
use crate::store::db::Db;
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

/// Under `/`.
pub const ROUTES: &[Route] = &[
    route(Method::Post, "graphql", handle),
    route(Method::Get, "graphql", handle),
];

/// The parts of a GraphQL request this server reads.
#[derive(Debug, Default)]
pub struct GraphqlRequest {
    pub query: String,
    pub variables: Option<Map<String, Value>>,
    pub operation_name: Option<String>,
}

pub fn handle(ctx: &Ctx, req: &ApiRequest, _: &PathParams) -> ApiResult<ApiResponse> {
    let request = decode(req)?;
    ApiResponse::json(&execute(ctx.db, request))
}

fn bad(message: impl Into<String>) -> MlflowError {
    MlflowError::invalid(message)
}

/// The request from the query string (GET, or a POST without a body) or the JSON body.
pub fn decode(req: &ApiRequest) -> ApiResult<GraphqlRequest> {
    let blank = req.body.iter().all(u8::is_ascii_whitespace);
    let mut fields = if req.method == Method::Get || blank {
        let mut fields = Map::new();
        for name in ["query", "variables", "operationName"] {
            if let Some(v) = req.query_value(name) {
                fields.insert(name.to_string(), Value::String(v));
            }
        }
        fields
    } else {
        let first = req.body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            return Err(bad(
                "Batched GraphQL requests are not supported: send one operation per request.",
            ));
        }
        match body_to_json(&req.body)? {
            Value::Object(fields) => fields,
            _ => return Err(bad("The request body must be a JSON object.")),
        }
    };
    let query = match fields.remove("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q,
        Some(Value::String(_)) | Some(Value::Null) | None => {
            return Err(MlflowError::missing("query"))
        }
        Some(_) => return Err(bad("'query' must be a string.")),
    };
    let variables = match fields.remove("variables") {
        None | Some(Value::Null) => None,
        Some(Value::Object(v)) => Some(v),
        // The query string carries them as JSON text; some clients send text in a body.
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(Value::Object(v)) => Some(v),
            Ok(Value::Null) => None,
            _ => return Err(bad("'variables' must be a JSON object.")),
        },
        Some(_) => return Err(bad("'variables' must be a JSON object.")),
    };
    let operation_name = match fields.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.is_empty() => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(bad("'operationName' must be a string.")),
    };
    Ok(GraphqlRequest {
        query,
        variables,
        operation_name,
    })
}

/// The body of a GraphQL answer.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub data: async_graphql::Value,
    pub errors: Option<Vec<String>>,
}

impl Answer {
    fn error(message: String) -> Answer {
        Answer {
            data: async_graphql::Value::Null,
            errors: Some(vec![message]),
        }
    }
}

/// Bounds, parses, validates and runs one request against `db`.
pub fn execute(db: &dyn Db, request: GraphqlRequest) -> Answer {
    if let Err(message) = limits::check_text(&request.query) {
        return Answer::error(message);
    }
    let doc = match async_graphql::parser::parse_query(&request.query) {
        Ok(doc) => doc,
        Err(e) => return Answer::error(format!("Syntax error: {e}")),
    };
    if let Err(message) = limits::check_document(&doc) {
        return Answer::error(message);
    }
    let jobs = DbJobs::default();
    let mut gql = async_graphql::Request::new(request.query).data(jobs.clone());
    if let Some(v) = request.variables {
        gql = gql.variables(async_graphql::Variables::from_json(Value::Object(v)));
    }
    if let Some(name) = request.operation_name {
        gql = gql.operation_name(name);
    }
    gql.set_parsed_query(doc);
    let schema = schema::build();
    let Some(response) = drive(schema.execute(gql), &jobs, db) else {
        return Answer::error("The query stopped waiting on nothing; this is a server bug.".into());
    };
    let errors: Vec<String> = response.errors.into_iter().map(|e| e.message).collect();
    Answer {
        data: response.data,
        errors: (!errors.is_empty()).then_some(errors),
    }
}

/// Polls `fut` to completion on this thread. Execution only ever waits on database
/// jobs, so each time it waits, the queued jobs run and it is polled again; `None` if
/// it waits with nothing queued (it could never finish).
fn drive<F: Future>(fut: F, jobs: &DbJobs, db: &dyn Db) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let queued = jobs.take();
        if queued.is_empty() {
            return None;
        }
        for job in queued {
            job(db);
        }
    }
}
