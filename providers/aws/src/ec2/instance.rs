//! `Instance`: RunInstances (one instance, idempotent by client token), returned `pending`
//! for rkit to wait for with the other new instances (one DescribeInstances per 200 per
//! round); instance type (stop, modify, start) and security groups change in place;
//! TerminateInstances, waiting until terminated (so its subnet can go next).

use super::{Describe, Described, tag};
use crate::Aws;
use crate::query::Params;
use crate::sets::{keep_shape, strings};
use crate::xml::Element;
use base64::Engine as _;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// RunInstances' parameters for one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceProps {
    /// The AMI (force-new).
    pub image_id: String,
    /// E.g. `t3.micro`; changes in place (the instance is stopped and started).
    pub instance_type: String,
    /// The subnet (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Security groups; change in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    /// An EC2 key pair's name (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// User data as plain text; rkit encodes it (force-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Force-new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAttrs {
    pub instance_id: String,
    pub private_ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    pub availability_zone: String,
    /// Whether it is `running` (what a group's rolling update waits for).
    #[serde(default)]
    pub healthy: bool,
    /// EC2's state: `pending` until it has started, then `running`, `stopped`, ….
    #[serde(default)]
    pub state: String,
}

pub struct Instance;

/// The instance, unless it is gone (terminated or terminating).
fn describe(aws: &Aws, id: &str) -> Result<Option<Element>> {
    Ok(Instance::DESCRIBE.one(aws, id)?.filter(live))
}

/// Whether the instance is not gone (terminated or terminating).
fn live(instance: &Element) -> bool {
    !matches!(state(instance), "terminated" | "shutting-down")
}

fn state(instance: &Element) -> &str {
    instance.text("instanceState/name").unwrap_or_default()
}

fn attributes(e: &Element) -> InstanceAttrs {
    InstanceAttrs {
        instance_id: e.string("instanceId"),
        private_ip_address: e.string("privateIpAddress"),
        public_ip_address: e.text("ipAddress").map(String::from),
        availability_zone: e.string("placement/availabilityZone"),
        healthy: state(e) == "running",
        state: state(e).to_string(),
    }
}

fn observed(e: &Element, known: Option<&InstanceProps>) -> Observed<Instance> {
    let groups: Vec<String> = e
        .items("groupSet")
        .filter_map(|g| g.text("groupId").map(String::from))
        .collect();
    Observed {
        id: e.string("instanceId"),
        properties: InstanceProps {
            image_id: e.string("imageId"),
            instance_type: e.string("instanceType"),
            subnet_id: e.text("subnetId").map(String::from),
            security_group_ids: keep_shape(
                &known.and_then(|k| k.security_group_ids.clone()),
                groups,
                strings,
            ),
            key_name: e.text("keyName").map(String::from),
            // Reading it back costs a call per instance; it is force-new and never drifts.
            user_data: known.and_then(|k| k.user_data.clone()),
            private_ip_address: e.text("privateIpAddress").map(String::from),
        },
        attributes: attributes(e),
        tags: e.tags("tagSet"),
    }
}

/// Waits until the instance is in state `wanted`.
fn wait_for(aws: &Aws, id: &str, wanted: &str) -> Result<Element> {
    aws.wait.until(
        &format!("instance {id} to be {wanted}"),
        || match Instance::DESCRIBE.one(aws, id)? {
            Some(i) if state(&i) == wanted => Ok(Some(i)),
            Some(i)
                if wanted != "terminated"
                    && matches!(state(&i), "terminated" | "shutting-down") =>
            {
                Err(Error::other(format!(
                    "instance {id} is {} instead of {wanted}: {}",
                    state(&i),
                    i.text("stateReason/message").unwrap_or("no reason given")
                )))
            }
            Some(_) => Ok(None),
            None if wanted == "terminated" => Ok(Some(Element::default())),
            None => Err(Error::not_found(format!("instance {id} is gone"))),
        },
    )
}

/// RunInstances' client token: rkit's idempotency token for this create (the same for every
/// attempt, so a request retried after a lost answer starts no second instance), or a fresh
/// one where rkit gave none.
fn client_token() -> String {
    rkit_sdk::idempotency_token()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).unwrap_or_default();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}

impl Described for Instance {
    const DESCRIBE: Describe = Describe {
        action: "DescribeInstances",
        set: "reservationSet",
        nested: Some("instancesSet"),
        id_param: "InstanceId",
        filter: "instance-id",
        id_field: "instanceId",
    };

    /// `None` for a terminated or terminating instance: as good as gone.
    fn observe(_: &Aws, e: &Element, known: &InstanceProps) -> Result<Option<Observed<Self>>> {
        Ok(live(e).then(|| observed(e, Some(known))))
    }
}

impl Resource for Instance {
    type Provider = Aws;
    type Properties = InstanceProps;
    type Attributes = InstanceAttrs;
    const TYPE: &'static str = "Instance";
    const DESCRIPTION: &'static str = "An EC2 instance";
    const FORCE_NEW: &'static [&'static str] = &[
        "ImageId",
        "SubnetId",
        "KeyName",
        "UserData",
        "PrivateIpAddress",
        "RunInstancesInput",
    ];
    const PROPERTY_WRAPPER: Option<&'static str> = Some("RunInstancesInput");

    fn validate(p: &InstanceProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        if !p.image_id.starts_with("ami-") {
            found.push(Diagnostic::error(
                "ImageId",
                format!("{:?} is not an AMI ID (ami-…)", p.image_id),
            ));
        }
        if !p.instance_type.contains('.') {
            found.push(Diagnostic::error(
                "InstanceType",
                format!(
                    "{:?} is not an instance type (family.size, e.g. t3.micro)",
                    p.instance_type
                ),
            ));
        }
        found
    }

    fn create(aws: &Aws, p: &InstanceProps, tags: &Tags) -> Result<Created<InstanceAttrs>> {
        let user_data = p
            .user_data
            .as_ref()
            .map(|u| base64::engine::general_purpose::STANDARD.encode(u));
        let params = Params::new()
            .set("ImageId", &p.image_id)
            .set("InstanceType", &p.instance_type)
            .set("MinCount", 1)
            .set("MaxCount", 1)
            .set("ClientToken", client_token())
            .opt("SubnetId", p.subnet_id.as_deref())
            .list("SecurityGroupId", p.security_group_ids.iter().flatten())
            .opt("KeyName", p.key_name.as_deref())
            .opt("UserData", user_data)
            .opt("PrivateIpAddress", p.private_ip_address.as_deref())
            .tag_specification("instance", tags);
        let started = aws
            .api
            .ec2("RunInstances", params)?
            .at("instancesSet/item")
            .cloned()
            .unwrap_or_default();
        // Still `pending`: rkit waits for it with the other new instances (see `ready`).
        Ok(Created {
            id: started.string("instanceId"),
            attributes: attributes(&started),
        })
    }

    described_reads!(ec2);

    /// Started: rkit polls new instances together (one DescribeInstances per 200 per round)
    /// until they are no longer `pending`.
    fn ready(attributes: &InstanceAttrs) -> bool {
        attributes.state != "pending"
    }

    fn update(
        aws: &Aws,
        id: &str,
        old: &InstanceProps,
        new: &InstanceProps,
        tags: &Tags,
    ) -> Result<InstanceAttrs> {
        let now =
            describe(aws, id)?.ok_or_else(|| Error::not_found(format!("instance {id} is gone")))?;
        if let Some(groups) = &new.security_group_ids
            && new.security_group_ids != old.security_group_ids
        {
            aws.api.ec2(
                "ModifyInstanceAttribute",
                Params::new().set("InstanceId", id).list("GroupId", groups),
            )?;
        }
        if now.text("instanceType") != Some(new.instance_type.as_str()) {
            aws.api
                .ec2("StopInstances", Params::new().set("InstanceId.1", id))?;
            wait_for(aws, id, "stopped")?;
            aws.api.ec2(
                "ModifyInstanceAttribute",
                Params::new()
                    .set("InstanceId", id)
                    .set("InstanceType.Value", &new.instance_type),
            )?;
            aws.api
                .ec2("StartInstances", Params::new().set("InstanceId.1", id))?;
        }
        tag(aws, id, tags)?;
        Ok(attributes(&wait_for(aws, id, "running")?))
    }

    fn delete(aws: &Aws, id: &str, _: &InstanceProps) -> Result<()> {
        match aws
            .api
            .ec2("TerminateInstances", Params::new().set("InstanceId.1", id))
        {
            Err(err) if err.is_not_found() => return Ok(()),
            other => drop(other?),
        }
        wait_for(aws, id, "terminated").map(drop)
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let not_gone = Params::new().filters([(
            "instance-state-name".to_string(),
            vec!["pending", "running", "stopping", "stopped"],
        )]);
        let found = Self::DESCRIBE.tagged(aws, tags, not_gone)?;
        Ok(found.iter().map(|i| observed(i, None)).collect())
    }
}
