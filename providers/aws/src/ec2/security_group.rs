//! `SecurityGroup`: CreateSecurityGroup; its ingress and egress rules converged in place
//! (Authorize/RevokeSecurityGroupIngress/Egress, only the rules that differ); DeleteSecurityGroup.
//!
//! Rules are compared one by one (protocol, ports, one source, description), so grouping
//! ranges differently from AWS's answer is no change. Egress is managed only when
//! `IpPermissionsEgress` is given (as in CloudFormation): then AWS's default allow-all rule is
//! revoked unless listed.

use super::{Describe, Described, check_cidr, delete_when_free, or_undo, tag};
use crate::Aws;
use crate::query::Params;
use crate::sets::{changes, keep_shape};
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IpRange {
    pub cidr_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Ipv6Range {
    pub cidr_ipv6: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupPair {
    pub group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An `IpPermission`: protocol, ports and the sources (or destinations) it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1` for all.
    pub ip_protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_ranges: Vec<IpRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_ranges: Vec<Ipv6Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_id_group_pairs: Vec<GroupPair>,
}

/// Where one rule's traffic comes from (or goes to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Cidr(String),
    Cidr6(String),
    Group(String),
}

/// One rule: a permission has one per source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: Option<i32>,
    to: Option<i32>,
    source: Source,
    description: Option<String>,
}

/// The protocol as AWS reports it: names for tcp/udp/icmp, `-1` for all.
fn protocol(text: &str) -> String {
    match text.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        other => other.into(),
    }
}

fn rules(permissions: &[Permission]) -> BTreeSet<Rule> {
    let mut found = BTreeSet::new();
    for p in permissions {
        let protocol = protocol(&p.ip_protocol);
        let all = protocol == "-1";
        let rule = |source, description: &Option<String>| Rule {
            protocol: protocol.clone(),
            from: if all { None } else { p.from_port },
            to: if all { None } else { p.to_port },
            source,
            description: description.clone().filter(|d| !d.is_empty()),
        };
        found.extend(
            p.ip_ranges
                .iter()
                .map(|r| rule(Source::Cidr(r.cidr_ip.clone()), &r.description)),
        );
        found.extend(
            p.ipv6_ranges
                .iter()
                .map(|r| rule(Source::Cidr6(r.cidr_ipv6.clone()), &r.description)),
        );
        found.extend(
            p.user_id_group_pairs
                .iter()
                .map(|g| rule(Source::Group(g.group_id.clone()), &g.description)),
        );
    }
    found
}

/// `IpPermissions.N.*` for `rules`, one permission each; descriptions only when asked
/// (a revoke matches rules without them).
fn rule_params(mut params: Params, rules: &[Rule], descriptions: bool) -> Params {
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("IpPermissions.{}", i + 1);
        params = params
            .set(format!("{at}.IpProtocol"), &rule.protocol)
            .opt(&format!("{at}.FromPort"), rule.from)
            .opt(&format!("{at}.ToPort"), rule.to);
        let (list, field, value) = match &rule.source {
            Source::Cidr(c) => ("IpRanges", "CidrIp", c),
            Source::Cidr6(c) => ("Ipv6Ranges", "CidrIpv6", c),
            Source::Group(g) => ("Groups", "GroupId", g),
        };
        params = params.set(format!("{at}.{list}.1.{field}"), value);
        if descriptions && let Some(d) = &rule.description {
            params = params.set(format!("{at}.{list}.1.Description"), d);
        }
    }
    params
}

fn permissions(e: &Element, list: &str) -> Vec<Permission> {
    let port = |p: &Element, name: &str| p.text(name).and_then(|t| t.parse().ok());
    e.items(list)
        .map(|p| Permission {
            ip_protocol: p.string("ipProtocol"),
            from_port: port(p, "fromPort"),
            to_port: port(p, "toPort"),
            ip_ranges: p
                .items("ipRanges")
                .map(|r| IpRange {
                    cidr_ip: r.string("cidrIp"),
                    description: r.text("description").map(String::from),
                })
                .collect(),
            ipv6_ranges: p
                .items("ipv6Ranges")
                .map(|r| Ipv6Range {
                    cidr_ipv6: r.string("cidrIpv6"),
                    description: r.text("description").map(String::from),
                })
                .collect(),
            user_id_group_pairs: p
                .items("groups")
                .map(|g| GroupPair {
                    group_id: g.string("groupId"),
                    description: g.text("description").map(String::from),
                })
                .collect(),
        })
        .collect()
}

/// CreateSecurityGroup's parameters and the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SecurityGroupProps {
    /// The group's name, unique in its VPC (force-new).
    pub group_name: String,
    /// The description (force-new; default `Managed by rkit`). Also `GroupDescription`.
    #[serde(
        default,
        alias = "GroupDescription",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// The VPC (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Inbound rules, updated in place; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_permissions: Option<Vec<Permission>>,
    /// Outbound rules, updated in place; absent: AWS's default allow-all is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_permissions_egress: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupAttrs {
    pub group_id: String,
    pub vpc_id: String,
}

pub struct SecurityGroup;

const DEFAULT_DESCRIPTION: &str = "Managed by rkit";

fn attributes(e: &Element) -> SecurityGroupAttrs {
    SecurityGroupAttrs {
        group_id: e.string("groupId"),
        vpc_id: e.string("vpcId"),
    }
}

fn observed(e: &Element, known: Option<&SecurityGroupProps>) -> Observed<SecurityGroup> {
    let shape = |get: fn(&SecurityGroupProps) -> &Option<Vec<Permission>>, list: &str| {
        keep_shape(
            &known.and_then(|k| get(k).clone()),
            permissions(e, list),
            rules,
        )
    };
    Observed {
        id: e.string("groupId"),
        properties: SecurityGroupProps {
            group_name: e.string("groupName"),
            description: e.text("groupDescription").map(String::from),
            vpc_id: e.text("vpcId").map(String::from),
            ip_permissions: shape(|k| &k.ip_permissions, "ipPermissions"),
            ip_permissions_egress: shape(|k| &k.ip_permissions_egress, "ipPermissionsEgress"),
        },
        attributes: attributes(e),
        tags: e.tags("tagSet"),
    }
}

/// Authorizes and revokes what differs between the described group `now` and `desired`.
fn converge(aws: &Aws, id: &str, now: &Element, desired: &SecurityGroupProps) -> Result<()> {
    let directions = [
        (
            "Ingress",
            "ipPermissions",
            Some(desired.ip_permissions.clone().unwrap_or_default()),
        ),
        (
            "Egress",
            "ipPermissionsEgress",
            desired.ip_permissions_egress.clone(),
        ),
    ];
    for (direction, list, wanted) in directions {
        let Some(wanted) = wanted else { continue };
        let (add, remove) = changes(&rules(&permissions(now, list)), &rules(&wanted));
        if !remove.is_empty() {
            let params = rule_params(Params::new().set("GroupId", id), &remove, false);
            aws.api
                .ec2(&format!("RevokeSecurityGroup{direction}"), params)?;
        }
        if !add.is_empty() {
            let params = rule_params(Params::new().set("GroupId", id), &add, true);
            aws.api
                .ec2(&format!("AuthorizeSecurityGroup{direction}"), params)?;
        }
    }
    Ok(())
}

fn check_permissions(field: &str, permissions: &[Permission]) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (i, p) in permissions.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let proto = protocol(&p.ip_protocol);
        let numbered = proto.parse::<u8>().is_ok();
        if !numbered && !matches!(proto.as_str(), "-1" | "tcp" | "udp" | "icmp" | "icmpv6") {
            found.push(Diagnostic::error(
                format!("{at}.IpProtocol"),
                format!(
                    "{:?}: expected tcp, udp, icmp, icmpv6, a protocol number or -1",
                    p.ip_protocol
                ),
            ));
        }
        if matches!(proto.as_str(), "tcp" | "udp") {
            match (p.from_port, p.to_port) {
                (Some(from), Some(to))
                    if (0..=65535).contains(&from) && (from..=65535).contains(&to) => {}
                (Some(_), Some(_)) => found.push(Diagnostic::error(
                    format!("{at}.FromPort"),
                    "ports run from 0 to 65535 and FromPort may not exceed ToPort",
                )),
                _ => found.push(Diagnostic::error(
                    at.clone(),
                    format!("{proto} rules need FromPort and ToPort"),
                )),
            }
        }
        if p.ip_ranges.is_empty() && p.ipv6_ranges.is_empty() && p.user_id_group_pairs.is_empty() {
            found.push(Diagnostic::error(
                at.clone(),
                "names no source: give IpRanges, Ipv6Ranges or UserIdGroupPairs",
            ));
        }
        for (j, r) in p.ip_ranges.iter().enumerate() {
            found.extend(check_cidr(
                &format!("{at}.IpRanges[{j}].CidrIp"),
                &r.cidr_ip,
                0..=32,
            ));
        }
    }
    found
}

impl Described for SecurityGroup {
    const DESCRIBE: Describe = Describe {
        action: "DescribeSecurityGroups",
        set: "securityGroupInfo",
        nested: None,
        id_param: "GroupId",
        filter: "group-id",
        id_field: "groupId",
    };

    fn observe(_: &Aws, e: &Element, known: &SecurityGroupProps) -> Result<Option<Observed<Self>>> {
        Ok(Some(observed(e, Some(known))))
    }
}

impl Resource for SecurityGroup {
    type Provider = Aws;
    type Properties = SecurityGroupProps;
    type Attributes = SecurityGroupAttrs;
    const TYPE: &'static str = "SecurityGroup";
    const DESCRIPTION: &'static str = "A security group with its ingress and egress rules";
    const FORCE_NEW: &'static [&'static str] = &[
        "GroupName",
        "Description",
        "VpcId",
        "CreateSecurityGroupInput",
    ];
    const PROPERTY_WRAPPER: Option<&'static str> = Some("CreateSecurityGroupInput");

    fn validate(p: &SecurityGroupProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        if p.group_name.is_empty() || p.group_name.len() > 255 || p.group_name.starts_with("sg-") {
            found.push(Diagnostic::error(
                "GroupName",
                "must be 1 to 255 characters and may not start with sg-",
            ));
        }
        found.extend(check_permissions(
            "IpPermissions",
            p.ip_permissions.as_deref().unwrap_or_default(),
        ));
        found.extend(check_permissions(
            "IpPermissionsEgress",
            p.ip_permissions_egress.as_deref().unwrap_or_default(),
        ));
        found
    }

    fn create(
        aws: &Aws,
        p: &SecurityGroupProps,
        tags: &Tags,
    ) -> Result<Created<SecurityGroupAttrs>> {
        let id = aws
            .api
            .ec2(
                "CreateSecurityGroup",
                Params::new()
                    .set("GroupName", &p.group_name)
                    .set(
                        "GroupDescription",
                        p.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION),
                    )
                    .opt("VpcId", p.vpc_id.as_deref())
                    .tag_specification("security-group", tags),
            )?
            .string("groupId");
        let converged = Self::DESCRIBE
            .one(aws, &id)?
            .ok_or_else(|| Error::other(format!("security group {id} vanished after its creation")))
            .and_then(|now| converge(aws, &id, &now, p).map(|()| attributes(&now)));
        let attributes = or_undo(converged, &id, || Self::delete(aws, &id, p))?;
        Ok(Created { id, attributes })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        _: &SecurityGroupProps,
        new: &SecurityGroupProps,
        tags: &Tags,
    ) -> Result<SecurityGroupAttrs> {
        let now = Self::DESCRIBE
            .one(aws, id)?
            .ok_or_else(|| Error::not_found(format!("security group {id} is gone")))?;
        converge(aws, id, &now, new)?;
        tag(aws, id, tags)?;
        Ok(attributes(&now))
    }

    fn delete(aws: &Aws, id: &str, _: &SecurityGroupProps) -> Result<()> {
        delete_when_free(aws, "security group", "DeleteSecurityGroup", "GroupId", id)
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let found = Self::DESCRIBE.tagged(aws, tags, Params::new())?;
        Ok(found.iter().map(|e| observed(e, None)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(cidrs: &[&str]) -> Permission {
        Permission {
            ip_protocol: "tcp".into(),
            from_port: Some(80),
            to_port: Some(80),
            ip_ranges: cidrs
                .iter()
                .map(|c| IpRange {
                    cidr_ip: c.to_string(),
                    description: None,
                })
                .collect(),
            ipv6_ranges: vec![],
            user_id_group_pairs: vec![],
        }
    }

    #[test]
    fn grouping_does_not_matter_and_all_traffic_ignores_ports() {
        let one = vec![web(&["10.0.0.0/8", "0.0.0.0/0"])];
        let two = vec![web(&["0.0.0.0/0"]), web(&["10.0.0.0/8"])];
        assert_eq!(rules(&one), rules(&two));
        let mut all = web(&["0.0.0.0/0"]);
        all.ip_protocol = "-1".into();
        let mut all_with_ports = all.clone();
        all_with_ports.from_port = Some(0);
        assert_eq!(rules(&[all]), rules(&[all_with_ports]));
    }

    #[test]
    fn a_changed_port_is_one_revoke_and_one_authorize() {
        let old = rules(&[web(&["0.0.0.0/0"])]);
        let mut p = web(&["0.0.0.0/0"]);
        p.from_port = Some(8080);
        p.to_port = Some(8080);
        let (add, remove) = changes(&old, &rules(&[p]));
        assert_eq!((add.len(), remove.len()), (1, 1));
        let params = rule_params(Params::new(), &add, true);
        assert!(
            params
                .0
                .contains(&("IpPermissions.1.FromPort".into(), "8080".into()))
        );
        assert!(params.0.contains(&(
            "IpPermissions.1.IpRanges.1.CidrIp".into(),
            "0.0.0.0/0".into()
        )));
    }

    #[test]
    fn validation_names_the_rule_field() {
        let mut p = web(&["0.0.0.0/0"]);
        p.to_port = None;
        let found = check_permissions("IpPermissions", &[web(&["nope"]), p]);
        let fields: Vec<&str> = found.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            ["IpPermissions[0].IpRanges[0].CidrIp", "IpPermissions[1]"]
        );
    }
}
