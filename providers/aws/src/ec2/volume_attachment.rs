//! `VolumeAttachment`: AttachVolume once the instance is running, waiting until attached;
//! DetachVolume, waiting until detached.
//!
//! EC2 attachments carry no tags, so the attachment's tags are kept on its volume with the
//! prefix `rkit:attachment/` (`rkit:attachment/rkit:name` = the attachment's logical name);
//! `list` finds attachments by those. An attachment is read from its volume (its
//! [`Describe`] is the volume's): a batch of attachments is one DescribeVolumes, each volume
//! asked for once.

use super::instance::Instance;
use super::volume::Volume;
use super::{Describe, Described};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const TAG_PREFIX: &str = "rkit:attachment/";

/// AttachVolume's parameters (all force-new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttachmentProps {
    pub volume_id: String,
    pub instance_id: String,
    /// The device name, e.g. `/dev/sdf`.
    pub device: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentAttrs {
    /// `attaching` or `attached`.
    pub state: String,
}

pub struct VolumeAttachment;

fn volume(aws: &Aws, id: &str) -> Result<Option<Element>> {
    Volume::DESCRIBE.one(aws, id)
}

/// The volume's live attachment to `instance`, if any.
fn attachment<'a>(volume: &'a Element, instance: &str) -> Option<&'a Element> {
    volume.items("attachmentSet").find(|a| {
        a.text("instanceId") == Some(instance)
            && matches!(a.text("status"), Some("attaching" | "attached"))
    })
}

/// The attachment's own tags, from its volume's prefixed ones.
fn own_tags(volume: &Element) -> Tags {
    volume
        .tags("tagSet")
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(TAG_PREFIX)?.to_string(), v)))
        .collect()
}

fn prefixed(tags: &Tags) -> Tags {
    tags.iter()
        .map(|(k, v)| (format!("{TAG_PREFIX}{k}"), v.clone()))
        .collect()
}

fn observed(volume: &Element, a: &Element) -> Observed<VolumeAttachment> {
    let properties = AttachmentProps {
        volume_id: volume.string("volumeId"),
        instance_id: a.string("instanceId"),
        device: a.string("device"),
    };
    Observed {
        id: format!("{}:{}", properties.volume_id, properties.instance_id),
        properties,
        attributes: AttachmentAttrs {
            state: a.string("status"),
        },
        tags: own_tags(volume),
    }
}

impl Described for VolumeAttachment {
    const DESCRIBE: Describe = Volume::DESCRIBE;

    /// The volume's ID (the attachment's is `volume:instance`).
    fn object_id<'a>(_: &'a str, known: &'a AttachmentProps) -> &'a str {
        &known.volume_id
    }

    /// The volume's live attachment to the known instance, if it still has one.
    fn observe(
        _: &Aws,
        volume: &Element,
        known: &AttachmentProps,
    ) -> Result<Option<Observed<Self>>> {
        Ok(attachment(volume, &known.instance_id).map(|a| observed(volume, a)))
    }
}

impl Resource for VolumeAttachment {
    type Provider = Aws;
    type Properties = AttachmentProps;
    type Attributes = AttachmentAttrs;
    const TYPE: &'static str = "VolumeAttachment";
    const DESCRIPTION: &'static str = "An EBS volume attached to an instance";
    const FORCE_NEW: &'static [&'static str] = &["VolumeId", "InstanceId", "Device"];

    fn create(aws: &Aws, p: &AttachmentProps, tags: &Tags) -> Result<Created<AttachmentAttrs>> {
        let instance = &p.instance_id;
        aws.wait
            .until(&format!("instance {instance} to be running"), || {
                let state = Instance::DESCRIBE
                    .one(aws, instance)?
                    .map(|i| i.string("instanceState/name"));
                match state.as_deref() {
                    Some("running") => Ok(Some(())),
                    Some("pending") => Ok(None),
                    other => Err(Error::conflict(format!(
                        "instance {instance} is {}: a volume attaches only to a running instance",
                        other.unwrap_or("gone")
                    ))),
                }
            })?;
        let now = volume(aws, &p.volume_id)?
            .ok_or_else(|| Error::not_found(format!("volume {} does not exist", p.volume_id)))?;
        if attachment(&now, instance).is_none() {
            aws.api.ec2(
                "AttachVolume",
                Params::new()
                    .set("VolumeId", &p.volume_id)
                    .set("InstanceId", instance)
                    .set("Device", &p.device),
            )?;
        }
        let attached = aws.wait.until(
            &format!("volume {} to be attached to {instance}", p.volume_id),
            || {
                Ok(volume(aws, &p.volume_id)?.filter(|v| {
                    attachment(v, instance).and_then(|a| a.text("status")) == Some("attached")
                }))
            },
        );
        let attached = attached.and_then(|v| {
            aws.api.ec2(
                "CreateTags",
                Params::new()
                    .set("ResourceId.1", &p.volume_id)
                    .ec2_tags(&prefixed(tags)),
            )?;
            Ok(v)
        });
        let id = format!("{}:{instance}", p.volume_id);
        super::or_undo(attached, &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            id,
            attributes: AttachmentAttrs {
                state: "attached".into(),
            },
        })
    }

    described_reads!(ec2);

    fn delete(aws: &Aws, _: &str, p: &AttachmentProps) -> Result<()> {
        let detach = aws.api.ec2(
            "DetachVolume",
            Params::new()
                .set("VolumeId", &p.volume_id)
                .set("InstanceId", &p.instance_id)
                .set("Device", &p.device),
        );
        match detach {
            Err(err) if err.is_not_found() || err.is("IncorrectState") => {}
            other => drop(other?),
        }
        aws.wait.until(
            &format!("volume {} to detach from {}", p.volume_id, p.instance_id),
            || match volume(aws, &p.volume_id)? {
                Some(v) if attachment(&v, &p.instance_id).is_some() => Ok(None),
                _ => Ok(Some(())),
            },
        )?;
        let Some(v) = volume(aws, &p.volume_id)? else {
            return Ok(());
        };
        let keys: Vec<String> = v
            .tags("tagSet")
            .into_keys()
            .filter(|k| k.starts_with(TAG_PREFIX))
            .collect();
        if !keys.is_empty() {
            let mut params = Params::new().set("ResourceId.1", &p.volume_id);
            for (i, key) in keys.iter().enumerate() {
                params = params.set(format!("Tag.{}.Key", i + 1), key);
            }
            match aws.api.ec2("DeleteTags", params) {
                Err(err) if !err.is_not_found() => return Err(err.into()),
                _ => {}
            }
        }
        Ok(())
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let volumes = Self::DESCRIBE.tagged(aws, &prefixed(tags), Params::new())?;
        Ok(volumes
            .iter()
            .flat_map(|v| {
                v.items("attachmentSet")
                    .filter(|a| matches!(a.text("status"), Some("attaching" | "attached")))
                    .map(|a| observed(v, a))
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}
