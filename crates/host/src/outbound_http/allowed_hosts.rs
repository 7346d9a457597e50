//! `allowed_outbound_hosts`, matched as Spin matches them.
//!
//! Entries are `scheme://host[:port]`: `*` may stand for the whole scheme, the
//! whole host, a leading subdomain (`*.example.com`) or the port; ports may be
//! ranges `a..b`; hosts may be CIDR ranges; a missing port means the scheme's
//! default. An empty list allows nothing.

use anyhow::{bail, ensure, Context, Result};
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any subdomain of `example.com` (not the domain itself).
    Subdomains(String),
    Exact(String),
    Cidr(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
    /// `start..end`, end excluded.
    Range(u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

/// The allow-list of one component.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "postgres" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "mqtt" => 1883,
        _ => return None,
    })
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<Self> {
        let entry = entry.trim();
        ensure!(
            entry != "insecure:allow-all",
            "`insecure:allow-all` is not supported; use \"*://*:*\" to allow every host"
        );
        let (scheme, rest) = entry.split_once("://").with_context(|| {
            format!(
                "allowed outbound host {entry:?} has no scheme (write e.g. \"https://{entry}\")"
            )
        })?;
        let scheme = match scheme {
            "*" => SchemePattern::Any,
            s if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                SchemePattern::Exact(s.to_ascii_lowercase())
            }
            s => bail!("allowed outbound host {entry:?} has an invalid scheme {s:?}"),
        };
        let authority = match rest.split_once('/') {
            // `10.0.0.0/8[:port]`: the slash belongs to a CIDR, not a path.
            Some((ip, tail))
                if ip.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
                    && tail.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                let end = tail.find('/').unwrap_or(tail.len());
                ensure!(
                    tail[end..].trim_end_matches('/').is_empty(),
                    "allowed outbound host {entry:?} must not contain a path"
                );
                &rest[..ip.len() + 1 + end]
            }
            Some((authority, path)) => {
                ensure!(
                    path.is_empty(),
                    "allowed outbound host {entry:?} must not contain a path"
                );
                authority
            }
            None => rest,
        };
        let (host, port) = split_host_port(authority);
        let host = match host {
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Subdomains(h[2..].to_ascii_lowercase()),
            h if h.contains('/') => HostPattern::Cidr(
                h.parse()
                    .with_context(|| format!("invalid CIDR in {entry:?}"))?,
            ),
            "" => bail!("allowed outbound host {entry:?} has no host"),
            h => HostPattern::Exact(
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
            ),
        };
        let port = match port {
            Some("*") => PortPattern::Any,
            Some(p) => match p.split_once("..") {
                // Spin's ranges exclude their end.
                Some((a, b)) => {
                    let bound = |s: &str| {
                        s.parse::<u16>()
                            .with_context(|| format!("invalid port range in {entry:?}"))
                    };
                    PortPattern::Range(bound(a)?, bound(b)?)
                }
                None => PortPattern::Exact(
                    p.parse()
                        .with_context(|| format!("invalid port in {entry:?}"))?,
                ),
            },
            None => match &scheme {
                SchemePattern::Exact(s) => PortPattern::Exact(default_port(s).with_context(|| {
                    format!("allowed outbound host {entry:?} needs a port: scheme {s:?} has no default")
                })?),
                SchemePattern::Any => {
                    bail!("allowed outbound host {entry:?} needs a port when the scheme is `*`")
                }
            },
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = match &self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Exact(s) => s == scheme,
        };
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            HostPattern::Cidr(net) => host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == port,
            PortPattern::Range(start, end) => (start..end).contains(&port),
        };
        scheme_ok && host_ok && port_ok
    }

    /// The component id this entry chains to, if it names `<id>.spin.internal`
    /// (`*` for the `*.spin.internal` wildcard).
    pub fn chaining_target(&self) -> Option<&str> {
        match &self.host {
            HostPattern::Exact(h) => h.strip_suffix(".spin.internal"),
            HostPattern::Subdomains(d) if d == "spin.internal" => Some("*"),
            _ => None,
        }
    }
}

fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        if let Some((host, after)) = rest.split_once(']') {
            return (host, after.strip_prefix(':'));
        }
    }
    // A CIDR such as 10.0.0.0/8 may be followed by :port.
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> Result<Self> {
        let entries = entries
            .iter()
            .map(|e| AllowedHost::parse(e))
            .collect::<Result<_>>()?;
        Ok(Self { entries })
    }

    /// Whether a request to `scheme://host:port` may leave the component.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let scheme = scheme.to_ascii_lowercase();
        self.entries.iter().any(|e| e.allows(&scheme, &host, port))
    }

    /// The components this list lets the component chain to (`*` = all).
    pub fn chaining_targets(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(AllowedHost::chaining_target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn default_ports_and_exact_hosts() {
        let h = hosts(&["https://api.example.com", "http://localhost:8080"]);
        assert!(h.allows("https", "api.example.com", 443));
        assert!(!h.allows("https", "api.example.com", 8443));
        assert!(!h.allows("http", "api.example.com", 443));
        assert!(h.allows("http", "localhost", 8080));
        assert!(!h.allows("http", "evil.com", 80));
    }

    #[test]
    fn wildcards_ranges_and_cidr() {
        let h = hosts(&[
            "*://*.example.com:*",
            "http://10.0.0.0/8:8000..8010",
            "http://*:81",
        ]);
        assert!(h.allows("ftp", "a.example.com", 21));
        assert!(!h.allows("http", "example.com", 80));
        assert!(h.allows("http", "10.1.2.3", 8009));
        assert!(!h.allows("http", "10.1.2.3", 8010));
        assert!(!h.allows("http", "11.1.2.3", 8001));
        assert!(h.allows("http", "anything", 81));
    }

    #[test]
    fn empty_list_allows_nothing() {
        assert!(!hosts(&[]).allows("http", "localhost", 80));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "insecure:allow-all",
            "example.com",
            "http://example.com/path",
            "*://example.com",
            "http://",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chaining_targets() {
        let h = hosts(&[
            "http://mlflow-server.spin.internal",
            "http://*.spin.internal",
            "https://x.com",
        ]);
        assert_eq!(
            h.chaining_targets().collect::<Vec<_>>(),
            vec!["mlflow-server", "*"]
        );
    }
}
