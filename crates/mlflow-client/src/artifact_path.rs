//! A checked path under the artifact proxy's root, and its percent-encoding.

use crate::error::RegistryError;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters escaped in a path segment or a query value.
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPE).to_string()
}

/// How many rounds of percent-decoding a segment is checked through: a server that
/// decodes more than once must not find a `..` either.
const DECODE_ROUNDS: usize = 3;

/// A relative artifact path that stays inside the artifact store: no `.` or `..`
/// segment, not even percent-encoded, no backslash or NUL; empty segments dropped.
/// The text is kept literally (a `%` is a `%`) and encoded when a URL is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    pub fn parse(path: &str) -> Result<Self, RegistryError> {
        let mut kept = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if !is_safe_segment(segment) {
                return Err(RegistryError::Invalid(format!(
                    "refusing the artifact path {path:?}: it could leave the artifact store"
                )));
            }
            kept.push(segment);
        }
        Ok(Self(kept.join("/")))
    }

    /// `self/relative`, `relative` checked as [`ArtifactPath::parse`] does.
    pub fn join(&self, relative: &str) -> Result<Self, RegistryError> {
        let relative = Self::parse(relative)?;
        Ok(match (self.0.is_empty(), relative.0.is_empty()) {
            (true, _) => relative,
            (_, true) => self.clone(),
            _ => Self(format!("{}/{}", self.0, relative.0)),
        })
    }

    /// The path, segments separated by `/`; empty for the store's root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path with each segment percent-encoded, for a URL's path.
    pub fn url_encoded(&self) -> String {
        self.0.split('/').map(encode).collect::<Vec<_>>().join("/")
    }
}

fn is_safe_segment(segment: &str) -> bool {
    let mut text = segment.to_string();
    for _ in 0..=DECODE_ROUNDS {
        let climbs = text
            .split(['/', '\\'])
            .any(|part| part == "." || part == "..");
        if climbs || text.contains(['\\', '\0']) {
            return false;
        }
        let decoded = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            return true;
        }
        text = decoded;
    }
    // Still changing after several rounds: nobody legitimately names a file like that.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_encoded_per_segment() {
        let p = ArtifactPath::parse("/1//models/a b/").unwrap();
        assert_eq!(p.as_str(), "1/models/a b");
        assert_eq!(p.url_encoded(), "1/models/a%20b");
        assert_eq!(ArtifactPath::parse("").unwrap().as_str(), "");
        assert_eq!(
            p.join("c%d.onnx").unwrap().url_encoded(),
            "1/models/a%20b/c%25d.onnx"
        );
        assert_eq!(
            ArtifactPath::parse("x..y/.hidden").unwrap().as_str(),
            "x..y/.hidden"
        );
    }

    #[test]
    fn dot_segments_are_refused_in_every_spelling() {
        for bad in [
            "..",
            "1/../../etc",
            "1/./x",
            ".",
            "a/%2e%2e/b",
            "a/%2E%2e",
            "a/.%2e",
            "a/%2e",
            "a/..%2fb",
            "a/%2e%2e%2fb",
            "a/%252e%252e/b",
            "a\\..\\b",
            "a%5c..",
            "a%00b",
        ] {
            assert!(
                matches!(ArtifactPath::parse(bad), Err(RegistryError::Invalid(_))),
                "{bad}"
            );
        }
        let base = ArtifactPath::parse("1/r").unwrap();
        assert!(base.join("../x").is_err());
        assert!(base.join("%2e%2e").is_err());
    }
}
