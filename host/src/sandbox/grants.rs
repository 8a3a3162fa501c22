//! What a provider is allowed to do. Deny by default: an empty [`Grants`] allows no HTTP, no
//! files, no environment and no sockets, and bounds memory, CPU and wall-clock time.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The capabilities granted to one provider.
#[derive(Debug, Clone, Serialize)]
pub struct Grants {
    /// Outgoing HTTP destinations; anything else is denied.
    pub http: Vec<HttpAllow>,
    /// A host directory mapped into the sandbox as `/` (read-write).
    pub filesystem: Option<PathBuf>,
    /// Linear memory limit per instance, in bytes.
    pub memory_bytes: usize,
    /// Time a call may spend executing WebAssembly (time blocked in host calls, such as
    /// waiting for HTTP, does not count).
    pub cpu: Duration,
    /// Wall-clock bound on one call, host calls included.
    pub timeout: Duration,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            http: Vec::new(),
            filesystem: None,
            memory_bytes: 256 << 20,
            cpu: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
        }
    }
}

/// An allowed HTTP destination: `scheme://host[:port]`, where the host may start with `*.`
/// to allow any subdomain. A missing port means the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
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
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host, Some(port.parse::<u16>().map_err(|_| bad())?))
            }
            _ => (authority, None),
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

    /// Whether a request to `scheme://host:port` is allowed by this grant.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
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
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl From<HttpAllow> for String {
    fn from(allow: HttpAllow) -> String {
        allow.to_string()
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
        ] {
            assert!(HttpAllow::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            allow("HTTPS://Example.com/").to_string(),
            "https://example.com"
        );
    }
}
