//! Small helpers: clock, identifiers, generated run names, page tokens.

pub mod ids;
pub mod names;
pub mod page_token;
pub mod time;
