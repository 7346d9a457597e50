//! Bounds on one filter or `order_by` list, checked while it is read (before the memory
//! it asks for is taken). MLflow itself sets none, but its SQL store then fails inside
//! the database (SQLite refuses expression trees deeper than 1000 and more than 32766
//! bound values): here such requests are user errors, INVALID_PARAMETER_VALUE (400),
//! like every other malformed filter. The bounds leave room for any filter a person
//! or the MLflow UI writes, and for generated `run_id IN (...)` lists of a full
//! search page.

use crate::error::MlflowError;

/// Bytes of one filter string (a 10,000-id IN list takes about 360,000).
pub const MAX_FILTER_BYTES: usize = 500_000;
/// Tokens in one filter: an IN list of MAX_FILTER_VALUES strings plus its commas and
/// the clauses around it.
pub const MAX_FILTER_TOKENS: usize = 2 * MAX_FILTER_VALUES + 4 * MAX_FILTER_CLAUSES;
/// `AND`-joined clauses in one filter: each adds a level to SQLite's expression tree
/// (988 clauses reached its depth limit of 1000).
pub const MAX_FILTER_CLAUSES: usize = 100;
/// Values in one filter, IN-list items included: each becomes a bound SQL parameter.
pub const MAX_FILTER_VALUES: usize = 10_000;
/// Items of one `order_by` list (each adds a sort key and a bound parameter).
pub const MAX_ORDER_BY_ITEMS: usize = 100;
/// Experiment ids of one search: bound parameters too, beside the filter's.
pub const MAX_SEARCH_EXPERIMENT_IDS: usize = 10_000;

/// The start of a user's text for an error message: messages stay short however long
/// the input (up to MAX_FILTER_BYTES) is.
pub fn excerpt(input: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 200;
    match input.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}...", &input[..end]).into(),
        None => input.into(),
    }
}

/// "Invalid <subject> exceeds the limit of <max>", as INVALID_PARAMETER_VALUE.
pub fn exceeded(subject: &str, max: usize) -> MlflowError {
    MlflowError::invalid(format!("Invalid {subject} exceeds the limit of {max}."))
}

/// Refuses an `order_by` list longer than [`MAX_ORDER_BY_ITEMS`].
pub fn check_order_by<T>(items: &[T]) -> Result<(), MlflowError> {
    if items.len() > MAX_ORDER_BY_ITEMS {
        return Err(exceeded(
            "order_by: the number of items",
            MAX_ORDER_BY_ITEMS,
        ));
    }
    Ok(())
}

/// Refuses more than [`MAX_SEARCH_EXPERIMENT_IDS`] experiment ids.
pub fn check_experiment_ids<T>(ids: &[T]) -> Result<(), MlflowError> {
    if ids.len() > MAX_SEARCH_EXPERIMENT_IDS {
        return Err(exceeded(
            "experiment_ids: the number of ids",
            MAX_SEARCH_EXPERIMENT_IDS,
        ));
    }
    Ok(())
}
