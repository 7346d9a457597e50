//! The text of a PostgreSQL backend's failures, ending in the SQLSTATE that
//! `crate::error::StoreFailure` classifies: the server's own code when it sent one,
//! else the standard client-side code for a connection that cannot be made (`08001`)
//! or is lost (`08006`).
//!
//! Spin's `query` hands over a failure raised while the statement runs (a unique
//! violation, a deadlock, a session the server ends) as text only, without its code
//! (Spin 3.6.3 does; `spinflow up` answers the same): `db error: ERROR: deadlock
//! detected…`. For the failures whose meaning matters here, the code is read back from
//! the severity and the server's message, which PostgreSQL words in English unless its
//! `lc_messages` says otherwise; any other such failure stays without a code (a 500).

/// A failure the server reported, with its SQLSTATE.
pub fn server_error(message: &str, code: &str) -> String {
    format!("{message} (SQLSTATE {code})")
}

/// No connection could be made (refused, unreachable, not permitted, bad credentials).
pub fn cannot_connect(reason: &str) -> String {
    let reason = without_backtrace(reason);
    format!("cannot connect to PostgreSQL: {reason} (SQLSTATE 08001)")
}

/// A failure without a server code: a conflict or an ended session told as text gets
/// its code back, a lost connection is marked as such, anything else is passed on as
/// it is.
pub fn client_error(text: &str) -> String {
    let text = without_backtrace(text);
    if let Some(code) = code_of_server_text(text) {
        server_error(text, code)
    } else if connection_lost(text) {
        format!("lost the connection to PostgreSQL: {text} (SQLSTATE 08006)")
    } else {
        text.to_string()
    }
}

/// Messages of the transaction conflicts, by which a text-only failure is recognised.
const CONFLICTS: &[(&str, &str)] = &[
    ("ERROR: deadlock detected", "40P01"),
    ("ERROR: could not serialize access", "40001"),
];

/// The SQLSTATE of a server failure told as text (`db error: SEVERITY: message`), for
/// the ones recognised: the conflicts above, and any FATAL or PANIC, with which the
/// server ends the session (shutting down, terminated): the connection is lost.
fn code_of_server_text(text: &str) -> Option<&'static str> {
    let first = text.lines().next()?.strip_prefix("db error: ")?;
    if first.starts_with("FATAL: ") || first.starts_with("PANIC: ") {
        return Some("08006");
    }
    CONFLICTS
        .iter()
        .find(|(message, _)| first.starts_with(message))
        .map(|(_, code)| *code)
}

/// The text without the host's stack trace: Spin words errors with anyhow's `{:?}`,
/// which appends one when the host runs with `RUST_BACKTRACE` set; it says where the
/// host was, not what failed.
fn without_backtrace(text: &str) -> &str {
    text.split_once("Stack backtrace:")
        .map_or(text, |(reason, _)| reason)
        .trim_end()
}

/// Whether a driver error's text (tokio-postgres's, in its debug form as Spin hands it
/// to the guest, or its display form) says the connection is gone.
fn connection_lost(text: &str) -> bool {
    text.contains("kind: Closed")
        || text.contains("kind: Io")
        || text.starts_with("connection closed")
        || text.starts_with("error communicating with the server")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StoreError, StoreFailure};

    fn failure(text: String) -> StoreFailure {
        StoreFailure::of(&StoreError(text))
    }

    #[test]
    fn lost_and_refused_connections_are_unavailable() {
        for lost in [
            "Error { kind: Closed, cause: None }",
            "Error { kind: Io, cause: Some(Os { code: 104, kind: ConnectionReset }) }",
            "connection closed",
            "error communicating with the server: Connection reset by peer (os error 104)",
        ] {
            assert_eq!(
                failure(client_error(lost)),
                StoreFailure::Unavailable,
                "{lost}"
            );
        }
        let refused = "Error occurred while creating a new object: error connecting to server: \
                       Connection refused (os error 111)\n\nCaused by:\n    0: x\n    1: y";
        assert_eq!(failure(cannot_connect(refused)), StoreFailure::Unavailable);
    }

    #[test]
    fn the_hosts_stack_trace_is_left_out() {
        let traced = "error connecting to server: Connection refused (os error 111)\n\n\
                      Stack backtrace:\n   0: anyhow::error::from\n   1: wasmtime::fiber";
        assert_eq!(
            cannot_connect(traced),
            "cannot connect to PostgreSQL: error connecting to server: Connection refused \
             (os error 111) (SQLSTATE 08001)"
        );
        assert_eq!(failure(cannot_connect(traced)), StoreFailure::Unavailable);
    }

    #[test]
    fn conflicts_and_ended_sessions_told_as_text_get_their_code() {
        // As Spin 3.6.3 words a failure raised while a statement runs.
        let deadlock = "db error: ERROR: deadlock detected\nDETAIL: Process 1 waits for \
                        ShareLock on transaction 2; blocked by process 3.\n\nCaused by:\n    \
                        ERROR: deadlock detected";
        assert!(client_error(deadlock).ends_with("(SQLSTATE 40P01)"));
        assert_eq!(failure(client_error(deadlock)), StoreFailure::Conflict);
        let serialization = "db error: ERROR: could not serialize access due to concurrent \
                             update\n\nCaused by:\n    ERROR: could not serialize access";
        assert_eq!(failure(client_error(serialization)), StoreFailure::Conflict);
        let terminated = "db error: FATAL: terminating connection due to administrator \
                          command\n\nCaused by:\n    FATAL: terminating connection";
        assert_eq!(failure(client_error(terminated)), StoreFailure::Unavailable);
        let unique = "db error: ERROR: duplicate key value violates unique constraint \
                      \"u_pkey\"\nDETAIL: Key (id)=(1) already exists.";
        assert_eq!(failure(client_error(unique)), StoreFailure::Failed);
        // A message that only quotes such words elsewhere is not one of them.
        let quoted = "db error: ERROR: invalid input syntax: \"ERROR: deadlock detected\"";
        assert_eq!(failure(client_error(quoted)), StoreFailure::Failed);
    }

    #[test]
    fn other_failures_keep_their_meaning() {
        assert_eq!(
            failure(client_error(
                "query result exceeds limit of 134217728 bytes"
            )),
            StoreFailure::Failed
        );
        assert_eq!(
            failure(server_error("duplicate key value", "23505")),
            StoreFailure::Failed
        );
        assert_eq!(
            failure(server_error("deadlock detected", "40P01")),
            StoreFailure::Conflict
        );
    }
}
