//! MLflow's search filter language: a tokenizer ([`lexer`]), a parser into typed clauses
//! ([`parser`]), bounds on their size ([`limits`]), and per-entity validation + SQL generation
//! ([`runs`], [`experiments`], and [`registry`] for registered models, model versions and
//! logged models), which the store modules use.
//! Values only ever reach SQL as bound parameters.

pub mod experiments;
pub mod lexer;
pub mod limits;
pub mod parser;
#[cfg(test)]
mod properties;
pub mod registry;
pub mod runs;
pub mod sql;
