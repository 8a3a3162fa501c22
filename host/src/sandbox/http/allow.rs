//! One HTTP grant: `scheme://host[:port]`, the unit of the outbound-HTTP capability.
//!
//! Invariants: a grant names a scheme (http or https), a host (exact, an IP literal, or
//! `*.suffix` for any subdomain) and a port (the scheme's default when absent); nothing else
//! (no path, no userinfo). Hosts are compared case-insensitively, IPv6 with or without
//! brackets.

use std::fmt;

/// An allowed HTTP destination: `scheme://host[:port]`, where the host may start with `*.`
/// to allow any subdomain. A missing port means the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAllow {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// A malformed [`HttpAllow`].
#[derive(Debug, thiserror::Error)]
#[error("invalid HTTP grant {0:?}: expected scheme://host[:port] with scheme http or https")]
pub struct BadHttpAllow(String);

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl HttpAllow {
    /// Parses `scheme://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, BadHttpAllow> {
        let bad = || BadHttpAllow(text.to_string());
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let port_of = |p: &str| p.parse::<u16>().map(Some).map_err(|_| bad());
        // `[v6]` or `[v6]:port`; otherwise `host` or `host:port`. Hosts are kept bare.
        let (host, port) = match authority.strip_prefix('[') {
            Some(rest) => {
                let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
                v6.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
                let port = match after {
                    "" => None,
                    p => port_of(p.strip_prefix(':').ok_or_else(bad)?)?,
                };
                (v6, port)
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, port_of(port)?),
                None => (authority, None),
            },
        };
        if host.is_empty() || (host.contains('*') && !host.starts_with("*.")) {
            return Err(bad());
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether this grant names `localhost` (or a name under it): the one kind of grant by
    /// name whose addresses may be loopback ones (see [`super::addresses`]).
    pub fn names_localhost(&self) -> bool {
        self.host == "localhost" || self.host.ends_with(".localhost")
    }

    /// Whether a request to `scheme://host:port` is allowed by this grant (an IPv6 host with
    /// or without its brackets).
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ok = match self.host.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == self.host,
        };
        self.scheme.eq_ignore_ascii_case(scheme)
            && host_ok
            && self.port.unwrap_or(default_port(&self.scheme))
                == port.unwrap_or(default_port(scheme))
    }
}

impl fmt::Display for HttpAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]", self.scheme, self.host)?;
        } else {
            write!(f, "{}://{}", self.scheme, self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(s: &str) -> HttpAllow {
        HttpAllow::parse(s).unwrap()
    }

    #[test]
    fn exact_host_and_default_port() {
        let a = allow("https://ec2.us-east-1.amazonaws.com");
        assert!(a.allows("https", "ec2.us-east-1.amazonaws.com", None));
        assert!(a.allows("https", "EC2.us-east-1.amazonaws.com", Some(443)));
        assert!(!a.allows("http", "ec2.us-east-1.amazonaws.com", None));
        assert!(!a.allows("https", "ec2.us-east-1.amazonaws.com", Some(8443)));
        assert!(!a.allows("https", "evil.com", None));
        assert!(!a.allows("https", "ec2.us-east-1.amazonaws.com.evil.com", None));
    }

    #[test]
    fn explicit_port() {
        let a = allow("http://127.0.0.1:5000");
        assert!(a.allows("http", "127.0.0.1", Some(5000)));
        assert!(!a.allows("http", "127.0.0.1", Some(5001)));
        assert!(!a.allows("http", "127.0.0.1", None));
    }

    #[test]
    fn ipv6_literals_match_with_and_without_a_port() {
        let a = allow("http://[::1]:8080");
        assert!(a.allows("http", "[::1]", Some(8080)));
        assert!(a.allows("http", "::1", Some(8080)));
        assert!(!a.allows("http", "::1", Some(8081)));
        assert_eq!(a.to_string(), "http://[::1]:8080");
        let b = allow("https://[FD00:EC2::254]");
        assert!(b.allows("https", "[fd00:ec2::254]", None));
        assert_eq!(b.to_string(), "https://[fd00:ec2::254]");
        assert!(HttpAllow::parse("http://[::1").is_err());
        assert!(HttpAllow::parse("http://[nope]:80").is_err());
        assert!(HttpAllow::parse("http://[::1]80").is_err());
    }

    #[test]
    fn wildcard_subdomains_only() {
        let a = allow("https://*.amazonaws.com");
        assert!(a.allows("https", "ec2.eu-west-1.amazonaws.com", None));
        assert!(!a.allows("https", "amazonaws.com", None));
        assert!(!a.allows("https", "evilamazonaws.com", None));
    }

    #[test]
    fn rejects_malformed_grants() {
        for bad in [
            "ftp://x",
            "x.com",
            "https://",
            "https://a/b",
            "https://a*.com",
            "http://h:port",
            "http://a:1:2",
        ] {
            assert!(HttpAllow::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            allow("HTTPS://Example.com/").to_string(),
            "https://example.com"
        );
    }
}
