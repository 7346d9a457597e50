//! `POST /graphql`: the subset of MLflow's GraphQL schema that the MLflow web UI queries.

use crate::http::router::Route;

pub const ROUTES: &[Route] = &[];
