//! `LoadBalancer` (ELBv2, application or network): CreateLoadBalancer, waiting until active;
//! subnets, security groups and address type change in place (SetSubnets, SetSecurityGroups,
//! SetIpAddressType); DeleteLoadBalancer, waiting until it is gone (its network interfaces
//! hold its subnets and security groups until then).

use super::{Describe, Described, add_tags};
use crate::Aws;
use crate::ec2::or_undo;
use crate::query::Params;
use crate::sets::{keep_shape, strings};
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CreateLoadBalancer's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LoadBalancerProps {
    /// Unique per region and account, up to 32 letters, digits and hyphens (force-new).
    pub name: String,
    /// Subnets in at least two zones (application); change in place.
    pub subnets: Vec<String>,
    /// Security groups (application); change in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// `internet-facing` (default) or `internal` (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// `application` (default), `network` or `gateway` (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// `ipv4` or `dualstack`; changes in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerAttrs {
    pub load_balancer_arn: String,
    #[serde(rename = "DNSName")]
    pub dns_name: String,
    pub canonical_hosted_zone_id: String,
    pub vpc_id: String,
}

pub struct LoadBalancer;

fn attributes(e: &Element) -> LoadBalancerAttrs {
    LoadBalancerAttrs {
        load_balancer_arn: e.string("LoadBalancerArn"),
        dns_name: e.string("DNSName"),
        canonical_hosted_zone_id: e.string("CanonicalHostedZoneId"),
        vpc_id: e.string("VpcId"),
    }
}

fn observed(e: &Element, known: Option<&LoadBalancerProps>, tags: Tags) -> Observed<LoadBalancer> {
    let subnets: Vec<String> = e
        .items("AvailabilityZones")
        .filter_map(|z| z.text("SubnetId").map(String::from))
        .collect();
    let groups: Vec<String> = e.items("SecurityGroups").map(|g| g.text.clone()).collect();
    Observed {
        id: e.string("LoadBalancerArn"),
        properties: LoadBalancerProps {
            name: e.string("LoadBalancerName"),
            subnets: keep_shape(&known.map(|k| k.subnets.clone()), subnets, strings)
                .unwrap_or_default(),
            security_groups: keep_shape(
                &known.and_then(|k| k.security_groups.clone()),
                groups,
                strings,
            ),
            scheme: e.text("Scheme").map(String::from),
            r#type: e.text("Type").map(String::from),
            ip_address_type: e.text("IpAddressType").map(String::from),
        },
        attributes: attributes(e),
        tags,
    }
}

fn active(aws: &Aws, arn: &str) -> Result<Element> {
    aws.wait
        .until(&format!("load balancer {arn} to be active"), || {
            let lb = LoadBalancer::DESCRIBE
                .one(aws, arn)?
                .ok_or_else(|| Error::not_found(format!("load balancer {arn} is gone")))?;
            match lb.text("State/Code") {
                Some("active") | None => Ok(Some(lb)),
                Some("failed") => Err(Error::other(format!(
                    "load balancer {arn} failed: {}",
                    lb.text("State/Reason").unwrap_or("no reason given")
                ))),
                Some(_) => Ok(None),
            }
        })
}

impl Described for LoadBalancer {
    const DESCRIBE: Describe = Describe {
        action: "DescribeLoadBalancers",
        arns_param: "LoadBalancerArns",
        list: "LoadBalancers",
        arn_field: "LoadBalancerArn",
    };

    fn observe(
        _: &Aws,
        e: &Element,
        known: &LoadBalancerProps,
        tags: Tags,
    ) -> Result<Observed<Self>> {
        Ok(observed(e, Some(known), tags))
    }
}

impl Resource for LoadBalancer {
    type Provider = Aws;
    type Properties = LoadBalancerProps;
    type Attributes = LoadBalancerAttrs;
    const TYPE: &'static str = "LoadBalancer";
    const DESCRIPTION: &'static str = "An ELBv2 load balancer (application or network)";
    const FORCE_NEW: &'static [&'static str] = &["Name", "Scheme", "Type"];

    fn validate(p: &LoadBalancerProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-';
        if p.name.is_empty()
            || p.name.len() > 32
            || !p.name.chars().all(ok)
            || p.name.starts_with('-')
            || p.name.ends_with('-')
        {
            found.push(Diagnostic::error(
                "Name",
                "1 to 32 letters, digits and hyphens, not starting or ending with a hyphen",
            ));
        }
        if p.r#type.as_deref().unwrap_or("application") == "application" && p.subnets.len() < 2 {
            found.push(Diagnostic::error(
                "Subnets",
                "an application load balancer needs subnets in at least two availability zones",
            ));
        }
        found
    }

    fn create(aws: &Aws, p: &LoadBalancerProps, tags: &Tags) -> Result<Created<LoadBalancerAttrs>> {
        // CreateLoadBalancer is idempotent by name: a retry returns the same load balancer.
        let root = aws.api.elbv2(
            "CreateLoadBalancer",
            Params::new()
                .set("Name", &p.name)
                .members("Subnets", &p.subnets)
                .members("SecurityGroups", p.security_groups.iter().flatten())
                .opt("Scheme", p.scheme.as_deref())
                .opt("Type", p.r#type.as_deref())
                .opt("IpAddressType", p.ip_address_type.as_deref())
                .elbv2_tags(tags),
        )?;
        let arn = root.string("CreateLoadBalancerResult/LoadBalancers/member/LoadBalancerArn");
        let lb = or_undo(active(aws, &arn), &arn, || Self::delete(aws, &arn, p))?;
        Ok(Created {
            id: arn,
            attributes: attributes(&lb),
        })
    }

    described_reads!(elbv2);

    fn update(
        aws: &Aws,
        arn: &str,
        old: &LoadBalancerProps,
        new: &LoadBalancerProps,
        tags: &Tags,
    ) -> Result<LoadBalancerAttrs> {
        if strings(&new.subnets) != strings(&old.subnets) {
            aws.api.elbv2(
                "SetSubnets",
                Params::new()
                    .set("LoadBalancerArn", arn)
                    .members("Subnets", &new.subnets),
            )?;
        }
        if let Some(groups) = &new.security_groups
            && new.security_groups != old.security_groups
        {
            aws.api.elbv2(
                "SetSecurityGroups",
                Params::new()
                    .set("LoadBalancerArn", arn)
                    .members("SecurityGroups", groups),
            )?;
        }
        if let Some(kind) = &new.ip_address_type
            && new.ip_address_type != old.ip_address_type
        {
            aws.api.elbv2(
                "SetIpAddressType",
                Params::new()
                    .set("LoadBalancerArn", arn)
                    .set("IpAddressType", kind),
            )?;
        }
        add_tags(aws, arn, tags)?;
        Ok(attributes(&active(aws, arn)?))
    }

    fn delete(aws: &Aws, arn: &str, _: &LoadBalancerProps) -> Result<()> {
        match aws.api.elbv2(
            "DeleteLoadBalancer",
            Params::new().set("LoadBalancerArn", arn),
        ) {
            Err(err) if err.is_not_found() => return Ok(()),
            other => drop(other?),
        }
        aws.wait
            .until(&format!("load balancer {arn} to be gone"), || {
                Ok(Self::DESCRIBE.one(aws, arn)?.is_none().then_some(()))
            })
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let all = Self::DESCRIBE.all(aws, Params::new())?;
        Ok(Self::DESCRIBE
            .tagged(aws, all, tags)?
            .into_iter()
            .map(|(lb, tags)| observed(&lb, None, tags))
            .collect())
    }
}
