//! Request path -> the file it names inside the site, or nothing.
//!
//! MLflow's UI build expects `/` (its index.html) and `/static-files/<path>` (every
//! asset, favicon and web manifest included). Everything is decoded once and checked
//! segment by segment, so that no spelling of `..`, `/`, `\` or NUL can leave the
//! site directory; a refused path is answered like a missing file (404).

/// Where MLflow's UI looks for its assets (relative URLs in its index.html).
pub const ASSET_PREFIX: &str = "/static-files/";

/// The page served at `/`.
pub const INDEX: &str = "index.html";

/// Longest request path considered (the longest UI asset name is well under 200).
const MAX_PATH: usize = 1024;

/// The site-relative file for a request target (`/static-files/a/b.js?x` -> `a/b.js`).
pub fn resolve(path_with_query: &str) -> Option<String> {
    let path = path_with_query.split(['?', '#']).next().unwrap_or_default();
    if path.len() > MAX_PATH {
        return None;
    }
    if path == "/" {
        return Some(INDEX.to_string());
    }
    let rest = path.strip_prefix(ASSET_PREFIX)?;
    let mut out = String::with_capacity(rest.len());
    for raw in rest.split('/') {
        let segment = decode_segment(raw)?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&segment);
    }
    Some(out)
}

/// One decoded path segment, or `None` for one that could escape or hide something:
/// empty, `.`/`..`, a dotfile (the site's own manifest is one), or holding a slash,
/// backslash or control character once decoded (`%2f`, `%5c`, `%00`).
fn decode_segment(raw: &str) -> Option<String> {
    let segment = String::from_utf8(percent_decode(raw.as_bytes())?).ok()?;
    let bad_char = |c: char| c == '/' || c == '\\' || c.is_control();
    if segment.is_empty() || segment.starts_with('.') || segment.contains(bad_char) {
        return None;
    }
    Some(segment)
}

/// Strict percent-decoding: a `%` not followed by two hex digits refuses the path.
fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = hex(*raw.get(i + 1)?)?;
            let lo = hex(*raw.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_index_and_assets_live_under_static_files() {
        assert_eq!(resolve("/").as_deref(), Some("index.html"));
        assert_eq!(resolve("/?x=1").as_deref(), Some("index.html"));
        assert_eq!(
            resolve("/static-files/static/js/main.c2f5f8d4.js?v=2").as_deref(),
            Some("static/js/main.c2f5f8d4.js")
        );
        assert_eq!(
            resolve("/static-files/favicon.ico").as_deref(),
            Some("favicon.ico")
        );
    }

    #[test]
    fn percent_encoded_names_are_decoded_once() {
        assert_eq!(resolve("/static-files/a%20b.js").as_deref(), Some("a b.js"));
        assert_eq!(
            resolve("/static-files/%C3%A9.svg").as_deref(),
            Some("é.svg")
        );
        // Double encoding stays literal: a file named `%2e%2e`, which no site has.
        assert_eq!(
            resolve("/static-files/%252e%252e").as_deref(),
            Some("%2e%2e")
        );
    }

    #[test]
    fn other_paths_are_not_the_ui() {
        for path in [
            "",
            "/index.html",
            "/static-files",
            "/static-files/",
            "/static-filesx/a.js",
            "/api/2.0/mlflow/experiments/search",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn traversal_in_every_spelling_is_refused() {
        for path in [
            "/static-files/../spin.toml",
            "/static-files/static/../../etc/passwd",
            "/static-files/./index.html",
            "/static-files/%2e%2e/x",
            "/static-files/%2E%2E/x",
            "/static-files/.%2e/x",
            "/static-files/static%2f..%2f..%2fx",
            "/static-files/static%2Fjs",
            "/static-files/..%5c..%5cx",
            "/static-files/static\\..\\x",
            "/static-files/a%00.js",
            "/static-files/a\0.js",
            "/static-files/a%0a.js",
            "/static-files//etc/passwd",
            "/static-files/static//js",
            "/static-files/static/",
            "/static-files/.assets.tsv",
            "/static-files/%2eassets.tsv",
            "/static-files/a%zz",
            "/static-files/a%2",
            "/static-files/%ff%fe",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn overlong_paths_are_refused() {
        let long = format!("/static-files/{}", "a".repeat(MAX_PATH));
        assert_eq!(resolve(&long), None);
    }
}
