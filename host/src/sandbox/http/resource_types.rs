//! Resource types as a capability. AWS Cloud Control is one API for every resource type, so
//! its actions (`cloudformation:CreateResource`) say nothing of what a provider touches: the
//! provider declares the types (`resource-types`), the user approves them with the rest, and
//! the gate reads `TypeName` from each Cloud Control request and refuses a type not declared.
//!
//! A pattern is a CloudFormation type name (`AWS::IAM::Role`: three names of letters and digits
//! joined by `::`), a namespace (`AWS::S3::*`, `AWS::*`), or `*` (every type). Invariants: deny
//! by default (no pattern: no Cloud Control request that names a type); every Cloud Control
//! request whose operation takes a `TypeName` must carry one, as a string, matched here
//! exactly (case matters, as it does to the service); a request handing Cloud Control a role
//! to act as (`RoleArn`) is refused whatever is declared, since that role's permissions, not
//! the approved ones, would decide what happens; requests about a request (its status, its
//! cancellation) name no type and pass, but listing every type's requests
//! (`ListResourceRequests`) needs every type (`*`); no pattern reaches
//! `AWS::CloudFormation::*` (a stack deploys any type as any role): those only by name.

use super::route::Routed;
use crate::text::escaped;

/// The signing name of the service whose requests name resource types.
const CLOUD_CONTROL: &str = "cloudcontrolapi";

/// Types no pattern reaches, only their own names: a CloudFormation stack (or stack set)
/// deploys any type, as any role.
const BY_NAME_ONLY: &str = "AWS::CloudFormation::";

/// The operation that lists every type's requests: only for a provider allowed every type.
const EVERY_TYPE: &str = "ListResourceRequests";

/// The Cloud Control resource types one provider may touch: those it declares, and of them
/// only those the spec grants when it names some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTypes {
    patterns: Vec<String>,
    granted: Option<Vec<String>>,
}

/// A malformed resource type pattern.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid resource type {0:?}: expected a CloudFormation type name (AWS::IAM::Role), a namespace (AWS::S3::*, AWS::*) or *"
)]
pub struct BadResourceType(pub String);

/// Whether `name` is one of a type name's parts: 1 to 64 letters or digits.
fn part(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `pattern` is well formed.
fn well_formed(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split("::").collect();
    match parts.split_last() {
        Some((&"*", namespace)) => {
            (1..=2).contains(&namespace.len()) && namespace.iter().all(|p| part(p))
        }
        _ => parts.len() == 3 && parts.iter().all(|p| part(p)),
    }
}

impl ResourceTypes {
    /// Parses the patterns a provider declares.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BadResourceType> {
        let mut parsed = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let text = pattern.as_ref();
            if !well_formed(text) {
                return Err(BadResourceType(text.to_string()));
            }
            parsed.push(text.to_string());
        }
        Ok(Self {
            patterns: parsed,
            granted: None,
        })
    }

    /// These types, limited to those `granted` (the spec's `Grants.ResourceTypes`) matches.
    pub fn within(self, granted: &[String]) -> Result<Self, BadResourceType> {
        let granted = Self::parse(granted)?.patterns;
        Ok(Self {
            granted: Some(granted),
            ..self
        })
    }

    /// Whether the type `name` is declared (and granted, when the spec limits them).
    pub fn allows(&self, name: &str) -> bool {
        // A CloudFormation stack or stack set deploys any type, as any role: only by name.
        let by_name_only = name.starts_with(BY_NAME_ONLY);
        let matches = |patterns: &[String]| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => {
                    !by_name_only && name.starts_with(prefix) && name.len() > prefix.len()
                }
                None => p == name,
            })
        };
        matches(&self.patterns) && self.granted.as_deref().is_none_or(matches)
    }

    /// Checks a routed request (with its `body`): a Cloud Control request must name a declared
    /// type, and no role. Every other service's requests pass.
    pub fn check(&self, routed: &Routed, body: &[u8]) -> Result<(), String> {
        if routed.service.signing_name != CLOUD_CONTROL {
            return Ok(());
        }
        if routed.signals.get("f:RoleArn").is_some() {
            return Err(
                "hands Cloud Control a role to act as (RoleArn); rkit lets a provider act only with the approved actions"
                    .into(),
            );
        }
        let op = routed.operation;
        if op.name == EVERY_TYPE && !self.every_type() {
            return Err(format!(
                "{EVERY_TYPE} shows every resource type's requests; only a provider declared \
                 and granted every type (*) may call it"
            ));
        }
        if !op.keys.iter().any(|k| k == "TypeName") {
            return Ok(());
        }
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("its JSON body cannot be read: {e}"))?;
        let Some(name) = value.get("TypeName").and_then(|t| t.as_str()) else {
            return Err(format!("{} names no resource type (TypeName)", op.name));
        };
        if self.allows(name) {
            return Ok(());
        }
        let declared = if self.patterns.is_empty() {
            "none".to_string()
        } else {
            self.patterns.join(", ")
        };
        let granted = match &self.granted {
            Some(granted) => format!("; granted by the spec: {}", granted.join(", ")),
            None => String::new(),
        };
        Err(format!(
            "resource type {} was not declared and approved (resource types: {declared}{granted})",
            escaped(name)
        ))
    }

    /// Whether every type is declared, and granted.
    fn every_type(&self) -> bool {
        let all = |p: &[String]| p.iter().any(|p| p == "*");
        all(&self.patterns) && self.granted.as_deref().is_none_or(all)
    }

    /// The patterns, as declared.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_names_namespaces_or_everything() {
        let types = ResourceTypes::parse(&["AWS::IAM::Role", "AWS::S3::*", "Acme::*"]).unwrap();
        assert!(types.allows("AWS::IAM::Role"));
        assert!(types.allows("AWS::S3::Bucket"));
        assert!(types.allows("Acme::Widgets::Thing"));
        assert!(!types.allows("AWS::IAM::User"));
        assert!(!types.allows("AWS::IAM::RoleX"));
        assert!(
            !types.allows("aws::iam::role"),
            "case matters, as to the service"
        );
        assert!(!types.allows("AWS::S3::"), "a namespace is not a type");
        assert!(!ResourceTypes::default().allows("AWS::S3::Bucket"));
        assert!(
            ResourceTypes::parse(&["*"])
                .unwrap()
                .allows("AWS::EC2::VPC")
        );
        let granted = ResourceTypes::parse(&["AWS::*"])
            .unwrap()
            .within(&["AWS::SQS::*".to_string()])
            .unwrap();
        assert!(granted.allows("AWS::SQS::Queue"));
        assert!(!granted.allows("AWS::IAM::Role"), "declared, not granted");
        let beyond = ResourceTypes::parse(&["AWS::SQS::*"])
            .unwrap()
            .within(&["AWS::IAM::Role".to_string()])
            .unwrap();
        assert!(!beyond.allows("AWS::IAM::Role"), "granted, not declared");
        for pattern in ["*", "AWS::*", "AWS::CloudFormation::*"] {
            let wide = ResourceTypes::parse(&[pattern]).unwrap();
            assert!(!wide.allows("AWS::CloudFormation::Stack"), "{pattern}");
        }
        let named = ResourceTypes::parse(&["AWS::CloudFormation::Stack"]).unwrap();
        assert!(named.allows("AWS::CloudFormation::Stack"));
        assert!(ResourceTypes::parse(&["*"]).unwrap().every_type());
        assert!(!ResourceTypes::parse(&["AWS::*"]).unwrap().every_type());
        for bad in [
            "AWS::S3",
            "AWS::S3::Bucket::*",
            "AWS::S3*",
            "AWS:S3:Bucket",
            "",
            "AWS::S 3::B",
            "*::S3::Bucket",
        ] {
            assert_eq!(
                ResourceTypes::parse(&[bad]).unwrap_err().to_string(),
                format!(
                    "invalid resource type {bad:?}: expected a CloudFormation type name (AWS::IAM::Role), a namespace (AWS::S3::*, AWS::*) or *"
                )
            );
        }
    }
}
