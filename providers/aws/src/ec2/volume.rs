//! `Volume` (EBS): CreateVolume, size/type/IOPS/throughput with ModifyVolume (in place),
//! DeleteVolume once it is detached.

use super::{Describe, Described, boolean, or_undo, tag};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CreateVolume's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VolumeProps {
    /// The zone, e.g. `us-east-1a` (force-new).
    pub availability_zone: String,
    /// GiB; may grow in place, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// `gp3`, `gp2`, `io1`, `io2`, `st1`, `sc1` or `standard`; changes in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// MiB/s (gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
    /// Force-new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Force-new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Force-new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeAttrs {
    pub volume_id: String,
    pub size: u32,
    pub availability_zone: String,
}

pub struct Volume;

/// The volume, unless it is gone (being deleted or deleted).
fn describe(aws: &Aws, id: &str) -> Result<Option<Element>> {
    Ok(Volume::DESCRIBE.one(aws, id)?.filter(|e| !gone(e)))
}

/// Whether the volume is being deleted or is deleted.
fn gone(e: &Element) -> bool {
    matches!(e.text("status"), Some("deleting" | "deleted"))
}

fn attributes(e: &Element) -> VolumeAttrs {
    VolumeAttrs {
        volume_id: e.string("volumeId"),
        size: e
            .text("size")
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        availability_zone: e.string("availabilityZone"),
    }
}

fn observed(e: &Element) -> Observed<Volume> {
    let number = |name: &str| e.text(name).and_then(|t| t.parse().ok());
    Observed {
        id: e.string("volumeId"),
        properties: VolumeProps {
            availability_zone: e.string("availabilityZone"),
            size: number("size"),
            volume_type: e.text("volumeType").map(String::from),
            iops: number("iops"),
            throughput: number("throughput"),
            encrypted: boolean(e.text("encrypted")),
            kms_key_id: e.text("kmsKeyId").map(String::from),
            snapshot_id: e.text("snapshotId").map(String::from),
        },
        attributes: attributes(e),
        tags: e.tags("tagSet"),
    }
}

fn available(aws: &Aws, id: &str) -> Result<Element> {
    aws.wait.until(&format!("volume {id} to be available"), || {
        Ok(describe(aws, id)?.filter(|e| matches!(e.text("status"), Some("available" | "in-use"))))
    })
}

impl Described for Volume {
    const DESCRIBE: Describe = Describe {
        action: "DescribeVolumes",
        set: "volumeSet",
        nested: None,
        id_param: "VolumeId",
        filter: "volume-id",
        id_field: "volumeId",
    };

    /// `None` for a volume being deleted: as good as gone.
    fn observe(_: &Aws, e: &Element, _: &VolumeProps) -> Result<Option<Observed<Self>>> {
        Ok((!gone(e)).then(|| observed(e)))
    }
}

impl Resource for Volume {
    type Provider = Aws;
    type Properties = VolumeProps;
    type Attributes = VolumeAttrs;
    const TYPE: &'static str = "Volume";
    const DESCRIPTION: &'static str = "An EBS volume";
    const FORCE_NEW: &'static [&'static str] = &[
        "AvailabilityZone",
        "Encrypted",
        "KmsKeyId",
        "SnapshotId",
        "CreateVolumeInput",
    ];
    const PROPERTY_WRAPPER: Option<&'static str> = Some("CreateVolumeInput");

    fn validate(p: &VolumeProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        if p.size.is_none() && p.snapshot_id.is_none() {
            found.push(Diagnostic::error("Size", "give Size (GiB) or a SnapshotId"));
        }
        if let Some(t) = &p.volume_type
            && !matches!(
                t.as_str(),
                "gp2" | "gp3" | "io1" | "io2" | "st1" | "sc1" | "standard"
            )
        {
            found.push(Diagnostic::error(
                "VolumeType",
                format!("{t:?}: expected gp2, gp3, io1, io2, st1, sc1 or standard"),
            ));
        }
        found
    }

    fn create(aws: &Aws, p: &VolumeProps, tags: &Tags) -> Result<Created<VolumeAttrs>> {
        let id = aws
            .api
            .ec2(
                "CreateVolume",
                Params::new()
                    .set("AvailabilityZone", &p.availability_zone)
                    .opt("Size", p.size)
                    .opt("VolumeType", p.volume_type.as_deref())
                    .opt("Iops", p.iops)
                    .opt("Throughput", p.throughput)
                    .opt("Encrypted", p.encrypted)
                    .opt("KmsKeyId", p.kms_key_id.as_deref())
                    .opt("SnapshotId", p.snapshot_id.as_deref())
                    // rkit's idempotency token: a retried request makes no second volume.
                    .opt(
                        "ClientToken",
                        rkit_sdk::idempotency_token().filter(|t| !t.is_empty()),
                    )
                    .tag_specification("volume", tags),
            )?
            .string("volumeId");
        let volume = or_undo(available(aws, &id), &id, || Self::delete(aws, &id, p))?;
        Ok(Created {
            id,
            attributes: attributes(&volume),
        })
    }

    described_reads!(ec2);

    fn update(
        aws: &Aws,
        id: &str,
        old: &VolumeProps,
        new: &VolumeProps,
        tags: &Tags,
    ) -> Result<VolumeAttrs> {
        if let (Some(old), Some(new)) = (old.size, new.size)
            && new < old
        {
            return Err(Error::invalid(
                "Size",
                format!("an EBS volume cannot shrink ({old} GiB to {new} GiB): replace it instead"),
            ));
        }
        let params = Params::new()
            .set("VolumeId", id)
            .opt("Size", new.size.filter(|_| new.size != old.size))
            .opt(
                "VolumeType",
                new.volume_type
                    .as_deref()
                    .filter(|_| new.volume_type != old.volume_type),
            )
            .opt("Iops", new.iops.filter(|_| new.iops != old.iops))
            .opt(
                "Throughput",
                new.throughput.filter(|_| new.throughput != old.throughput),
            );
        if params.0.len() > 1 {
            aws.api.ec2("ModifyVolume", params)?;
        }
        tag(aws, id, tags)?;
        Ok(attributes(&available(aws, id)?))
    }

    fn delete(aws: &Aws, id: &str, _: &VolumeProps) -> Result<()> {
        aws.wait
            .while_in_use(&format!("volume {id} to be detached"), || {
                match aws
                    .api
                    .ec2("DeleteVolume", Params::new().set("VolumeId", id))
                {
                    // Still attached: wait as for any dependent.
                    Err(mut err) if err.is("IncorrectState") => {
                        err.code = "VolumeInUse".into();
                        Err(err)
                    }
                    other => other.map(drop),
                }
            })
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let found = Self::DESCRIBE.tagged(aws, tags, Params::new())?;
        Ok(found.iter().filter(|e| !gone(e)).map(observed).collect())
    }
}
