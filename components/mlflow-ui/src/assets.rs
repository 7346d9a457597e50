//! The site's manifest: which files may be served, their content hash and which
//! pre-compressed variants exist. Written by `crates/ui-assets` at build time, when
//! the files are hashed and compressed, and read once per request (each request is a
//! fresh instance, so nothing is kept between them).
//!
//! Format (`.assets.tsv` at the site root, UTF-8): `#` lines are comments; every
//! other line is `path<TAB>hash<TAB>variants`, where `path` is relative to the
//! site root, the hash is the first 128 bits of the SHA-256 of the file as stored
//! (the uncompressed representation), in hex, and `variants` is `-` or a comma list
//! of `br` and `gz` (files `<path>.br`, `<path>.gz` beside it). A file the manifest
//! does not list is not served.

/// The manifest's file name at the site root (a dotfile: never served itself).
pub const MANIFEST: &str = ".assets.tsv";

/// What the manifest says of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset<'a> {
    /// Hex content hash of the uncompressed file: the base of its ETags.
    pub hash: &'a str,
    pub variants: Variants,
}

/// The pre-compressed variants stored beside a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
    pub br: bool,
    pub gz: bool,
}

impl Variants {
    pub fn any(self) -> bool {
        self.br || self.gz
    }
}

/// The manifest's entry for `path`, if it lists it. Malformed lines are skipped:
/// a file whose line cannot be read is simply not served.
pub fn find<'a>(manifest: &'a str, path: &str) -> Option<Asset<'a>> {
    manifest
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split('\t');
            if fields.next()? != path {
                return None;
            }
            let hash = fields.next()?;
            let variants = parse_variants(fields.next()?)?;
            let valid_hash = !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit());
            (fields.next().is_none() && valid_hash).then_some(Asset { hash, variants })
        })
}

fn parse_variants(field: &str) -> Option<Variants> {
    let mut v = Variants::default();
    if field == "-" {
        return Some(v);
    }
    for name in field.split(',') {
        match name {
            "br" => v.br = true,
            "gz" => v.gz = true,
            _ => return None,
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "# ui-assets 1 mlflow-3.17.2-py3-none-any.whl sha256:4e44\n\
        index.html\t0123abcd\tbr,gz\n\
        favicon.ico\tdeadbeef\t-\n\
        static/js/a.js\tcafe\tgz\n\
        bad/hash.js\tnot-hex\t-\n\
        bad/variant.js\tbeef\tzstd\n\
        bad/extra.js\tbeef\t-\tmore\n";

    #[test]
    fn listed_files_are_found_with_their_hash_and_variants() {
        let index = find(SITE, "index.html").unwrap();
        assert_eq!(index.hash, "0123abcd");
        assert_eq!(index.variants, Variants { br: true, gz: true });
        let icon = find(SITE, "favicon.ico").unwrap();
        assert!(!icon.variants.any());
        let js = find(SITE, "static/js/a.js").unwrap();
        assert_eq!(
            js.variants,
            Variants {
                br: false,
                gz: true
            }
        );
    }

    #[test]
    fn unlisted_and_malformed_entries_are_not_served() {
        for path in [
            "missing.js",
            "index.html.br",
            "static/js",
            "# ui-assets 1 mlflow-3.17.2-py3-none-any.whl sha256:4e44",
            "bad/hash.js",
            "bad/variant.js",
            "bad/extra.js",
            "",
        ] {
            assert_eq!(find(SITE, path), None, "{path}");
        }
        assert_eq!(find("", "index.html"), None);
    }
}
