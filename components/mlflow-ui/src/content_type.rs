//! `Content-Type` by file extension: the types a web UI build is made of. An
//! unknown extension is sent as `application/octet-stream`, which browsers will
//! not run or render (responses also carry `X-Content-Type-Options: nosniff`).

const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/vnd.microsoft.icon"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
];

const UNKNOWN: &str = "application/octet-stream";

/// The `Content-Type` of a site-relative path (of the file, not of a compressed variant).
pub fn for_path(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return UNKNOWN;
    };
    TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or(UNKNOWN, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_build_types() {
        assert_eq!(for_path("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            for_path("static/js/main.c2f5f8d4.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            for_path("static/media/pdf.worker.min.16b2.mjs"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            for_path("static/css/main.b0f58ef9.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(for_path("manifest.json"), "application/json");
        assert_eq!(for_path("favicon.ico"), "image/vnd.microsoft.icon");
        assert_eq!(for_path("static/media/x.svg"), "image/svg+xml");
        assert_eq!(for_path("static/media/f.woff2"), "font/woff2");
        assert_eq!(
            for_path("static/js/main.js.LICENSE.txt"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(for_path("A.PNG"), "image/png");
    }

    #[test]
    fn unknown_or_missing_extensions_are_opaque_bytes() {
        for path in [
            "LICENSE",
            "a.unknownext",
            "dir.d/file",
            "trailing.",
            ".hidden",
        ] {
            assert_eq!(for_path(path), UNKNOWN, "{path}");
        }
    }
}
