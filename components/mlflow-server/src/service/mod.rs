//! Tracking services: experiments, runs, metrics, and the server-info endpoints.
//! Each module holds its handlers and its route table; `schema` holds the tracking tables.

pub mod experiments;
pub mod metrics;
pub mod runs;
pub mod server_info;
pub mod validation;

#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod user_error_tests;

/// MLflow's lifecycle stages.
pub const ACTIVE: &str = "active";
pub const DELETED: &str = "deleted";

/// `ACTIVE_ONLY` (default), `DELETED_ONLY` or `ALL`, as a SQL condition on `column`.
pub fn view_type_sql(view: Option<&str>, column: &str) -> crate::error::ApiResult<String> {
    Ok(
        match view.unwrap_or("ACTIVE_ONLY").to_ascii_uppercase().as_str() {
            "" | "ACTIVE_ONLY" | "1" => format!("{column} = 'active'"),
            "DELETED_ONLY" | "2" => format!("{column} = 'deleted'"),
            "ALL" | "3" => "1 = 1".to_string(),
            other => {
                return Err(crate::error::MlflowError::invalid(format!(
                    "Invalid view type '{other}'; expected ACTIVE_ONLY, DELETED_ONLY or ALL"
                )))
            }
        },
    )
}
