//! `Subnet`: CreateSubnet, MapPublicIpOnLaunch with ModifySubnetAttribute (in place),
//! DeleteSubnet.

use super::{
    Describe, Described, boolean, check_cidr, delete_when_free, or_undo, ready_or_wait, tag,
};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CreateSubnet's parameters, and whether instances get a public address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SubnetProps {
    /// The VPC (force-new).
    pub vpc_id: String,
    /// The IPv4 range inside the VPC's, /16 to /28 (force-new).
    pub cidr_block: String,
    /// The zone, e.g. `us-east-1a` (force-new; AWS picks one if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Whether instances launched here get a public IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_public_ip_on_launch: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetAttrs {
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub cidr_block: String,
}

pub struct Subnet;

fn attributes(e: &Element) -> SubnetAttrs {
    SubnetAttrs {
        subnet_id: e.string("subnetId"),
        vpc_id: e.string("vpcId"),
        availability_zone: e.string("availabilityZone"),
        cidr_block: e.string("cidrBlock"),
    }
}

fn observed(e: &Element) -> Observed<Subnet> {
    Observed {
        id: e.string("subnetId"),
        properties: SubnetProps {
            vpc_id: e.string("vpcId"),
            cidr_block: e.string("cidrBlock"),
            availability_zone: e.text("availabilityZone").map(String::from),
            map_public_ip_on_launch: boolean(e.text("mapPublicIpOnLaunch")),
        },
        attributes: attributes(e),
        tags: e.tags("tagSet"),
    }
}

fn set_public_ip(aws: &Aws, id: &str, value: bool) -> Result<()> {
    aws.api.ec2(
        "ModifySubnetAttribute",
        Params::new()
            .set("SubnetId", id)
            .set("MapPublicIpOnLaunch.Value", value),
    )?;
    Ok(())
}

impl Described for Subnet {
    const DESCRIBE: Describe = Describe {
        action: "DescribeSubnets",
        set: "subnetSet",
        nested: None,
        id_param: "SubnetId",
        filter: "subnet-id",
        id_field: "subnetId",
    };

    fn observe(_: &Aws, e: &Element, _: &SubnetProps) -> Result<Option<Observed<Self>>> {
        Ok(Some(observed(e)))
    }
}

impl Resource for Subnet {
    type Provider = Aws;
    type Properties = SubnetProps;
    type Attributes = SubnetAttrs;
    const TYPE: &'static str = "Subnet";
    const DESCRIPTION: &'static str = "A range of a VPC's addresses in one availability zone";
    const FORCE_NEW: &'static [&'static str] = &[
        "VpcId",
        "CidrBlock",
        "AvailabilityZone",
        "CreateSubnetInput",
    ];
    const PROPERTY_WRAPPER: Option<&'static str> = Some("CreateSubnetInput");

    fn validate(p: &SubnetProps) -> Vec<Diagnostic> {
        check_cidr("CidrBlock", &p.cidr_block, 16..=28)
    }

    fn create(aws: &Aws, p: &SubnetProps, tags: &Tags) -> Result<Created<SubnetAttrs>> {
        let subnet = aws
            .api
            .ec2(
                "CreateSubnet",
                Params::new()
                    .set("VpcId", &p.vpc_id)
                    .set("CidrBlock", &p.cidr_block)
                    .opt("AvailabilityZone", p.availability_zone.as_deref())
                    .tag_specification("subnet", tags),
            )?
            .child("subnet")
            .cloned()
            .unwrap_or_default();
        let id = subnet.string("subnetId");
        let available = |e: &Element| e.text("state") == Some("available");
        let ready = ready_or_wait(subnet, available, || {
            aws.wait.until(&format!("subnet {id} to be available"), || {
                Ok(Self::DESCRIBE.one(aws, &id)?.filter(available))
            })
        });
        let ready = ready.and_then(|e| match p.map_public_ip_on_launch {
            Some(value) => set_public_ip(aws, &id, value).map(|()| e),
            None => Ok(e),
        });
        let subnet = or_undo(ready, &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            id,
            attributes: attributes(&subnet),
        })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        old: &SubnetProps,
        new: &SubnetProps,
        tags: &Tags,
    ) -> Result<SubnetAttrs> {
        if let Some(value) = new.map_public_ip_on_launch
            && old.map_public_ip_on_launch != Some(value)
        {
            set_public_ip(aws, id, value)?;
        }
        tag(aws, id, tags)?;
        let subnet = Self::DESCRIBE
            .one(aws, id)?
            .ok_or_else(|| Error::not_found(format!("subnet {id} is gone")))?;
        Ok(attributes(&subnet))
    }

    fn delete(aws: &Aws, id: &str, _: &SubnetProps) -> Result<()> {
        delete_when_free(aws, "subnet", "DeleteSubnet", "SubnetId", id)
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let found = Self::DESCRIBE.tagged(aws, tags, Params::new())?;
        Ok(found.iter().map(observed).collect())
    }
}
