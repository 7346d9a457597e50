//! The text of the errors a guest gets, as Spin 3.6.3 words them.
//!
//! Spin formats a failure with anyhow's `{:?}`: the error, then a "Caused by:"
//! list of its sources. Spin 3.6.3 is built with tokio-postgres 0.7.12, whose
//! errors print their cause after a colon (`invalid connection string:
//! unexpected EOF`); later releases print the cause only as a source. The
//! functions here render both as Spin 3.6.3 shows them, and never append a
//! backtrace (anyhow would, with `RUST_BACKTRACE` set).

use std::error::Error as StdError;
use std::fmt::Write;

/// An error's own line, as Spin 3.6.3 shows it.
pub(super) fn line(error: &(dyn StdError + 'static)) -> String {
    match error.downcast_ref::<tokio_postgres::Error>() {
        Some(e) => match e.source() {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
        None => error.to_string(),
    }
}

/// `head`, then the chain from `cause` on, laid out as anyhow's `{:?}` lays
/// it out.
pub(super) fn with_causes(head: &str, cause: Option<&(dyn StdError + 'static)>) -> String {
    let mut out = head.to_string();
    let Some(first) = cause else {
        return out;
    };
    out.push_str("\n\nCaused by:");
    let numbered = first.source().is_some();
    let mut next = Some(first);
    let mut n = 0;
    while let Some(error) = next {
        out.push('\n');
        for (i, text) in line(error).split('\n').enumerate() {
            match (i, numbered) {
                (0, true) => {
                    let _ = write!(out, "{n: >5}: ");
                }
                (0, false) => out.push_str("    "),
                (_, true) => out.push_str("\n       "),
                (_, false) => out.push_str("\n    "),
            }
            out.push_str(text);
        }
        next = error.source();
        n += 1;
    }
    out
}

/// An error and its sources, as `format!("{:?}", anyhow::Error::from(e))`
/// prints them in Spin 3.6.3.
pub(super) fn chain(error: &(dyn StdError + 'static)) -> String {
    with_causes(&line(error), error.source())
}

/// An anyhow error made by this module (a message with context), laid out
/// as anyhow's `{:?}` does, without a backtrace.
pub(super) fn anyhow_text(error: &anyhow::Error) -> String {
    let head = error.to_string();
    let mut causes = error.chain().skip(1);
    match causes.next() {
        None => head,
        Some(first) => with_causes(&head, Some(first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_listed_as_anyhow_lists_them() {
        let one = anyhow::anyhow!("inner").context("outer");
        assert_eq!(anyhow_text(&one), "outer\n\nCaused by:\n    inner");
        let two = anyhow::anyhow!("root").context("middle").context("top");
        assert_eq!(
            anyhow_text(&two),
            "top\n\nCaused by:\n    0: middle\n    1: root"
        );
        assert_eq!(anyhow_text(&anyhow::anyhow!("alone")), "alone");
        let multiline = anyhow::anyhow!("a\nb").context("top");
        assert_eq!(anyhow_text(&multiline), "top\n\nCaused by:\n    a\n    b");
    }

    #[test]
    fn connection_string_errors_carry_their_reason() {
        let e = "host=".parse::<tokio_postgres::Config>().unwrap_err();
        assert!(
            line(&e).starts_with("invalid connection string: "),
            "{}",
            line(&e)
        );
    }
}
