//! API actions as a capability: which `service:Action`s a provider may call with the
//! credentials the host signs for it, and how a request's action is read.
//!
//! Invariants: deny by default (an empty grant allows nothing); a pattern is `service:Action`
//! or `service:Prefix*` with IAM's service prefixes (the SigV4 signing name); a request whose
//! action cannot be read, or is not a plain identifier, is refused like an undeclared one.

use std::fmt;

/// The actions one provider may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiActions {
    patterns: Vec<(String, String)>,
}

/// A malformed action pattern.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid API action {0:?}: expected service:Action or service:Prefix* (e.g. ec2:CreateVpc, ec2:Describe*)"
)]
pub struct BadApiAction(pub String);

fn identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl ApiActions {
    /// Parses `service:Action` patterns.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BadApiAction> {
        let mut parsed = Vec::new();
        for pattern in patterns {
            let text = pattern.as_ref();
            let bad = || BadApiAction(text.to_string());
            let (service, action) = text.split_once(':').ok_or_else(bad)?;
            let stem = action.strip_suffix('*').unwrap_or(action);
            if !identifier(service) || !(identifier(stem) || action == "*") {
                return Err(bad());
            }
            parsed.push((service.to_ascii_lowercase(), action.to_string()));
        }
        Ok(Self { patterns: parsed })
    }

    /// Whether `service:action` is allowed.
    pub fn allows(&self, service: &str, action: &str) -> bool {
        identifier(action)
            && self.patterns.iter().any(|(s, pattern)| {
                s.eq_ignore_ascii_case(service)
                    && match pattern.strip_suffix('*') {
                        Some(prefix) => action.starts_with(prefix),
                        None => action == pattern,
                    }
            })
    }
}

impl fmt::Display for ApiActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patterns.is_empty() {
            return f.write_str("none");
        }
        let all: Vec<String> = self
            .patterns
            .iter()
            .map(|(s, a)| format!("{s}:{a}"))
            .collect();
        f.write_str(&all.join(", "))
    }
}

/// The action a signed request calls: the JSON protocols' `X-Amz-Target` (`Service_Version.Action`)
/// or the Query protocol's `Action` form field. `None` if it names none.
pub fn action_of(target: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(target) = target {
        return target.rsplit('.').next().map(str::to_string);
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "Action")
        .map(|(_, value)| value.into_owned())
}

/// The API version a request names: the Query protocol's `Version` field, or the
/// `_Version` suffix of the JSON protocols' target prefix (`DynamoDB_20120810`).
pub fn api_version(target: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(target) = target {
        let prefix = target.rsplit_once('.')?.0;
        return prefix.rsplit_once('_').map(|(_, v)| v.to_string());
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "Version")
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_patterns() {
        let a = ApiActions::parse(&["ec2:CreateVpc", "ec2:Describe*", "elasticloadbalancing:*"])
            .unwrap();
        assert!(a.allows("ec2", "CreateVpc"));
        assert!(a.allows("ec2", "DescribeVpcs"));
        assert!(a.allows("elasticloadbalancing", "CreateListener"));
        assert!(!a.allows("ec2", "CreateVpcs"));
        assert!(!a.allows("ec2", "DeleteVpc"));
        assert!(!a.allows("iam", "CreateVpc"));
        assert!(!a.allows("ec2", "Describe Vpcs"), "not an identifier");
        assert!(!ApiActions::default().allows("ec2", "DescribeVpcs"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "CreateVpc",
            "ec2:",
            ":CreateVpc",
            "ec2:Create*Vpc",
            "ec 2:X",
            "ec2:A.B",
        ] {
            assert_eq!(
                ApiActions::parse(&[bad]).unwrap_err(),
                BadApiAction(bad.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_action_comes_from_the_target_header_or_the_form() {
        assert_eq!(
            action_of(
                None,
                b"Version=2016-11-15&Action=CreateVpc&CidrBlock=10.0.0.0%2F16"
            )
            .as_deref(),
            Some("CreateVpc")
        );
        assert_eq!(
            action_of(Some("DynamoDB_20120810.PutItem"), b"{}").as_deref(),
            Some("PutItem")
        );
        assert_eq!(action_of(None, b"Version=1"), None);
        assert_eq!(
            api_version(None, b"Action=X&Version=2015-12-01").as_deref(),
            Some("2015-12-01")
        );
        assert_eq!(
            api_version(Some("DynamoDB_20120810.PutItem"), b"").as_deref(),
            Some("20120810")
        );
        assert_eq!(
            action_of(None, b"Action=Create%0AVpc").as_deref(),
            Some("Create\nVpc")
        );
    }
}
