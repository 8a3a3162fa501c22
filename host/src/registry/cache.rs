//! The local cache of pulled provider modules: `DIR/modules/sha256-HEX.wasm` by the module's
//! digest, and `DIR/index.json` recording what each came from (reference, manifest digest),
//! what it is (name, version), who signed it and what it asks for. A reference by manifest
//! digest is served from here without the network.

use super::signing::ManifestSignature;
use super::{Fetched, ModuleRef, sha256_digest};
use crate::spi::Capabilities;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the cache knows of one pulled module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    /// The reference it was pulled by.
    pub reference: String,
    pub manifest_digest: String,
    /// sha256 of the module.
    pub digest: String,
    pub name: String,
    pub version: String,
    /// The signature published beside it, if any (checked against a trust policy when a
    /// spec uses the module).
    pub signature: Option<ManifestSignature>,
    pub capabilities: Capabilities,
}

impl Entry {
    /// The entry for `fetched`, pulled by `reference`, whose module describes itself as `info`.
    pub fn of(reference: &str, fetched: &super::Fetched, info: &crate::spi::ProviderInfo) -> Self {
        Self {
            reference: reference.to_string(),
            manifest_digest: fetched.manifest_digest.clone(),
            digest: super::sha256_digest(&fetched.module),
            name: info.name.clone(),
            version: info.version.clone(),
            signature: fetched.signature.clone(),
            capabilities: info.capabilities.clone(),
        }
    }
}

/// The module cache in one directory.
pub struct ModuleCache {
    dir: PathBuf,
}

impl ModuleCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// `providers/` in rkit's cache directory (`$RKIT_CACHE_DIR`, else `~/.cache/rkit`).
    pub fn default_location() -> Self {
        let base = crate::sandbox::ComponentCache::default_dir()
            .unwrap_or_else(|| PathBuf::from(".rkit-cache"));
        Self::new(base.join("providers"))
    }

    /// Where the module with `digest` is kept.
    pub fn module_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("modules")
            .join(format!("{}.wasm", digest.replace(':', "-")))
    }

    /// The module's bytes as the cache holds them (the caller checks them against the
    /// digest it expects); `None` if absent.
    pub fn read(&self, digest: &str) -> Option<Vec<u8>> {
        std::fs::read(self.module_path(digest)).ok()
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<Entry> {
        std::fs::read(self.dir.join("index.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The entry of the module published under `manifest_digest`, if cached.
    pub fn by_manifest(&self, manifest_digest: &str) -> Option<Entry> {
        self.entries()
            .into_iter()
            .find(|e| e.manifest_digest == manifest_digest)
    }

    /// The module `reference` names: from the cache when the reference pins a manifest digest
    /// the cache holds intact (no network), else from its registry.
    pub async fn fetch(&self, reference: &ModuleRef) -> Result<Fetched> {
        if let Some(digest) = reference.digest()
            && let Some(entry) = self.by_manifest(digest)
            && let Some(module) = self
                .read(&entry.digest)
                .filter(|m| sha256_digest(m) == entry.digest)
        {
            return Ok(Fetched {
                module,
                manifest_digest: entry.manifest_digest,
                signature: entry.signature,
                from_cache: true,
            });
        }
        super::fetch(reference).await
    }

    /// Keeps `module` and its entry (one entry per reference and manifest: a tag that moved
    /// keeps its earlier manifests findable by digest).
    pub fn store(&self, entry: Entry, module: &[u8]) -> Result<()> {
        let path = self.module_path(&entry.digest);
        std::fs::create_dir_all(path.parent().expect("modules/"))
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, module).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)?;
        let mut entries = self.entries();
        entries.retain(|e| {
            e.reference != entry.reference || e.manifest_digest != entry.manifest_digest
        });
        entries.push(entry);
        let index = self.dir.join("index.json");
        let tmp = index.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&entries)?)?;
        std::fs::rename(&tmp, &index).with_context(|| format!("writing {}", index.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_found_by_digest_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::new(dir.path().into());
        let entry = Entry {
            reference: "localhost:5000/x:1".into(),
            manifest_digest: "sha256:m".into(),
            digest: "sha256:d".into(),
            name: "x".into(),
            version: "1".into(),
            signature: None,
            capabilities: Capabilities::default(),
        };
        cache.store(entry.clone(), b"module").unwrap();
        assert_eq!(cache.read("sha256:d").unwrap(), b"module");
        assert_eq!(cache.by_manifest("sha256:m"), Some(entry.clone()));
        let newer = Entry {
            manifest_digest: "sha256:n".into(),
            ..entry
        };
        cache.store(newer.clone(), b"module").unwrap();
        assert_eq!(
            cache.entries().len(),
            2,
            "one entry per reference and manifest"
        );
        assert_eq!(cache.by_manifest("sha256:n"), Some(newer));
        assert!(cache.read("sha256:missing").is_none());
    }
}
