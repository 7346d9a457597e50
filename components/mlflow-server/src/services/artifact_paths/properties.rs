//! Property tests of the artifact path rules ([`safe_path`], [`from_artifact_uri`]):
//! whatever the text, a path is refused or accepted as one that stays under its root (no
//! `..`, no absolute or drive path, no backslash, `#` or NUL, in plain or percent-encoded
//! form), and checking never panics.
//!
//! 256 cases per property by default; run longer with e.g. `PROPTEST_CASES=100000 cargo
//! test --release -p mlflow-server paths_properties`.

use super::{from_artifact_uri, safe_path};
use proptest::prelude::*;
use proptest::sample::select;
use std::path::{Component, Path};

/// Pieces that path attacks are made of, plus harmless ones.
const PIECES: &[&str] = &[
    "..",
    ".",
    "/",
    "//",
    "\\",
    "#",
    "\0",
    ":",
    "C:",
    "c:",
    "%",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "%00",
    "%23",
    "%25",
    "%252e",
    "%3a",
    "%c3%a9",
    "%ff",
    "%e0%80",
    "a",
    "b c",
    "x.txt",
    "é",
    "~",
    "artifacts",
];

fn piece_text() -> impl Strategy<Value = String> {
    prop::collection::vec(select(PIECES), 0..12).prop_map(|p| p.concat())
}

/// `s` with each byte written as is or percent-encoded (upper or lower hex) at random.
fn encoded(s: String) -> impl Strategy<Value = String> {
    let n = s.len();
    prop::collection::vec(0u8..3, n).prop_map(move |how| {
        s.bytes()
            .zip(how)
            .map(|(b, h)| match h {
                0 if b.is_ascii() => (b as char).to_string(),
                1 => format!("%{b:02X}"),
                _ => format!("%{b:02x}"),
            })
            .collect()
    })
}

/// A relative path with a `..` segment somewhere.
fn parent_path() -> impl Strategy<Value = String> {
    let seg = |s: &'static [&'static str]| prop::collection::vec(select(s), 0..4);
    (
        seg(&["a", "b c", ".", "", "x.txt"]),
        seg(&["a", "..", ".", ""]),
    )
        .prop_map(|(before, after)| [before, vec![".."], after].concat().join("/"))
}

/// What an accepted path must be: relative, normal segments only, none of the refused
/// characters, so that joined to any root it names something under that root.
fn assert_contained(raw: &str, p: &str) -> Result<(), TestCaseError> {
    prop_assert!(!p.starts_with('/'), "{raw:?} -> {p:?}");
    prop_assert!(!p.contains(['\\', '#', '\0']), "{raw:?} -> {p:?}");
    let drive = p.len() >= 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic();
    prop_assert!(!drive, "{raw:?} -> {p:?}");
    // The empty path is the root itself.
    for seg in p.split('/').filter(|_| !p.is_empty()) {
        prop_assert!(!matches!(seg, "" | "." | ".."), "{raw:?} -> {p:?}");
    }
    prop_assert!(
        Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{raw:?} -> {p:?}"
    );
    let root = Path::new("/srv/artifacts");
    prop_assert!(root.join(p).starts_with(root), "{raw:?} -> {p:?}");
    Ok(())
}

proptest! {
    #[test]
    fn any_text_is_refused_or_contained(raw in any::<String>()) {
        if let Ok(p) = safe_path(&raw) {
            assert_contained(&raw, &p)?;
        }
    }

    #[test]
    fn attack_pieces_are_refused_or_contained(raw in piece_text()) {
        if let Ok(p) = safe_path(&raw) {
            assert_contained(&raw, &p)?;
            // Normalised: checking the result (as a literal) again changes nothing.
            prop_assert_eq!(safe_path(&p.replace('%', "%25")).unwrap(), p);
        }
    }

    #[test]
    fn a_parent_segment_is_refused_however_encoded(
        (plain, raw) in parent_path().prop_flat_map(|p| (Just(p.clone()), encoded(p)))
    ) {
        prop_assert!(safe_path(&raw).is_err(), "{plain:?} as {raw:?}");
    }

    #[test]
    fn absolute_backslash_and_nul_are_refused_however_encoded(
        path in piece_text(),
        bad in select(&["/", "\\", "\0", "#"][..]),
        at_start in any::<bool>(),
        how in 0u8..3,
    ) {
        let plain = if at_start { format!("{bad}{path}") } else { format!("{path}{bad}") };
        // The refused character itself, plain or encoded; the rest as is.
        let bad_form = match how {
            0 => bad.to_string(),
            1 => format!("%{:02X}", bad.as_bytes()[0]),
            _ => format!("%{:02x}", bad.as_bytes()[0]),
        };
        let raw = if at_start { format!("{bad_form}{path}") } else { format!("{path}{bad_form}") };
        // A trailing slash is only normalised away; everything else must be refused.
        if bad == "/" && !at_start {
            if let Ok(p) = safe_path(&raw) {
                assert_contained(&raw, &p)?;
            }
        } else {
            prop_assert!(safe_path(&raw).is_err(), "{plain:?} as {raw:?}");
        }
    }

    #[test]
    fn artifact_uris_give_contained_paths(rest in piece_text(), host in any::<bool>()) {
        let uri = if host {
            format!("mlflow-artifacts://h:5000/{rest}")
        } else {
            format!("mlflow-artifacts:{rest}")
        };
        if let Some(p) = from_artifact_uri(&uri) {
            assert_contained(&uri, &p)?;
        }
    }
}
