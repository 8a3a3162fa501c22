//! `RouteTable`: CreateRouteTable, its routes (Create/Replace/DeleteRoute) and subnet
//! associations (Associate/DisassociateRouteTable) converged in place, DeleteRouteTable after
//! disassociating.

use super::{Describe, Described, check_cidr, delete_when_free, or_undo, tag};
use crate::Aws;
use crate::query::Params;
use crate::sets::{changes, keep_shape, strings};
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One route: a destination and exactly one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Route {
    /// `0.0.0.0/0` for a default route.
    pub destination_cidr_block: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_peering_connection_id: Option<String>,
}

/// The target parameters a route may name, in the order a target is chosen from AWS's
/// answer (an instance route also reports its network interface).
/// A route's target parameter name and how to get its value.
type TargetField = (&'static str, fn(&Route) -> &Option<String>);

const TARGETS: [TargetField; 5] = [
    ("GatewayId", |r| &r.gateway_id),
    ("NatGatewayId", |r| &r.nat_gateway_id),
    ("InstanceId", |r| &r.instance_id),
    ("VpcPeeringConnectionId", |r| &r.vpc_peering_connection_id),
    ("NetworkInterfaceId", |r| &r.network_interface_id),
];

impl Route {
    /// The route's target parameter and value.
    fn target(&self) -> Option<(&'static str, &str)> {
        TARGETS
            .iter()
            .find_map(|(name, get)| get(self).as_deref().map(|v| (*name, v)))
    }

    fn key(&self) -> (String, String) {
        let target = self
            .target()
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        (self.destination_cidr_block.clone(), target)
    }

    fn params(&self, table: &str) -> Params {
        let params = Params::new()
            .set("RouteTableId", table)
            .set("DestinationCidrBlock", &self.destination_cidr_block);
        match self.target() {
            Some((name, value)) => params.set(name, value),
            None => params,
        }
    }
}

/// The table's VPC, routes and associated subnets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RouteTableProps {
    /// The VPC (force-new).
    pub vpc_id: String,
    /// The routes besides the VPC's local one; absent: routes are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// The subnets associated with the table; absent: associations are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTableAttrs {
    pub route_table_id: String,
}

pub struct RouteTable;

/// The routes of a described table, without the VPC's local route.
fn routes(e: &Element) -> Vec<Route> {
    e.items("routeSet")
        .filter(|r| {
            r.text("gatewayId") != Some("local") && r.text("origin") != Some("CreateRouteTable")
        })
        .filter_map(|r| {
            Some(Route {
                destination_cidr_block: r.text("destinationCidrBlock")?.to_string(),
                gateway_id: r.text("gatewayId").map(String::from),
                nat_gateway_id: r.text("natGatewayId").map(String::from),
                instance_id: r.text("instanceId").map(String::from),
                network_interface_id: r.text("networkInterfaceId").map(String::from),
                vpc_peering_connection_id: r.text("vpcPeeringConnectionId").map(String::from),
            })
        })
        .collect()
}

/// Subnet → association ID, for the table's subnet associations.
fn associations(e: &Element) -> BTreeMap<String, String> {
    e.items("associationSet")
        .filter(|a| a.text("main") != Some("true"))
        .filter(|a| {
            !matches!(
                a.text("associationState/state"),
                Some("disassociating" | "disassociated")
            )
        })
        .filter_map(|a| {
            Some((
                a.text("subnetId")?.to_string(),
                a.string("routeTableAssociationId"),
            ))
        })
        .collect()
}

fn route_keys(routes: &[Route]) -> BTreeSet<(String, String)> {
    routes.iter().map(Route::key).collect()
}

fn observed(e: &Element, known: Option<&RouteTableProps>) -> Observed<RouteTable> {
    let id = e.string("routeTableId");
    let subnets: Vec<String> = associations(e).into_keys().collect();
    Observed {
        properties: RouteTableProps {
            vpc_id: e.string("vpcId"),
            routes: keep_shape(&known.and_then(|k| k.routes.clone()), routes(e), route_keys),
            subnet_ids: keep_shape(&known.and_then(|k| k.subnet_ids.clone()), subnets, strings),
        },
        attributes: RouteTableAttrs {
            route_table_id: id.clone(),
        },
        tags: e.tags("tagSet"),
        id,
    }
}

/// Brings the described table `now` to the routes and associations `desired` manages.
fn converge(aws: &Aws, id: &str, now: &Element, desired: &RouteTableProps) -> Result<()> {
    if let Some(wanted) = &desired.routes {
        let have: BTreeMap<String, Route> = routes(now)
            .into_iter()
            .map(|r| (r.destination_cidr_block.clone(), r))
            .collect();
        let want: BTreeMap<&str, &Route> = wanted
            .iter()
            .map(|r| (r.destination_cidr_block.as_str(), r))
            .collect();
        for (destination, route) in &have {
            if !want.contains_key(destination.as_str()) {
                let params = Params::new()
                    .set("RouteTableId", id)
                    .set("DestinationCidrBlock", destination);
                match aws.api.ec2("DeleteRoute", params) {
                    Err(err) if !err.is_not_found() => return Err(err.into()),
                    _ => {}
                }
            } else if route.key() != want[destination.as_str()].key() {
                aws.api
                    .ec2("ReplaceRoute", want[destination.as_str()].params(id))?;
            }
        }
        for route in wanted {
            if !have.contains_key(&route.destination_cidr_block) {
                aws.api.ec2("CreateRoute", route.params(id))?;
            }
        }
    }
    if let Some(subnets) = &desired.subnet_ids {
        let have = associations(now);
        let (add, remove) = changes(&have.keys().cloned().collect(), &strings(subnets));
        for subnet in remove {
            disassociate(aws, &have[&subnet])?;
        }
        for subnet in add {
            aws.api.ec2(
                "AssociateRouteTable",
                Params::new()
                    .set("RouteTableId", id)
                    .set("SubnetId", subnet),
            )?;
        }
    }
    Ok(())
}

fn disassociate(aws: &Aws, association: &str) -> Result<()> {
    match aws.api.ec2(
        "DisassociateRouteTable",
        Params::new().set("AssociationId", association),
    ) {
        Err(err) if !err.is_not_found() => Err(err.into()),
        _ => Ok(()),
    }
}

impl Described for RouteTable {
    const DESCRIBE: Describe = Describe {
        action: "DescribeRouteTables",
        set: "routeTableSet",
        nested: None,
        id_param: "RouteTableId",
        filter: "route-table-id",
        id_field: "routeTableId",
    };

    fn observe(_: &Aws, e: &Element, known: &RouteTableProps) -> Result<Option<Observed<Self>>> {
        Ok(Some(observed(e, Some(known))))
    }
}

impl Resource for RouteTable {
    type Provider = Aws;
    type Properties = RouteTableProps;
    type Attributes = RouteTableAttrs;
    const TYPE: &'static str = "RouteTable";
    const DESCRIPTION: &'static str = "A route table with its routes and subnet associations";
    const FORCE_NEW: &'static [&'static str] = &["VpcId"];

    fn validate(p: &RouteTableProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, route) in p.routes.iter().flatten().enumerate() {
            let at = format!("Routes[{i}]");
            found.extend(check_cidr(
                &format!("{at}.DestinationCidrBlock"),
                &route.destination_cidr_block,
                0..=32,
            ));
            let targets = TARGETS
                .iter()
                .filter(|(_, get)| get(route).is_some())
                .count();
            if targets != 1 {
                found.push(Diagnostic::error(
                    &at,
                    format!(
                        "a route names exactly one target ({}); this one names {targets}",
                        TARGETS.map(|(n, _)| n).join(", ")
                    ),
                ));
            }
            if !seen.insert(&route.destination_cidr_block) {
                found.push(Diagnostic::error(
                    format!("{at}.DestinationCidrBlock"),
                    format!("{} has a route already", route.destination_cidr_block),
                ));
            }
        }
        found
    }

    fn create(aws: &Aws, p: &RouteTableProps, tags: &Tags) -> Result<Created<RouteTableAttrs>> {
        let id = aws
            .api
            .ec2(
                "CreateRouteTable",
                Params::new()
                    .set("VpcId", &p.vpc_id)
                    .tag_specification("route-table", tags),
            )?
            .string("routeTable/routeTableId");
        let converged = Self::DESCRIBE
            .one(aws, &id)?
            .ok_or_else(|| Error::other(format!("route table {id} vanished after its creation")))
            .and_then(|now| converge(aws, &id, &now, p));
        or_undo(converged, &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            attributes: RouteTableAttrs {
                route_table_id: id.clone(),
            },
            id,
        })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        _: &RouteTableProps,
        new: &RouteTableProps,
        tags: &Tags,
    ) -> Result<RouteTableAttrs> {
        let now = Self::DESCRIBE
            .one(aws, id)?
            .ok_or_else(|| Error::not_found(format!("route table {id} is gone")))?;
        converge(aws, id, &now, new)?;
        tag(aws, id, tags)?;
        Ok(RouteTableAttrs {
            route_table_id: id.to_string(),
        })
    }

    fn delete(aws: &Aws, id: &str, _: &RouteTableProps) -> Result<()> {
        let Some(now) = Self::DESCRIBE.one(aws, id)? else {
            return Ok(());
        };
        for association in associations(&now).values() {
            disassociate(aws, association)?;
        }
        delete_when_free(aws, "route table", "DeleteRouteTable", "RouteTableId", id)
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let found = Self::DESCRIBE.tagged(aws, tags, Params::new())?;
        Ok(found.iter().map(|e| observed(e, None)).collect())
    }
}
