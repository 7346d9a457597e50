//! What to answer, decided from the request alone (no I/O, so it is tested natively):
//! the entry point then only opens the file and sends.

use crate::{assets, caching, content_type, encoding, route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other,
}

/// The request's parts that matter here.
pub struct Request<'a> {
    pub method: Method,
    pub target: &'a str,
    pub accept_encoding: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// A short plain-text answer.
    Error { status: u16, message: &'static str },
    /// 304 with these headers.
    NotModified { headers: Headers },
    /// 200 with the site file `file` (the chosen variant) and these headers;
    /// the sender adds `Content-Length` from the opened file.
    File { file: String, headers: Headers },
}

pub type Headers = Vec<(&'static str, String)>;

pub const NOT_FOUND: Plan = Plan::Error {
    status: 404,
    message: "not found\n",
};
pub const NOT_ALLOWED: Plan = Plan::Error {
    status: 405,
    message: "method not allowed\n",
};
pub const NOT_INSTALLED: Plan = Plan::Error {
    status: 500,
    message: "the MLflow UI files are not installed: build the app (spin build)\n",
};

/// Decides the answer; `manifest` is read only for a path that can be a UI file.
pub fn plan(req: &Request, manifest: impl FnOnce() -> Option<String>) -> Plan {
    if req.method == Method::Other {
        return NOT_ALLOWED;
    }
    let Some(path) = route::resolve(req.target) else {
        return NOT_FOUND;
    };
    let Some(manifest) = manifest() else {
        return NOT_INSTALLED;
    };
    let Some(asset) = assets::find(&manifest, &path) else {
        return NOT_FOUND;
    };
    let encoding = encoding::choose(req.accept_encoding, asset.variants);
    let etag = caching::etag(asset.hash, encoding);
    let not_modified = caching::not_modified(req.if_none_match, &etag);
    let mut headers = vec![
        ("etag", etag),
        ("cache-control", caching::cache_control(&path).to_string()),
    ];
    if asset.variants.any() {
        headers.push(("vary", "Accept-Encoding".to_string()));
    }
    if not_modified {
        return Plan::NotModified { headers };
    }
    headers.push(("content-type", content_type::for_path(&path).to_string()));
    headers.push(("x-content-type-options", "nosniff".to_string()));
    if let Some(coding) = encoding.header() {
        headers.push(("content-encoding", coding.to_string()));
    }
    let file = format!("{path}{}", encoding.file_suffix());
    Plan::File { file, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "# test site\n\
        index.html\taaaa1111\tbr,gz\n\
        favicon.ico\tbbbb2222\t-\n\
        static/js/main.c2f5f8d4.js\tcccc3333\tbr,gz\n";

    fn get(target: &str) -> Request<'_> {
        Request {
            method: Method::Get,
            target,
            accept_encoding: None,
            if_none_match: None,
        }
    }

    fn site() -> Option<String> {
        Some(MANIFEST.to_string())
    }

    fn header<'a>(plan: &'a Plan, name: &str) -> Option<&'a str> {
        let (Plan::File { headers, .. } | Plan::NotModified { headers }) = plan else {
            return None;
        };
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn root_is_the_index_revalidated_every_time() {
        let plan = plan(&get("/"), site);
        assert!(matches!(&plan, Plan::File { file, .. } if file == "index.html"));
        assert_eq!(header(&plan, "etag"), Some("\"aaaa1111\""));
        assert_eq!(header(&plan, "cache-control"), Some("no-cache"));
        assert_eq!(
            header(&plan, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(&plan, "vary"), Some("Accept-Encoding"));
        assert_eq!(header(&plan, "content-encoding"), None);
    }

    #[test]
    fn hashed_assets_are_immutable_and_negotiated() {
        let req = Request {
            accept_encoding: Some("gzip, br"),
            ..get("/static-files/static/js/main.c2f5f8d4.js")
        };
        let plan = plan(&req, site);
        assert!(
            matches!(&plan, Plan::File { file, .. } if file == "static/js/main.c2f5f8d4.js.br")
        );
        assert_eq!(header(&plan, "content-encoding"), Some("br"));
        assert_eq!(header(&plan, "etag"), Some("\"cccc3333-br\""));
        assert_eq!(header(&plan, "cache-control"), Some(caching::IMMUTABLE));
        assert_eq!(
            header(&plan, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
    }

    #[test]
    fn files_without_variants_have_no_vary() {
        let req = Request {
            accept_encoding: Some("br"),
            ..get("/static-files/favicon.ico")
        };
        let plan = plan(&req, site);
        assert!(matches!(&plan, Plan::File { file, .. } if file == "favicon.ico"));
        assert_eq!(header(&plan, "vary"), None);
    }

    #[test]
    fn matching_etag_is_304_for_get_and_head() {
        for method in [Method::Get, Method::Head] {
            let req = Request {
                method,
                accept_encoding: Some("gzip"),
                if_none_match: Some("\"aaaa1111-gz\""),
                ..get("/")
            };
            let plan = plan(&req, site);
            assert!(matches!(plan, Plan::NotModified { .. }), "{method:?}");
            assert_eq!(header(&plan, "etag"), Some("\"aaaa1111-gz\""));
            assert_eq!(header(&plan, "content-type"), None);
        }
        // The identity tag does not validate the gzip representation.
        let req = Request {
            accept_encoding: Some("gzip"),
            if_none_match: Some("\"aaaa1111\""),
            ..get("/")
        };
        assert!(matches!(plan(&req, site), Plan::File { .. }));
    }

    #[test]
    fn errors_are_decided_before_touching_the_site() {
        let untouched = || -> Option<String> { panic!("manifest read") };
        let post = Request {
            method: Method::Other,
            ..get("/")
        };
        assert_eq!(plan(&post, untouched), NOT_ALLOWED);
        assert_eq!(
            plan(&get("/static-files/../spin.toml"), untouched),
            NOT_FOUND
        );
        assert_eq!(plan(&get("/static-files/missing.js"), site), NOT_FOUND);
        assert_eq!(plan(&get("/static-files/index.html.br"), site), NOT_FOUND);
        assert_eq!(plan(&get("/"), || None), NOT_INSTALLED);
    }
}
