//! `POST /graphql` (and GET): the subset of MLflow's GraphQL schema that the MLflow web
//! UI queries (get run, get experiment, search runs, sampled metric histories, model
//! versions), on async-graphql.
//!
//! Layout: `schema` (MLflow's types, inputs and the `@component` directive; it turns each
//! input into the REST endpoint's request message), `resolvers` (each calls the service
//! function of the matching REST endpoint), `limits` (bounds checked before any work),
//! `endpoint` (its route table, HTTP in and out, execution).

pub mod endpoint;
pub mod limits;
pub mod resolvers;
pub mod schema;

#[cfg(test)]
mod tests;
