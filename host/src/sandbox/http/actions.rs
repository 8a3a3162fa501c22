//! API actions as a capability: which `service:Action`s a provider may call with the
//! credentials the host signs for it, optionally only on some resources.
//!
//! A pattern is `service:Action`, `service:Prefix*` (IAM's service prefixes and action
//! names), optionally followed by ` on ARN-PATTERN` (`s3:PutObject on arn:aws:s3:::my-bucket/*`;
//! `*` and `?` as IAM reads them). Invariants: deny by default (an empty grant allows
//! nothing); every action a request needs ([`super::needs`]) must be allowed, each on every
//! resource it names; an action allowed only on some resources is refused for a request whose
//! resources the gate cannot read; the account field of an ARN is not compared where the
//! gate does not know it (EC2's resource IDs).

use super::needs::Need;
use crate::text::escaped;
use std::fmt;

/// The actions one provider may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiActions {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    service: String,
    action: String,
    /// `None`: any resource.
    resource: Option<String>,
}

/// A malformed action pattern.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid API action {0:?}: expected service:Action or service:Prefix* (e.g. ec2:CreateVpc, ec2:Describe*), optionally followed by ` on ARN` (e.g. s3:PutObject on arn:aws:s3:::my-bucket/*)"
)]
pub struct BadApiAction(pub String);

fn identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn resource_pattern(r: &str) -> bool {
    r == "*"
        || (r.starts_with("arn:")
            && r.split(':').count() >= 6
            && r.chars().all(|c| c.is_ascii_graphic()))
}

impl ApiActions {
    /// Parses `service:Action[ on ARN]` patterns.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BadApiAction> {
        let mut parsed = Vec::new();
        for pattern in patterns {
            let text = pattern.as_ref();
            let bad = || BadApiAction(text.to_string());
            let (action_part, resource) = match text.split_once(" on ") {
                Some((a, r)) => (a, Some(r.trim())),
                None => (text, None),
            };
            let (service, action) = action_part.split_once(':').ok_or_else(bad)?;
            let stem = action.strip_suffix('*').unwrap_or(action);
            if !identifier(service) || !(identifier(stem) || action == "*") {
                return Err(bad());
            }
            if resource.is_some_and(|r| !resource_pattern(r)) {
                return Err(bad());
            }
            parsed.push(Pattern {
                service: service.to_ascii_lowercase(),
                action: action.to_string(),
                resource: resource.filter(|r| *r != "*").map(str::to_string),
            });
        }
        Ok(Self { patterns: parsed })
    }

    /// Whether `service:action` is allowed on some resource.
    pub fn allows(&self, service: &str, action: &str) -> bool {
        self.matching(&format!("{service}:{action}"))
            .next()
            .is_some()
    }

    fn matching<'a>(&'a self, full: &'a str) -> impl Iterator<Item = &'a Pattern> + 'a {
        let (service, action) = full.split_once(':').unwrap_or(("", full));
        self.patterns.iter().filter(move |p| {
            identifier(action)
                && p.service.eq_ignore_ascii_case(service)
                && match p.action.strip_suffix('*') {
                    Some(prefix) => action.starts_with(prefix),
                    None => action == p.action,
                }
        })
    }

    /// Checks one need: its action allowed, on each resource it names. The refusal says
    /// which action, what implied it, and on what.
    pub fn check(&self, need: &Need) -> Result<(), String> {
        let implied = need
            .why
            .as_ref()
            .map(|w| format!(", which {} implies,", escaped(w)))
            .unwrap_or_default();
        let matching: Vec<&Pattern> = self.matching(&need.action).collect();
        if matching.is_empty() {
            return Err(format!(
                "API action {}{implied} was not declared and approved (the provider may call: {self})",
                escaped(&need.action)
            ));
        }
        if matching.iter().any(|p| p.resource.is_none()) {
            return Ok(());
        }
        let on: Vec<&str> = matching
            .iter()
            .filter_map(|p| p.resource.as_deref())
            .collect();
        if need.resources.is_empty() {
            return Err(format!(
                "API action {}{implied} was approved only on {}, and the gate cannot tell which \
                 resource this request acts on",
                escaped(&need.action),
                on.join(", ")
            ));
        }
        for resource in &need.resources {
            if !on.iter().any(|p| arn_matches(p, resource)) {
                return Err(format!(
                    "API action {}{implied} on {} was not declared and approved (approved only on {})",
                    escaped(&need.action),
                    escaped(resource),
                    on.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Whether ARN `arn` matches IAM-style `pattern`, field by field (an empty account in `arn`,
/// which the gate does not know, matches any).
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return glob(pattern, arn);
    }
    (0..6).all(|i| (i == 4 && a[4].is_empty()) || glob(p[i], a[i]))
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl fmt::Display for ApiActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patterns.is_empty() {
            return f.write_str("none");
        }
        let all: Vec<String> = self
            .patterns
            .iter()
            .map(|p| match &p.resource {
                Some(r) => format!("{}:{} on {r}", p.service, p.action),
                None => format!("{}:{}", p.service, p.action),
            })
            .collect();
        f.write_str(&all.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(action: &str, resources: &[&str]) -> Need {
        Need {
            action: action.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            why: None,
        }
    }

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
    fn resources_limit_an_action() {
        let a = ApiActions::parse(&[
            "s3:PutObject on arn:aws:s3:::logs/app/*",
            "ec2:TerminateInstances on arn:aws:ec2:us-east-1:*:instance/i-0ab*",
            "s3:GetObject",
        ])
        .unwrap();
        assert_eq!(
            a.check(&need("s3:PutObject", &["arn:aws:s3:::logs/app/x.txt"])),
            Ok(())
        );
        assert_eq!(
            a.check(&need("s3:PutObject", &["arn:aws:s3:::logs/other"]))
                .unwrap_err(),
            "API action s3:PutObject on arn:aws:s3:::logs/other was not declared and approved \
             (approved only on arn:aws:s3:::logs/app/*)"
        );
        assert!(
            a.check(&need("s3:PutObject", &[]))
                .unwrap_err()
                .contains("the gate cannot tell which resource")
        );
        assert_eq!(
            a.check(&need("s3:GetObject", &["arn:aws:s3:::any/k"])),
            Ok(())
        );
        assert_eq!(
            a.check(&need(
                "ec2:TerminateInstances",
                &["arn:aws:ec2:us-east-1::instance/i-0abc"]
            )),
            Ok(())
        );
        assert!(
            a.check(&need(
                "ec2:TerminateInstances",
                &[
                    "arn:aws:ec2:us-east-1::instance/i-0abc",
                    "arn:aws:ec2:us-east-1::instance/i-0ff"
                ]
            ))
            .is_err(),
            "every resource must be allowed"
        );
        let mut implied = need("s3:PutObjectAcl", &["arn:aws:s3:::logs/app/x"]);
        implied.why = Some("header x-amz-acl".into());
        assert_eq!(
            a.check(&implied).unwrap_err(),
            "API action s3:PutObjectAcl, which header x-amz-acl implies, was not declared and \
             approved (the provider may call: s3:PutObject on arn:aws:s3:::logs/app/*, \
             ec2:TerminateInstances on arn:aws:ec2:us-east-1:*:instance/i-0ab*, s3:GetObject)"
        );
    }

    #[test]
    fn globs_as_iam_reads_them() {
        assert!(glob("a*c", "abbbc") && glob("a?c", "abc") && glob("*", ""));
        assert!(!glob("a*c", "abd") && !glob("a?c", "ac"));
        assert!(arn_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!arn_matches("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
        assert!(!arn_matches("arn:aws:s3:::b", "arn:aws:s3:::b/x"));
        assert!(arn_matches(
            "arn:aws:ec2:*:123:vpc/*",
            "arn:aws:ec2:us-east-1::vpc/vpc-1"
        ));
        assert!(!arn_matches(
            "arn:aws:elasticloadbalancing:*:123:loadbalancer/*",
            "arn:aws:elasticloadbalancing:us-east-1:999:loadbalancer/app/x/1"
        ));
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
            "s3:PutObject on bucket/*",
            "s3:PutObject on arn:aws:s3",
        ] {
            assert_eq!(
                ApiActions::parse(&[bad]).unwrap_err(),
                BadApiAction(bad.into()),
                "{bad}"
            );
        }
        assert_eq!(
            ApiActions::parse(&["s3:GetObject on *"])
                .unwrap()
                .to_string(),
            "s3:GetObject"
        );
    }
}
