//! MLflow's lifecycle stages as stored in `lifecycle_stage` columns, and the view types
//! of searches as SQL conditions on such a column.

pub const ACTIVE: &str = "active";
pub const DELETED: &str = "deleted";

/// Which lifecycle stages a search lists (`ACTIVE_ONLY`, `DELETED_ONLY` or `ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewType {
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// The view as a SQL condition on `column`.
    pub fn sql(self, column: &str) -> String {
        match self {
            ViewType::ActiveOnly => format!("{column} = 'active'"),
            ViewType::DeletedOnly => format!("{column} = 'deleted'"),
            ViewType::All => "1 = 1".to_string(),
        }
    }
}
