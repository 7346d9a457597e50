//! Caching headers: strong ETags per representation, `If-None-Match`, and how long
//! a browser may keep a file without asking again.

use crate::encoding::Encoding;

/// For files whose name carries their content hash: a new build gets new names.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For everything else (index.html, favicon.ico, manifest.json...): keep, but
/// revalidate every time, which the ETag makes a 304.
pub const REVALIDATE: &str = "no-cache";

/// The strong ETag of one representation: the file's content hash, plus the
/// encoding, since a gzip body and a brotli body of one file are different bytes.
pub fn etag(hash: &str, encoding: Encoding) -> String {
    format!("\"{hash}{}\"", encoding.etag_suffix())
}

/// Whether `If-None-Match` (all header lines joined by commas) matches `etag`, so
/// that the answer is 304. The comparison is the weak one RFC 9110 asks for here:
/// a `W/` prefix added on the way (some proxies do when they recompress) is ignored.
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(header) = if_none_match else {
        return false;
    };
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The `Cache-Control` for a site-relative path.
pub fn cache_control(path: &str) -> &'static str {
    if has_content_hash(path) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// Whether the file name has a dot-separated part that looks like a build's content
/// hash (`main.c2f5f8d4.js`, `pdf.worker.min.16b289c2599c81a29db9.mjs`): 8 to 64
/// lowercase hex characters with both a digit and a letter. Erring towards "no":
/// an unhashed file taken for hashed would be kept stale for a year, the reverse
/// only costs a revalidation.
fn has_content_hash(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts: Vec<&str> = name.split('.').collect();
    parts.pop(); // the extension
    parts.into_iter().any(|part| {
        (8..=64).contains(&part.len())
            && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_representation_has_its_own_strong_etag() {
        assert_eq!(etag("ab12", Encoding::Identity), "\"ab12\"");
        assert_eq!(etag("ab12", Encoding::Brotli), "\"ab12-br\"");
        assert_eq!(etag("ab12", Encoding::Gzip), "\"ab12-gz\"");
    }

    #[test]
    fn if_none_match_matches_listed_weak_and_star() {
        let tag = "\"ab12-br\"";
        assert!(not_modified(Some("\"ab12-br\""), tag));
        assert!(not_modified(Some("\"x\", \"ab12-br\""), tag));
        assert!(not_modified(Some("W/\"ab12-br\""), tag));
        assert!(not_modified(Some("*"), tag));
        assert!(!not_modified(None, tag));
        assert!(!not_modified(Some(""), tag));
        assert!(!not_modified(Some("\"ab12\""), tag));
        assert!(!not_modified(Some("\"ab12-gz\""), tag));
        assert!(!not_modified(Some("ab12-br"), tag));
    }

    #[test]
    fn hashed_names_are_immutable_the_rest_revalidates() {
        for path in [
            "static/js/main.c2f5f8d4.js",
            "static/js/1536.400d7381.chunk.js",
            "static/css/main.b0f58ef9.css",
            "static/media/pdf.worker.min.16b289c2599c81a29db9.mjs",
            "TelemetryLogger.telemetry-worker.d0f8ea2c83c08b63528f.worker.js",
            "static/js/main.c2f5f8d4.js.LICENSE.txt",
        ] {
            assert_eq!(cache_control(path), IMMUTABLE, "{path}");
        }
        for path in [
            "index.html",
            "favicon.ico",
            "manifest.json",
            "asset-manifest.json",
            "lib/notebook-trace-renderer/index.html",
            "static/js/12345678.chunk.js",
            "static/js/deadbeef.js",
            "static/js/c2f5f8d.js",
            "c2f5f8d4",
            "static/c2f5f8d4/index.html",
            "static/js/C2F5F8D4.js",
        ] {
            assert_eq!(cache_control(path), REVALIDATE, "{path}");
        }
    }
}
