//! `InternetGateway`: CreateInternetGateway with its VPC attachment (Attach/Detach, moved in
//! place), DeleteInternetGateway after detaching.

use super::{Describe, Described, delete_when_free, or_undo, tag};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The VPC the gateway is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GatewayProps {
    /// The VPC to attach to (detached if absent); moving it detaches and attaches in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayAttrs {
    pub internet_gateway_id: String,
}

pub struct InternetGateway;

/// The VPCs the gateway is attached to (or attaching).
fn attached(e: &Element) -> Vec<String> {
    e.items("attachmentSet")
        .filter(|a| !matches!(a.text("state"), Some("detaching" | "detached")))
        .filter_map(|a| a.text("vpcId").map(String::from))
        .collect()
}

fn observed(e: &Element) -> Observed<InternetGateway> {
    let id = e.string("internetGatewayId");
    Observed {
        properties: GatewayProps {
            vpc_id: attached(e).into_iter().next(),
        },
        attributes: GatewayAttrs {
            internet_gateway_id: id.clone(),
        },
        tags: e.tags("tagSet"),
        id,
    }
}

fn attach(aws: &Aws, id: &str, vpc: &str) -> Result<()> {
    aws.api.ec2(
        "AttachInternetGateway",
        Params::new().set("InternetGatewayId", id).set("VpcId", vpc),
    )?;
    Ok(())
}

/// Detaches from `vpc`, waiting while AWS says addresses are still mapped through it.
fn detach(aws: &Aws, id: &str, vpc: &str) -> Result<()> {
    aws.wait.while_in_use(
        &format!("internet gateway {id} to detach from {vpc}"),
        || match aws.api.ec2(
            "DetachInternetGateway",
            Params::new().set("InternetGatewayId", id).set("VpcId", vpc),
        ) {
            Err(err) if err.is("Gateway.NotAttached") => Ok(()),
            other => other.map(drop),
        },
    )
}

impl Described for InternetGateway {
    const DESCRIBE: Describe = Describe {
        action: "DescribeInternetGateways",
        set: "internetGatewaySet",
        nested: None,
        id_param: "InternetGatewayId",
        filter: "internet-gateway-id",
        id_field: "internetGatewayId",
    };

    fn observe(_: &Aws, e: &Element, _: &GatewayProps) -> Result<Option<Observed<Self>>> {
        Ok(Some(observed(e)))
    }
}

impl Resource for InternetGateway {
    type Provider = Aws;
    type Properties = GatewayProps;
    type Attributes = GatewayAttrs;
    const TYPE: &'static str = "InternetGateway";
    const DESCRIPTION: &'static str = "An internet gateway, attached to a VPC";

    fn create(aws: &Aws, p: &GatewayProps, tags: &Tags) -> Result<Created<GatewayAttrs>> {
        let root = aws.api.ec2(
            "CreateInternetGateway",
            Params::new().tag_specification("internet-gateway", tags),
        )?;
        let id = root.string("internetGateway/internetGatewayId");
        let old = GatewayProps { vpc_id: None };
        let moved = move_attachment(aws, &id, &old, p);
        or_undo(moved, &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            attributes: GatewayAttrs {
                internet_gateway_id: id.clone(),
            },
            id,
        })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        _: &GatewayProps,
        new: &GatewayProps,
        tags: &Tags,
    ) -> Result<GatewayAttrs> {
        let now = Self::DESCRIBE
            .one(aws, id)?
            .as_ref()
            .map(observed)
            .ok_or_else(|| rkit_sdk::Error::not_found(format!("internet gateway {id} is gone")))?;
        move_attachment(aws, id, &now.properties, new)?;
        tag(aws, id, tags)?;
        Ok(now.attributes)
    }

    fn delete(aws: &Aws, id: &str, _: &GatewayProps) -> Result<()> {
        let Some(gateway) = Self::DESCRIBE.one(aws, id)? else {
            return Ok(());
        };
        for vpc in attached(&gateway) {
            detach(aws, id, &vpc)?;
        }
        delete_when_free(
            aws,
            "internet gateway",
            "DeleteInternetGateway",
            "InternetGatewayId",
            id,
        )
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let found = Self::DESCRIBE.tagged(aws, tags, Params::new())?;
        Ok(found.iter().map(observed).collect())
    }
}

/// Moves the attachment from `old.vpc_id` to `new.vpc_id`.
fn move_attachment(aws: &Aws, id: &str, old: &GatewayProps, new: &GatewayProps) -> Result<()> {
    if old.vpc_id == new.vpc_id {
        return Ok(());
    }
    if let Some(vpc) = &old.vpc_id {
        detach(aws, id, vpc)?;
    }
    if let Some(vpc) = &new.vpc_id {
        attach(aws, id, vpc)?;
    }
    Ok(())
}
