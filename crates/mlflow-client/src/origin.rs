//! Scheme, host and port of a URL, to tell whether an artifact location is served by
//! the tracking server itself or names another host.

/// Where an HTTP request goes: scheme (`http`/`https`), lower-case host, effective port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// The port a scheme implies when the URL names none.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Splits `http(s)://authority/rest` into its origin and `rest` (without the leading
/// `/`). `None` for another scheme or an authority we do not trust to mean what it
/// says (user info, backslashes, spaces: HTTP stacks disagree on where those end).
pub(crate) fn split_http_url(url: &str) -> Option<(Origin, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let port = default_port(&scheme)?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = parse_authority(authority, port)?;
    Some((Origin { scheme, host, port }, path))
}

/// `host[:port]` (or `[v6]:port`), lower-case host, `default` when no port is given.
pub(crate) fn parse_authority(authority: &str, default: u16) -> Option<(String, u16)> {
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '@' | '\\' | '?' | '#') || c.is_whitespace())
    {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(parse_authority("H:5000", 80), Some(("h".into(), 5000)));
        assert_eq!(parse_authority("h", 443), Some(("h".into(), 443)));
        assert_eq!(
            parse_authority("[::1]:3000", 80),
            Some(("[::1]".into(), 3000))
        );
        assert_eq!(parse_authority("[::1]", 80), Some(("[::1]".into(), 80)));
        for bad in ["", "u@h", "h:x", "h\\x", "h x", ":80", "a:b:c"] {
            assert_eq!(parse_authority(bad, 80), None, "{bad}");
        }
    }

    #[test]
    fn http_urls() {
        let (o, rest) = split_http_url("HTTPS://Tracking/api/x").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("https", "tracking", 443)
        );
        assert_eq!(rest, "api/x");
        assert!(split_http_url("ftp://h/x").is_none());
        assert!(split_http_url("no-scheme").is_none());
    }
}
