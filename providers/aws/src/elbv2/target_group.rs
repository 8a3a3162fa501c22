//! `TargetGroup` (ELBv2): CreateTargetGroup; health checks (ModifyTargetGroup) and registered
//! targets (Register/DeregisterTargets) change in place; DeleteTargetGroup, waiting while a
//! listener still forwards to it.

use super::{Describe, Described, add_tags};
use crate::Aws;
use crate::ec2::or_undo;
use crate::query::Params;
use crate::sets::{changes, keep_shape};
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A registered target: an instance ID (or IP), and a port if not the group's. Written as
/// `{"Id": …, "Port": …}` or as the bare ID (so that `"Targets": "{{.Groups.Web.IDs}}"`, a
/// list of IDs, works); read back in the form it was given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "TargetForm", into = "TargetForm")]
pub struct Target {
    pub id: String,
    pub port: Option<u16>,
    /// Given as a bare ID.
    pub bare: bool,
}

/// How a target is written.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TargetForm {
    /// An instance ID (or IP) on the group's port.
    Id(String),
    Full(FullTarget),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FullTarget {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl From<TargetForm> for Target {
    fn from(form: TargetForm) -> Self {
        match form {
            TargetForm::Id(id) => Target {
                id,
                port: None,
                bare: true,
            },
            TargetForm::Full(FullTarget { id, port }) => Target {
                id,
                port,
                bare: false,
            },
        }
    }
}

impl From<Target> for TargetForm {
    fn from(t: Target) -> Self {
        match t {
            Target {
                id,
                port: None,
                bare: true,
            } => TargetForm::Id(id),
            Target { id, port, .. } => TargetForm::Full(FullTarget { id, port }),
        }
    }
}

impl JsonSchema for Target {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Target".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        TargetForm::json_schema(generator)
    }
}

/// CreateTargetGroup's parameters and the targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TargetGroupProps {
    /// Unique per region and account, up to 32 characters (force-new).
    pub name: String,
    /// `HTTP`, `HTTPS`, `TCP`, … (force-new).
    pub protocol: String,
    /// Force-new.
    pub port: u16,
    /// Force-new.
    pub vpc_id: String,
    /// `instance` (default), `ip` or `lambda` (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_interval_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold_count: Option<u32>,
    /// The registered targets; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupAttrs {
    pub target_group_arn: String,
    pub target_group_name: String,
    /// Each registered target's health as ELBv2 reports it (`healthy`, `initial`,
    /// `unhealthy`, …), by ID; read back by `read` (what a group's rolling update waits on).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_health: BTreeMap<String, String>,
}

pub struct TargetGroup;

fn attributes(e: &Element) -> TargetGroupAttrs {
    TargetGroupAttrs {
        target_group_arn: e.string("TargetGroupArn"),
        target_group_name: e.string("TargetGroupName"),
        target_health: BTreeMap::new(),
    }
}

/// The registered targets (draining ones are on their way out).
fn targets(aws: &Aws, arn: &str) -> Result<Vec<Target>> {
    Ok(targets_and_health(aws, arn)?.0)
}

/// The registered targets (draining ones are on their way out), and each one's health state.
fn targets_and_health(aws: &Aws, arn: &str) -> Result<(Vec<Target>, BTreeMap<String, String>)> {
    let root = aws.api.elbv2(
        "DescribeTargetHealth",
        Params::new().set("TargetGroupArn", arn),
    )?;
    let mut registered = Vec::new();
    let mut health = BTreeMap::new();
    for d in root
        .items("DescribeTargetHealthResult/TargetHealthDescriptions")
        .filter(|d| d.text("TargetHealth/State") != Some("draining"))
    {
        let id = d.string("Target/Id");
        health.insert(id.clone(), d.string("TargetHealth/State"));
        registered.push(Target {
            id,
            port: d.text("Target/Port").and_then(|p| p.parse().ok()),
            bare: false,
        });
    }
    Ok((registered, health))
}

/// Targets keyed with the group's port filled in, so `{Id}` equals `{Id, Port: group's}`.
fn target_keys(targets: &[Target], port: u16) -> BTreeSet<Target> {
    targets
        .iter()
        .map(|t| Target {
            id: t.id.clone(),
            port: Some(t.port.unwrap_or(port)),
            bare: false,
        })
        .collect()
}

fn target_params(action_arn: &str, targets: &[Target]) -> Params {
    let mut params = Params::new().set("TargetGroupArn", action_arn);
    for (i, t) in targets.iter().enumerate() {
        let at = format!("Targets.member.{}", i + 1);
        params = params
            .set(format!("{at}.Id"), &t.id)
            .opt(&format!("{at}.Port"), t.port);
    }
    params
}

fn observed(
    aws: &Aws,
    e: &Element,
    known: Option<&TargetGroupProps>,
    tags: Tags,
) -> Result<Observed<TargetGroup>> {
    let arn = e.string("TargetGroupArn");
    let port: u16 = e
        .text("Port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    let number = |name: &str| e.text(name).and_then(|t| t.parse().ok());
    let (observed_targets, health) = targets_and_health(aws, &arn)?;
    let registered = match known.map(|k| &k.targets) {
        Some(None) => None,
        known_targets => keep_shape(&known_targets.cloned().flatten(), observed_targets, |t| {
            target_keys(t, port)
        }),
    };
    Ok(Observed {
        id: arn,
        properties: TargetGroupProps {
            name: e.string("TargetGroupName"),
            protocol: e.string("Protocol"),
            port,
            vpc_id: e.string("VpcId"),
            target_type: e.text("TargetType").map(String::from),
            health_check_protocol: e.text("HealthCheckProtocol").map(String::from),
            health_check_port: e.text("HealthCheckPort").map(String::from),
            health_check_path: e.text("HealthCheckPath").map(String::from),
            health_check_interval_seconds: number("HealthCheckIntervalSeconds"),
            healthy_threshold_count: number("HealthyThresholdCount"),
            unhealthy_threshold_count: number("UnhealthyThresholdCount"),
            targets: registered,
        },
        attributes: TargetGroupAttrs {
            target_health: health,
            ..attributes(e)
        },
        tags,
    })
}

/// The health-check parameters `p` sets.
fn health_check(params: Params, p: &TargetGroupProps) -> Params {
    params
        .opt("HealthCheckProtocol", p.health_check_protocol.as_deref())
        .opt("HealthCheckPort", p.health_check_port.as_deref())
        .opt("HealthCheckPath", p.health_check_path.as_deref())
        .opt(
            "HealthCheckIntervalSeconds",
            p.health_check_interval_seconds,
        )
        .opt("HealthyThresholdCount", p.healthy_threshold_count)
        .opt("UnhealthyThresholdCount", p.unhealthy_threshold_count)
}

/// Registers and deregisters so that exactly `wanted` are targets.
fn converge_targets(aws: &Aws, arn: &str, port: u16, wanted: &[Target]) -> Result<()> {
    let (add, remove) = changes(
        &target_keys(&targets(aws, arn)?, port),
        &target_keys(wanted, port),
    );
    if !remove.is_empty() {
        match aws
            .api
            .elbv2("DeregisterTargets", target_params(arn, &remove))
        {
            // A terminated instance is no target any more.
            Err(err) if !err.is("InvalidTarget") => return Err(err.into()),
            _ => {}
        }
    }
    if !add.is_empty() {
        aws.api.elbv2("RegisterTargets", target_params(arn, &add))?;
    }
    Ok(())
}

impl Described for TargetGroup {
    const DESCRIBE: Describe = Describe {
        action: "DescribeTargetGroups",
        arns_param: "TargetGroupArns",
        list: "TargetGroups",
        arn_field: "TargetGroupArn",
    };

    /// Also reads the group's targets and their health: one DescribeTargetHealth per group,
    /// batched or not (the API takes one group at a time).
    fn observe(
        aws: &Aws,
        e: &Element,
        known: &TargetGroupProps,
        tags: Tags,
    ) -> Result<Observed<Self>> {
        observed(aws, e, Some(known), tags)
    }
}

impl Resource for TargetGroup {
    type Provider = Aws;
    type Properties = TargetGroupProps;
    type Attributes = TargetGroupAttrs;
    const TYPE: &'static str = "TargetGroup";
    const DESCRIPTION: &'static str = "An ELBv2 target group with its registered targets";
    const FORCE_NEW: &'static [&'static str] = &["Name", "Protocol", "Port", "VpcId", "TargetType"];

    fn validate(p: &TargetGroupProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        if p.name.is_empty() || p.name.len() > 32 {
            found.push(Diagnostic::error("Name", "must be 1 to 32 characters"));
        }
        if p.port == 0 {
            found.push(Diagnostic::error("Port", "must be 1 to 65535"));
        }
        found
    }

    fn create(aws: &Aws, p: &TargetGroupProps, tags: &Tags) -> Result<Created<TargetGroupAttrs>> {
        // CreateTargetGroup is idempotent by name: a retry returns the same group.
        let params = Params::new()
            .set("Name", &p.name)
            .set("Protocol", &p.protocol)
            .set("Port", p.port)
            .set("VpcId", &p.vpc_id)
            .opt("TargetType", p.target_type.as_deref());
        let root = aws.api.elbv2(
            "CreateTargetGroup",
            health_check(params, p).elbv2_tags(tags),
        )?;
        let group = root
            .at("CreateTargetGroupResult/TargetGroups")
            .and_then(|l| l.children.first())
            .cloned()
            .unwrap_or_default();
        let arn = group.string("TargetGroupArn");
        let registered = match &p.targets {
            Some(wanted) => converge_targets(aws, &arn, p.port, wanted),
            None => Ok(()),
        };
        or_undo(registered, &arn, || Self::delete(aws, &arn, p))?;
        Ok(Created {
            id: arn,
            attributes: attributes(&group),
        })
    }

    described_reads!(elbv2);

    fn update(
        aws: &Aws,
        arn: &str,
        old: &TargetGroupProps,
        new: &TargetGroupProps,
        tags: &Tags,
    ) -> Result<TargetGroupAttrs> {
        let mut check_changed = new.clone();
        check_changed.targets = old.targets.clone();
        if check_changed != *old {
            aws.api.elbv2(
                "ModifyTargetGroup",
                health_check(Params::new().set("TargetGroupArn", arn), new),
            )?;
        }
        if let Some(wanted) = &new.targets {
            converge_targets(aws, arn, new.port, wanted)?;
        }
        add_tags(aws, arn, tags)?;
        let group = Self::DESCRIBE
            .one(aws, arn)?
            .ok_or_else(|| Error::not_found(format!("target group {arn} is gone")))?;
        Ok(attributes(&group))
    }

    fn delete(aws: &Aws, arn: &str, _: &TargetGroupProps) -> Result<()> {
        aws.wait
            .while_in_use(&format!("target group {arn} to be unused"), || {
                aws.api
                    .elbv2(
                        "DeleteTargetGroup",
                        Params::new().set("TargetGroupArn", arn),
                    )
                    .map(drop)
            })
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let all = Self::DESCRIBE.all(aws, Params::new())?;
        Self::DESCRIBE
            .tagged(aws, all, tags)?
            .into_iter()
            .map(|(group, tags)| observed(aws, &group, None, tags))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_are_read_in_the_form_they_were_written() {
        let written = json!(["i-1", {"Id": "i-2", "Port": 8080}, {"Id": "i-3"}]);
        let targets: Vec<Target> = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(
            targets.iter().map(|t| t.bare).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(serde_json::to_value(&targets).unwrap(), written);
        // A bare ID and the same target read back with the group's port are one target.
        let read = [Target {
            id: "i-1".into(),
            port: Some(80),
            bare: false,
        }];
        assert_eq!(
            target_keys(&targets[..1], 80),
            target_keys(&read, 80),
            "no drift from the form alone"
        );
        let bad = serde_json::from_value::<Target>(json!({"Id": "i-1", "Weight": 2}));
        assert!(bad.is_err());
    }
}
