//! A directory registry: one repository is one directory in the OCI image layout
//! (`oci-layout`, `index.json` naming tagged manifests, `blobs/sha256/HEX`), the layout
//! `oras` and `wkg` read and write. Manifests are built exactly as for a remote registry.

use super::{Artifact, sha256_digest};
use anyhow::{Context, Result, anyhow, bail};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One repository's directory.
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| anyhow!("{digest:?} is not a sha256 digest"))?;
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    fn write_blob(&self, data: &[u8]) -> Result<OciDescriptor> {
        let digest = sha256_digest(data);
        let path = self.blob_path(&digest)?;
        std::fs::create_dir_all(path.parent().expect("blobs/sha256"))?;
        write_atomic(&path, data)?;
        Ok(OciDescriptor {
            digest,
            size: data.len() as i64,
            ..OciDescriptor::default()
        })
    }

    /// Reads a blob, checking that its content has its digest.
    fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let data = std::fs::read(&path)
            .with_context(|| format!("{}: no blob {digest}", self.dir.display()))?;
        let actual = sha256_digest(&data);
        if actual != digest {
            bail!(
                "{}: blob {digest} holds {actual} (the layout was altered)",
                self.dir.display()
            );
        }
        Ok(data)
    }

    fn index(&self) -> Result<Value> {
        match std::fs::read(self.dir.join("index.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}/index.json", self.dir.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Ok(json!({"schemaVersion": 2, "manifests": []}))
            }
            Err(err) => Err(anyhow!("{}/index.json: {err}", self.dir.display())),
        }
    }

    /// Stores `artifact` under `tag`; returns the manifest's digest.
    pub fn push(&self, tag: &str, artifact: &Artifact) -> Result<String> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        write_atomic(
            &self.dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        for layer in &artifact.layers {
            self.write_blob(&layer.data)?;
        }
        self.write_blob(&artifact.config.data)?;
        let manifest = serde_json::to_vec(&artifact.manifest())?;
        let written = self.write_blob(&manifest)?;
        let mut index = self.index()?;
        let manifests = index["manifests"]
            .as_array_mut()
            .ok_or_else(|| anyhow!("index.json has no manifests"))?;
        manifests.retain(|m| m["annotations"][REF_NAME] != tag);
        manifests.push(json!({
            "mediaType": oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
            "digest": written.digest,
            "size": written.size,
            "annotations": {REF_NAME: tag},
        }));
        write_atomic(
            &self.dir.join("index.json"),
            &serde_json::to_vec_pretty(&index)?,
        )?;
        Ok(written.digest)
    }

    /// The manifest digest `tag` names, if any.
    pub fn resolve_tag(&self, tag: &str) -> Result<Option<String>> {
        Ok(self.index()?["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["annotations"][REF_NAME] == tag)
            .and_then(|m| m["digest"].as_str().map(String::from)))
    }

    /// The manifest `digest` and its layers' contents.
    pub fn pull(&self, digest: &str) -> Result<(OciImageManifest, Vec<Vec<u8>>)> {
        let manifest: OciImageManifest = serde_json::from_slice(&self.read_blob(digest)?)
            .with_context(|| format!("{}: manifest {digest}", self.dir.display()))?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| self.read_blob(&l.digest))
            .collect::<Result<_>>()?;
        Ok((manifest, layers))
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
