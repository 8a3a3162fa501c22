//! `rkit.lock`, beside the spec: for every provider the spec uses (named by reference or given
//! as a module file), its source, the module's sha256, its version and signer, the
//! capabilities it declared and the grants it was given when the user approved it. A
//! reference loads only the module with that digest; any module with another digest, or asking
//! for (or given) more than was approved, is refused until approved again. Committed beside
//! the spec, it is the approval: CI needs no flag.

use crate::spi::Capabilities;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The lock file of a spec in `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join("rkit.lock")
}

/// The whole lock file.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lock {
    /// Each provider by its name in the spec.
    #[serde(default)]
    pub providers: BTreeMap<String, Locked>,
    /// Each policy bundle by its reference, pinned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, LockedPolicy>,
}

/// One policy bundle, pinned: only this content loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockedPolicy {
    /// The digest of the manifest it was published under.
    pub manifest_digest: String,
    /// sha256 of the bundle's content.
    pub digest: String,
    /// The public key whose signature was verified (none: `--allow-unsigned`).
    pub signer: Option<String>,
}

/// One provider, pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Locked {
    /// The reference the spec names.
    pub source: String,
    /// sha256 of the module: nothing else is loaded.
    pub digest: String,
    /// The digest of the manifest it was published under (none for a module file).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest_digest: String,
    pub version: String,
    /// The public key whose signature was verified, if any (`--allow-unsigned`: none).
    pub signer: Option<String>,
    /// What the module asked for when the user approved it.
    #[serde(with = "ApprovedCapabilities")]
    pub capabilities: Capabilities,
    /// What the spec gave it then, one line each (see [`grant_lines`]).
    #[serde(default)]
    pub grants: Vec<String>,
}

/// How the lock file spells approved capabilities.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Capabilities", rename_all = "PascalCase")]
struct ApprovedCapabilities {
    #[serde(rename = "Http")]
    http_hosts: Vec<String>,
    filesystem: bool,
    #[serde(rename = "MemoryMiB")]
    memory_mib: u32,
    credentials: Vec<String>,
    #[serde(default)]
    api_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    resource_types: Vec<String>,
}

impl Lock {
    /// Reads the lock at `path`; none yet is an empty lock.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a valid lock file", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the lock to `path` (aside, then renamed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("lock.tmp");
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

/// The capabilities `asked` holds beyond `approved`, one line each.
pub fn beyond(approved: &Capabilities, asked: &Capabilities) -> Vec<String> {
    let mut new = Vec::new();
    for host in &asked.http_hosts {
        if !approved.http_hosts.contains(host) {
            new.push(format!(
                "HTTP to {host} (reached only where the spec or its credentials grant it)"
            ));
        }
    }
    if asked.filesystem && !approved.filesystem {
        new.push("a host directory (filesystem)".into());
    }
    if asked.memory_mib > approved.memory_mib {
        new.push(format!("{} MiB of memory", asked.memory_mib));
    }
    for kind in &asked.credentials {
        if !approved.credentials.contains(kind) {
            new.push(format!("your {kind} credentials, signed for it by rkit"));
        }
    }
    for action in &asked.api_actions {
        if !approved.api_actions.contains(action) {
            new.push(format!("API action {action}"));
        }
    }
    for types in &asked.resource_types {
        if !approved.resource_types.contains(types) {
            new.push(format!("Cloud Control resource types {types}"));
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_goes_beyond_the_approval_is_new() {
        let approved = Capabilities {
            http_hosts: vec!["https://a.example".into()],
            filesystem: false,
            memory_mib: 64,
            credentials: vec![],
            api_actions: vec!["ec2:Describe*".into()],
            resource_types: vec!["AWS::SQS::*".into()],
        };
        assert!(beyond(&approved, &approved).is_empty());
        assert!(
            beyond(&approved, &Capabilities::default()).is_empty(),
            "asking for less is fine"
        );
        let more = Capabilities {
            http_hosts: vec!["https://a.example".into(), "https://b.example".into()],
            filesystem: true,
            memory_mib: 128,
            credentials: vec!["aws".into()],
            api_actions: vec!["ec2:Describe*".into(), "ec2:CreateVpc".into()],
            resource_types: vec!["AWS::SQS::*".into(), "AWS::IAM::Role".into()],
        };
        assert_eq!(
            beyond(&approved, &more),
            [
                "HTTP to https://b.example (reached only where the spec or its credentials grant it)",
                "a host directory (filesystem)",
                "128 MiB of memory",
                "your aws credentials, signed for it by rkit",
                "API action ec2:CreateVpc",
                "Cloud Control resource types AWS::IAM::Role"
            ]
        );
    }

    #[test]
    fn the_lock_round_trips_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path());
        assert_eq!(Lock::load(&path).unwrap(), Lock::default());
        let mut lock = Lock::default();
        lock.providers.insert(
            "aws".into(),
            Locked {
                source: "localhost:5000/rkit/aws:0.1.0".into(),
                digest: "sha256:d".into(),
                manifest_digest: "sha256:m".into(),
                version: "0.1.0".into(),
                signer: Some("ed25519:k".into()),
                capabilities: Capabilities::default(),
                grants: vec!["HTTP to https://x.example (granted by the spec)".into()],
            },
        );
        lock.save(&path).unwrap();
        assert_eq!(Lock::load(&path).unwrap(), lock);
    }
}
