//! `POST /graphql` (and GET): the subset of MLflow's GraphQL schema that the MLflow web
//! UI queries (get run, get experiment, search runs, sampled metric histories, model
//! versions), on async-graphql.
//!
//! Layout: `schema` (MLflow's types, inputs and the `@component` directive), `resolvers`
//! (each calls the service or registry function of the matching REST endpoint),
//! `limits` (bounds checked before any work), `endpoint` (HTTP in and out, execution).

pub mod endpoint;
pub mod limits;
pub mod resolvers;
pub mod schema;

#[cfg(test)]
mod tests;

use crate::http::route::{route, Route};
use crate::http::Method;

pub const ROUTES: &[Route] = &[
    route(Method::Post, "graphql", endpoint::handle),
    route(Method::Get, "graphql", endpoint::handle),
];
