//! mlflow-ui: the MLflow web UI's static files, served from the component's files
//! mount (spin.toml mounts `target/mlflow-ui/site`, which `crates/ui-assets` builds
//! from the pinned mlflow wheel, at [`SITE`]).
//!
//! `GET`/`HEAD` of `/` and `/static-files/<path>` (see [`route`]); the file must be
//! listed in the site's manifest ([`assets`]), which gives its ETag and stored
//! `.br`/`.gz` variants ([`encoding`], [`caching`]). Other methods are 405, every
//! other path 404. [`plan`] decides the answer, `entry` does the I/O and `body`
//! streams the file.

pub mod assets;
#[cfg(target_arch = "wasm32")]
mod body;
pub mod caching;
pub mod content_type;
pub mod encoding;
#[cfg(target_arch = "wasm32")]
mod entry;
pub mod plan;
pub mod route;

/// Where spin.toml mounts the site inside the component.
pub const SITE: &str = "/";
