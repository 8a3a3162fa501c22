//! `Vpc`: CreateVpc, DNS attributes with ModifyVpcAttribute (in place), DeleteVpc.

use super::{
    Describe, Described, boolean, check_cidr, delete_when_free, or_undo, ready_or_wait, tag,
};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CreateVpc's parameters, and the DNS attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VpcProps {
    /// The IPv4 range, /16 to /28 (force-new).
    pub cidr_block: String,
    /// `default` or `dedicated` (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_tenancy: Option<String>,
    /// Whether the Amazon DNS server resolves names in the VPC (AWS default: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_support: Option<bool>,
    /// Whether instances get public DNS names (AWS default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_hostnames: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct VpcAttrs {
    pub vpc_id: String,
    pub cidr_block: String,
}

pub struct Vpc;

/// A DNS attribute's name and its value in the properties.
type DnsAttribute = (&'static str, fn(&VpcProps) -> Option<bool>);

const DNS: [DnsAttribute; 2] = [
    ("EnableDnsSupport", |p| p.enable_dns_support),
    ("EnableDnsHostnames", |p| p.enable_dns_hostnames),
];

fn attributes(e: &Element) -> VpcAttrs {
    VpcAttrs {
        vpc_id: e.string("vpcId"),
        cidr_block: e.string("cidrBlock"),
    }
}

/// Sets the DNS attributes `new` gives that differ from `old` (one call each, as the API asks).
fn set_dns(aws: &Aws, id: &str, old: Option<&VpcProps>, new: &VpcProps) -> Result<()> {
    for (name, get) in DNS {
        let Some(value) = get(new) else { continue };
        if old.and_then(get) == Some(value) {
            continue;
        }
        aws.api.ec2(
            "ModifyVpcAttribute",
            Params::new()
                .set("VpcId", id)
                .set(format!("{name}.Value"), value),
        )?;
    }
    Ok(())
}

fn observed(aws: &Aws, e: &Element, known: Option<&VpcProps>) -> Result<Observed<Vpc>> {
    let id = e.string("vpcId");
    let mut properties = VpcProps {
        cidr_block: e.string("cidrBlock"),
        instance_tenancy: e.text("instanceTenancy").map(String::from),
        enable_dns_support: None,
        enable_dns_hostnames: None,
    };
    // Each DNS attribute costs a call: read only those the spec manages.
    for (name, get) in DNS {
        if known.and_then(get).is_none() {
            continue;
        }
        let attribute = format!("{}{}", name[..1].to_lowercase(), &name[1..]);
        let root = aws.api.ec2(
            "DescribeVpcAttribute",
            Params::new().set("VpcId", &id).set("Attribute", &attribute),
        )?;
        let value = boolean(root.text(&format!("{attribute}/value")));
        match name {
            "EnableDnsSupport" => properties.enable_dns_support = value,
            _ => properties.enable_dns_hostnames = value,
        }
    }
    Ok(Observed {
        id,
        attributes: attributes(e),
        tags: e.tags("tagSet"),
        properties,
    })
}

impl Described for Vpc {
    const DESCRIBE: Describe = Describe {
        action: "DescribeVpcs",
        set: "vpcSet",
        nested: None,
        id_param: "VpcId",
        filter: "vpc-id",
        id_field: "vpcId",
    };

    fn observe(aws: &Aws, e: &Element, known: &VpcProps) -> Result<Option<Observed<Self>>> {
        observed(aws, e, Some(known)).map(Some)
    }
}

impl Resource for Vpc {
    type Provider = Aws;
    type Properties = VpcProps;
    type Attributes = VpcAttrs;
    const TYPE: &'static str = "Vpc";
    const DESCRIPTION: &'static str = "A virtual private cloud";
    const FORCE_NEW: &'static [&'static str] = &["CidrBlock", "InstanceTenancy", "CreateVpcInput"];
    const PROPERTY_WRAPPER: Option<&'static str> = Some("CreateVpcInput");

    fn validate(p: &VpcProps) -> Vec<Diagnostic> {
        let mut found = check_cidr("CidrBlock", &p.cidr_block, 16..=28);
        if let Some(t) = &p.instance_tenancy
            && t != "default"
            && t != "dedicated"
        {
            found.push(Diagnostic::error(
                "InstanceTenancy",
                format!("{t:?}: expected default or dedicated"),
            ));
        }
        found
    }

    fn create(aws: &Aws, p: &VpcProps, tags: &Tags) -> Result<Created<VpcAttrs>> {
        let vpc = aws
            .api
            .ec2(
                "CreateVpc",
                Params::new()
                    .set("CidrBlock", &p.cidr_block)
                    .opt("InstanceTenancy", p.instance_tenancy.as_deref())
                    .tag_specification("vpc", tags),
            )?
            .child("vpc")
            .cloned()
            .unwrap_or_default();
        let id = vpc.string("vpcId");
        let available = |e: &Element| e.text("state") == Some("available");
        let ready = ready_or_wait(vpc, available, || {
            aws.wait.until(&format!("VPC {id} to be available"), || {
                Ok(Self::DESCRIBE.one(aws, &id)?.filter(available))
            })
        });
        let ready = ready.and_then(|e| set_dns(aws, &id, None, p).map(|()| e));
        let vpc = or_undo(ready, &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            id,
            attributes: attributes(&vpc),
        })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        old: &VpcProps,
        new: &VpcProps,
        tags: &Tags,
    ) -> Result<VpcAttrs> {
        set_dns(aws, id, Some(old), new)?;
        tag(aws, id, tags)?;
        let vpc = Self::DESCRIBE
            .one(aws, id)?
            .ok_or_else(|| rkit_sdk::Error::not_found(format!("VPC {id} is gone")))?;
        Ok(attributes(&vpc))
    }

    fn delete(aws: &Aws, id: &str, _: &VpcProps) -> Result<()> {
        delete_when_free(aws, "VPC", "DeleteVpc", "VpcId", id)
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        Self::DESCRIBE
            .tagged(aws, tags, Params::new())?
            .iter()
            .map(|e| observed(aws, e, None))
            .collect()
    }
}
