//! The tables, as versioned migration steps per area: `tracking` (experiments, runs,
//! params, tags, metrics, inputs), `registry` (registered models, versions, aliases,
//! logged models) and `artifacts` (chunked files, pending uploads). Append new steps;
//! never edit shipped ones. `super::migrations` applies them.

pub mod artifacts;
pub mod registry;
pub mod tracking;

/// One schema step: single SQL statements run in order inside one transaction.
pub struct Migration {
    pub area: &'static str,
    pub version: i64,
    pub statements: &'static [&'static str],
}
