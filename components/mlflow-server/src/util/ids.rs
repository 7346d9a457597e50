//! Identifiers as MLflow shapes them: run ids are 32 lowercase hex digits (uuid4),
//! logged-model ids `m-` + 32 hex. Randomness comes from WASI random in the component.

pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn new_logged_model_id() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

/// A small random number, for generated names.
pub fn random_u32() -> u32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// MLflow's run id rule: `^[a-zA-Z0-9][\w\-]{0,255}$`.
pub fn is_valid_run_id(id: &str) -> bool {
    valid_id(id, 256)
}

/// MLflow's experiment id rule: `^[a-zA-Z0-9][\w\-]{0,63}$`.
pub fn is_valid_experiment_id(id: &str) -> bool {
    valid_id(id, 64)
}

fn valid_id(id: &str, max: usize) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && id.len() <= max
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_32_hex() {
        let id = new_run_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_run_id());
        assert!(new_logged_model_id().starts_with("m-"));
    }

    #[test]
    fn id_rules() {
        assert!(is_valid_run_id(&new_run_id()));
        assert!(!is_valid_run_id(""));
        assert!(!is_valid_run_id("-abc"));
        assert!(!is_valid_run_id("a/b"));
        assert!(is_valid_experiment_id("0"));
        assert!(!is_valid_experiment_id(&"1".repeat(65)));
    }
}
