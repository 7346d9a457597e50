//! Spin's HTTP route syntax and precedence.
//!
//! `/a/b` is exact, `:name` captures one segment, a trailing `/...` (or `/*`)
//! matches the prefix and anything below it (the prefix itself included).
//! When several routes match, segments are compared left to right: an exact
//! segment beats a `:param`, which beats the wildcard; so the longest wildcard
//! prefix wins whatever the declaration order. Of two identical routes the
//! later one wins, as in Spin.

use http::HeaderValue;
use std::cmp::Ordering;

/// One parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    segments: Vec<Segment>,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

impl RoutePattern {
    /// Parses a manifest route (`foo` is read as `/foo`; a trailing `/` is ignored).
    pub fn parse(route: &str) -> Self {
        let mut path = route.trim();
        let mut wildcard = false;
        for suffix in ["/...", "/*"] {
            if let Some(prefix) = path.strip_suffix(suffix) {
                path = prefix;
                wildcard = true;
                break;
            }
        }
        if path == "..." || path == "*" {
            path = "";
            wildcard = true;
        }
        let segments = split(path)
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Exact(s.to_string()),
            })
            .collect();
        Self { segments, wildcard }
    }

    /// The route as Spin reports it in `spin-matched-route` (`/api/...`, `/users/:id`, `/...`).
    pub fn display(&self) -> String {
        let mut out = self.prefix_display();
        if self.wildcard {
            out.push_str("/...");
        } else if out.is_empty() {
            out.push('/');
        }
        out
    }

    /// The route without its wildcard (`/api` for `/api/...`, `` for `/...`).
    pub fn prefix_display(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Exact(e) => format!("/{e}"),
                Segment::Param(p) => format!("/:{p}"),
            })
            .collect()
    }

    /// Matches a request path (no query). Returns the captures and the path info.
    fn matches(&self, path: &str) -> Option<(Vec<(String, String)>, String)> {
        let mut captures = Vec::new();
        let mut rest = path;
        for segment in &self.segments {
            let trimmed = rest.strip_prefix('/')?;
            let end = trimmed.find('/').unwrap_or(trimmed.len());
            let (value, tail) = trimmed.split_at(end);
            match segment {
                Segment::Exact(e) if e == value => {}
                Segment::Param(name) if !value.is_empty() => {
                    captures.push((name.clone(), value.to_string()))
                }
                _ => return None,
            }
            rest = tail;
        }
        if self.wildcard {
            Some((captures, rest.to_string()))
        } else if rest.is_empty() || rest == "/" {
            Some((captures, String::new()))
        } else {
            None
        }
    }

    /// Specificity order: lower is more specific.
    fn rank(&self) -> Vec<u8> {
        let mut rank: Vec<u8> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Exact(_) => 0,
                Segment::Param(_) => 1,
            })
            .collect();
        if self.wildcard {
            rank.push(2);
        }
        rank
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// What a route leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget<T> {
    Component(String),
    Static(T),
}

#[derive(Debug, Clone)]
pub struct RouteEntry<T> {
    pub pattern: RoutePattern,
    /// The route string exactly as written in the manifest.
    pub raw: String,
    pub target: RouteTarget<T>,
    /// The `spin-*` header values that depend on the route alone.
    pub headers: RouteHeaders,
}

/// A route's `spin-matched-route`, `spin-raw-component-route` and
/// `spin-component-route` values, made once when the router is built instead
/// of for every request; `None` where the text is not a valid header value
/// (the header is then left out, as before).
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    pub matched_route: Option<HeaderValue>,
    pub raw_component_route: Option<HeaderValue>,
    pub component_route: Option<HeaderValue>,
}

impl RouteHeaders {
    fn new(pattern: &RoutePattern, raw: &str) -> Self {
        let value = |text: &str| HeaderValue::from_str(text).ok();
        Self {
            matched_route: value(&pattern.display()),
            raw_component_route: value(raw),
            component_route: value(&pattern.prefix_display()),
        }
    }
}

/// The outcome of routing one request path.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    pub entry: &'a RouteEntry<T>,
    /// The part matched by the wildcard, with its leading `/` (empty for exact routes).
    pub path_info: String,
    pub captures: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Router<T> {
    entries: Vec<RouteEntry<T>>,
}

impl<T> Router<T> {
    /// Builds a router from `(raw route, target)` pairs in manifest order. Returns
    /// the router and the raw routes that a later duplicate made unreachable.
    pub fn build(routes: Vec<(String, RouteTarget<T>)>) -> (Self, Vec<String>) {
        let mut entries: Vec<RouteEntry<T>> = Vec::new();
        let mut shadowed = Vec::new();
        for (raw, target) in routes {
            let pattern = RoutePattern::parse(&raw);
            if let Some(pos) = entries.iter().position(|e| e.pattern == pattern) {
                shadowed.push(entries.remove(pos).raw);
            }
            entries.push(RouteEntry {
                headers: RouteHeaders::new(&pattern, &raw),
                pattern,
                raw,
                target,
            });
        }
        (Self { entries }, shadowed)
    }

    pub fn entries(&self) -> &[RouteEntry<T>] {
        &self.entries
    }

    /// The most specific route matching `path` (which must not include the query).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        let mut best: Option<(RouteMatch<'_, T>, Vec<u8>)> = None;
        for entry in &self.entries {
            let Some((captures, path_info)) = entry.pattern.matches(path) else {
                continue;
            };
            let rank = entry.pattern.rank();
            let better = match &best {
                None => true,
                Some((_, best_rank)) => compare_rank(&rank, best_rank) == Ordering::Less,
            };
            if better {
                best = Some((
                    RouteMatch {
                        entry,
                        path_info,
                        captures,
                    },
                    rank,
                ));
            }
        }
        best.map(|(m, _)| m)
    }
}

fn compare_rank(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.cmp(y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    // Same kinds on the shared segments: only a trailing wildcard differs, and
    // the pattern without it (the shorter rank) is the more specific.
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[&str]) -> Router<()> {
        Router::build(
            routes
                .iter()
                .map(|r| (r.to_string(), RouteTarget::Component(r.to_string())))
                .collect(),
        )
        .0
    }

    fn winner(r: &Router<()>, path: &str) -> Option<String> {
        r.route(path).map(|m| m.entry.raw.clone())
    }

    #[test]
    fn exact_beats_param_beats_wildcard() {
        let r = router(&["/...", "/users/...", "/users/:id", "/users/me"]);
        assert_eq!(winner(&r, "/users/me").unwrap(), "/users/me");
        assert_eq!(winner(&r, "/users/42").unwrap(), "/users/:id");
        assert_eq!(winner(&r, "/users/42/x").unwrap(), "/users/...");
        assert_eq!(winner(&r, "/other").unwrap(), "/...");
    }

    #[test]
    fn exact_length_beats_wildcard_matching_nothing() {
        let r = router(&["/users/:id/...", "/users/:id"]);
        assert_eq!(winner(&r, "/users/7").unwrap(), "/users/:id");
        assert_eq!(winner(&r, "/users/7/posts").unwrap(), "/users/:id/...");
        let r = router(&["/api", "/api/..."]);
        assert_eq!(winner(&r, "/api").unwrap(), "/api");
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let r = router(&["/one/two/...", "/one/..."]);
        assert_eq!(winner(&r, "/one/two/three").unwrap(), "/one/two/...");
        let r = router(&["/one/...", "/one/two/..."]);
        assert_eq!(winner(&r, "/one/two/three").unwrap(), "/one/two/...");
        assert_eq!(winner(&r, "/one/x").unwrap(), "/one/...");
    }

    #[test]
    fn wildcard_matches_its_prefix_and_path_info() {
        let r = router(&["/api/..."]);
        let m = r.route("/api").unwrap();
        assert_eq!(m.path_info, "");
        assert_eq!(r.route("/api/").unwrap().path_info, "/");
        assert_eq!(r.route("/api/runs/get").unwrap().path_info, "/runs/get");
        assert!(r.route("/apix").is_none());
    }

    #[test]
    fn root_wildcard_matches_everything() {
        let r = router(&["/..."]);
        assert_eq!(r.route("/").unwrap().path_info, "/");
        assert_eq!(r.route("/a/b").unwrap().path_info, "/a/b");
        assert_eq!(r.entries()[0].pattern.display(), "/...");
        assert_eq!(r.entries()[0].pattern.prefix_display(), "");
    }

    #[test]
    fn exact_routes_do_not_match_longer_paths() {
        let r = router(&["/health"]);
        assert!(r.route("/health").is_some());
        assert!(r.route("/health/x").is_none());
        assert!(r.route("/").is_none());
        assert_eq!(r.route("/health").unwrap().path_info, "");
    }

    #[test]
    fn params_are_captured() {
        let r = router(&["/users/:id/posts/:post"]);
        let m = r.route("/users/7/posts/9").unwrap();
        assert_eq!(
            m.captures,
            vec![("id".into(), "7".into()), ("post".into(), "9".into())]
        );
        assert!(r.route("/users//posts/9").is_none());
    }

    #[test]
    fn later_duplicate_wins() {
        let (r, shadowed) = Router::build(vec![
            (
                "/a".to_string(),
                RouteTarget::<()>::Component("first".into()),
            ),
            ("/a/".to_string(), RouteTarget::Component("second".into())),
        ]);
        assert_eq!(shadowed, vec!["/a".to_string()]);
        assert_eq!(
            r.route("/a").unwrap().entry.target,
            RouteTarget::Component("second".into())
        );
    }

    #[test]
    fn relative_route_is_made_absolute() {
        let r = router(&["foo"]);
        assert!(r.route("/foo").is_some());
    }
}
