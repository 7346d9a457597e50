//! Tests that go through the router (`http::router::dispatch`) as a client's requests do.
//! They live apart from the handlers they exercise, since the router imports those.

mod artifacts;
mod metrics;
mod registry;
mod user_errors;
