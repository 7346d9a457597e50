//! The Spin entry point: reads what [`plan`] needs, then sends its answer.

use crate::plan::{self, Method, Plan, Request};
use crate::{assets, body, SITE};
use spin_sdk::http::{self as http, IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let method = match req.method() {
        http::Method::Get => Method::Get,
        http::Method::Head => Method::Head,
        _ => Method::Other,
    };
    let target = req.path_with_query().unwrap_or_default();
    let accept_encoding = header(&req, "accept-encoding");
    let if_none_match = header(&req, "if-none-match");
    let request = Request {
        method,
        target: &target,
        accept_encoding: accept_encoding.as_deref(),
        if_none_match: if_none_match.as_deref(),
    };
    let read_manifest = || std::fs::read_to_string(format!("{SITE}{}", assets::MANIFEST)).ok();
    let head = method == Method::Head;
    match plan::plan(&request, read_manifest) {
        Plan::Error { status, message } => text(out, status, message, head),
        Plan::NotModified { headers } => spin_reply::send(out, 304, &borrowed(&headers), b""),
        Plan::File { file, mut headers } => {
            let opened = std::fs::File::open(format!("{SITE}{file}"))
                .and_then(|f| Ok((f.metadata()?.len(), f)));
            let Ok((size, f)) = opened else {
                // Listed but unreadable: the site on disk does not match its manifest.
                return text(out, 500, "cannot read the file\n", head);
            };
            headers.push(("content-length", size.to_string()));
            if head {
                spin_reply::send(out, 200, &borrowed(&headers), b"");
            } else {
                body::send_file(out, 200, &borrowed(&headers), f);
            }
        }
    }
}

/// A short plain-text answer (no body for HEAD; 405 says what is allowed).
fn text(out: ResponseOutparam, status: u16, message: &str, head: bool) {
    let mut headers = vec![
        ("content-type", "text/plain; charset=utf-8"),
        ("cache-control", "no-store"),
    ];
    if status == 405 {
        headers.push(("allow", "GET, HEAD"));
    }
    let body = if head { "" } else { message };
    spin_reply::send(out, status, &headers, body.as_bytes());
}

fn borrowed(headers: &plan::Headers) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// All values of a request header, joined as one list.
fn header(req: &IncomingRequest, name: &str) -> Option<String> {
    let values = req.headers().get(name);
    if values.is_empty() {
        return None;
    }
    let texts: Vec<String> = values
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    Some(texts.join(", "))
}
