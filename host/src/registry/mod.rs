//! Publishing and fetching provider modules as Wasm OCI artifacts (config
//! `application/vnd.wasm.config.v0+json`, one `application/wasm` layer), so `wkg`-style tools
//! interoperate: on OCI registries (`oci-wasm` over `oci-client`; plain HTTP for loopback
//! registries only) and on directory registries (`file://DIR`, the OCI image layout; the
//! default for references without a registry host). A publisher's signature is a second
//! artifact tagged `sha256-HEX.sig` beside the module's manifest.

pub mod cache;
mod layout;
mod oci;
pub mod signing;

use anyhow::{Result, anyhow, bail};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use sha2::{Digest as _, Sha256};
use signing::{ManifestSignature, SIGNATURE_MEDIA_TYPE, signature_tag};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `sha256:HEX` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Where a reference points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// An OCI registry (`registry/repository`).
    Oci(oci_client::Reference),
    /// A repository directory in the OCI image layout.
    Dir(PathBuf),
}

/// A provider reference: `REGISTRY/REPOSITORY[:TAG][@sha256:HEX]` on an OCI registry,
/// `file://DIR[:TAG][@…]` for a directory, or `REPOSITORY[:TAG]` (no registry host) in the
/// default directory registry (`$RKIT_REGISTRY`, else `~/.local/share/rkit/registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRef {
    text: String,
    location: Location,
    tag: Option<String>,
    digest: Option<String>,
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The default directory registry.
pub fn default_registry() -> PathBuf {
    if let Some(dir) = std::env::var_os("RKIT_REGISTRY") {
        return dir.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("rkit/registry")
}

/// Splits `…[:TAG][@DIGEST]` where the tag follows the last `/`.
fn split_tag_digest(text: &str) -> Result<(&str, Option<String>, Option<String>)> {
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{text:?}: a digest is sha256: and 64 hex digits");
            }
            (rest, Some(digest.to_string()))
        }
        None => (text, None),
    };
    let last = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last..].find(':').map(|i| last + i) {
        Some(colon) if colon + 1 == rest.len() => bail!("{text:?}: empty tag"),
        Some(colon) => Ok((&rest[..colon], Some(rest[colon + 1..].to_string()), digest)),
        None => Ok((rest, None, digest)),
    }
}

impl ModuleRef {
    /// Parses a reference (see the type's documentation).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            bail!("an empty provider reference");
        }
        if let Some(path) = text.strip_prefix("file://") {
            let (dir, tag, digest) = split_tag_digest(path)?;
            return Ok(Self {
                text: text.to_string(),
                location: Location::Dir(PathBuf::from(dir)),
                tag,
                digest,
            });
        }
        let first = text.split('/').next().unwrap_or_default();
        let has_host = text.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if !has_host {
            let (repository, tag, digest) = split_tag_digest(text)?;
            if repository
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
            {
                bail!("{text:?}: not a repository name");
            }
            return Ok(Self {
                text: text.to_string(),
                location: Location::Dir(default_registry().join(repository)),
                tag,
                digest,
            });
        }
        let reference: oci_client::Reference = text
            .parse()
            .map_err(|e| anyhow!("{text:?} is not an OCI reference: {e}"))?;
        Ok(Self {
            text: text.to_string(),
            tag: reference.tag().map(String::from),
            digest: reference.digest().map(String::from),
            location: Location::Oci(reference),
        })
    }

    /// Whether a spec's `Source` is a reference rather than a module file: a file ends in
    /// `.wasm`.
    pub fn is_reference(source: &str) -> bool {
        !source.ends_with(".wasm")
    }

    /// The manifest digest the reference pins, if it names one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository, at `tag`.
    fn with_tag(&self, tag: &str) -> Location {
        match &self.location {
            Location::Oci(r) => Location::Oci(oci_client::Reference::with_tag(
                r.registry().to_string(),
                r.repository().to_string(),
                tag.to_string(),
            )),
            dir => dir.clone(),
        }
    }
}

/// An artifact to publish: its config and layers, and the manifest's annotations.
pub struct Artifact {
    pub config: Config,
    pub layers: Vec<ImageLayer>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Artifact {
    /// The manifest, as the OCI registry path builds it (oci-wasm's shape).
    fn manifest(&self) -> OciImageManifest {
        let mut manifest =
            OciImageManifest::build(&self.layers, &self.config, self.annotations.clone());
        manifest.media_type = Some(oci_wasm::WASM_MANIFEST_MEDIA_TYPE.to_string());
        manifest
    }

    /// A component as a Wasm OCI artifact, annotated with its provider name and version.
    fn component(module: &[u8], name: &str, version: &str) -> Result<Self> {
        let (config, layer) = oci_wasm::WasmConfig::from_raw_component(module.to_vec(), None)?;
        let annotations = BTreeMap::from([
            (
                "org.opencontainers.image.title".to_string(),
                name.to_string(),
            ),
            (
                "org.opencontainers.image.version".to_string(),
                version.to_string(),
            ),
        ]);
        Ok(Self {
            config: oci_wasm::ToConfig::to_config(&config)?,
            layers: vec![layer],
            annotations: Some(annotations),
        })
    }

    fn signature(signature: &ManifestSignature) -> Result<Self> {
        Ok(Self {
            config: Config {
                data: b"{}".to_vec().into(),
                media_type: "application/vnd.oci.empty.v1+json".into(),
                annotations: None,
            },
            layers: vec![ImageLayer {
                data: serde_json::to_vec(signature)?.into(),
                media_type: SIGNATURE_MEDIA_TYPE.into(),
                annotations: None,
            }],
            annotations: None,
        })
    }
}

/// A module as published: its bytes, its manifest's digest, and the signature published
/// beside it (not yet checked against any trust policy).
pub struct Fetched {
    pub module: Vec<u8>,
    pub manifest_digest: String,
    pub signature: Option<ManifestSignature>,
    /// Served from the local cache, without the network.
    pub from_cache: bool,
}

/// Stores `artifact` at `location` under `tag`; returns the manifest digest.
async fn push(location: &Location, tag: &str, artifact: &Artifact) -> Result<String> {
    match location {
        Location::Oci(r) => {
            oci::push(
                &oci_client::Reference::with_tag(
                    r.registry().into(),
                    r.repository().into(),
                    tag.into(),
                ),
                artifact,
            )
            .await
        }
        Location::Dir(dir) => layout::Layout::new(dir).push(tag, artifact),
    }
}

/// The manifest digest and layers at `location`, by `tag` or `digest`; `None` if the
/// registry has no such tag.
async fn pull(
    location: &Location,
    tag: Option<&str>,
    digest: Option<&str>,
) -> Result<Option<(String, OciImageManifest, Vec<Vec<u8>>)>> {
    match location {
        Location::Oci(r) => {
            let reference = match (digest, tag) {
                (Some(d), _) => oci_client::Reference::with_digest(
                    r.registry().into(),
                    r.repository().into(),
                    d.into(),
                ),
                (None, t) => oci_client::Reference::with_tag(
                    r.registry().into(),
                    r.repository().into(),
                    t.unwrap_or("latest").into(),
                ),
            };
            oci::pull(&reference).await
        }
        Location::Dir(dir) => {
            let layout = layout::Layout::new(dir);
            let digest = match (digest, tag) {
                (Some(d), _) => d.to_string(),
                (None, t) => match layout.resolve_tag(t.unwrap_or("latest"))? {
                    Some(d) => d,
                    None => return Ok(None),
                },
            };
            let (manifest, layers) = layout.pull(&digest)?;
            Ok(Some((digest, manifest, layers)))
        }
    }
}

/// Publishes `module` (a provider called `name`, version `version`) at `reference`, signed
/// with `key` if given; returns the manifest digest.
pub async fn publish(
    module: &[u8],
    name: &str,
    version: &str,
    reference: &ModuleRef,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<String> {
    let artifact = Artifact::component(module, name, version)?;
    publish_artifact(artifact, reference, key).await
}

/// The media types of a policy bundle: its config, and its one layer (a JSON object of
/// `.rego` files by name).
pub const POLICY_CONFIG_MEDIA_TYPE: &str = "application/vnd.rkit.policy.config.v1+json";
pub const POLICY_LAYER_MEDIA_TYPE: &str = "application/vnd.rkit.policy.bundle.v1+json";

/// Publishes a policy bundle (`bundle`: its one layer) at `reference`, signed with `key` if
/// given; returns the manifest digest.
pub async fn publish_policies(
    bundle: &[u8],
    reference: &ModuleRef,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<String> {
    let artifact = Artifact {
        config: Config {
            data: b"{}".to_vec().into(),
            media_type: POLICY_CONFIG_MEDIA_TYPE.into(),
            annotations: None,
        },
        layers: vec![ImageLayer {
            data: bundle.to_vec().into(),
            media_type: POLICY_LAYER_MEDIA_TYPE.into(),
            annotations: None,
        }],
        annotations: None,
    };
    publish_artifact(artifact, reference, key).await
}

/// The media types of rkit's own binary (`rkit bundle publish-rkit`): its config (the
/// platform it runs on) and its one layer (the executable). A machine fetches it with curl
/// (see `spec::bootstrap`), so the layer has no annotations.
pub const RKIT_CONFIG_MEDIA_TYPE: &str = "application/vnd.rkit.binary.config.v1+json";
pub const RKIT_LAYER_MEDIA_TYPE: &str = "application/vnd.rkit.binary.v1";

/// Publishes rkit's binary `executable` (for `os`/`architecture`) at `reference` (a tag of
/// a registry, not a directory: machines fetch it over HTTP); returns it pinned,
/// `HOST/REPO@sha256:HEX` (a spec's `Bootstrap.Rkit`).
pub async fn publish_rkit(
    executable: &[u8],
    os: &str,
    architecture: &str,
    reference: &ModuleRef,
) -> Result<String> {
    let Location::Oci(oci) = &reference.location else {
        bail!("{reference}: machines fetch rkit from a registry over HTTP: give HOST/REPO:TAG");
    };
    let place = format!("{}/{}", oci.registry(), oci.repository());
    let config = serde_json::json!({"os": os, "architecture": architecture});
    let artifact = Artifact {
        config: Config {
            data: serde_json::to_vec(&config)?.into(),
            media_type: RKIT_CONFIG_MEDIA_TYPE.into(),
            annotations: None,
        },
        layers: vec![ImageLayer {
            data: executable.to_vec().into(),
            media_type: RKIT_LAYER_MEDIA_TYPE.into(),
            annotations: None,
        }],
        annotations: None,
    };
    let digest = publish_artifact(artifact, reference, None).await?;
    Ok(format!("{place}@{digest}"))
}

/// Publishes `artifact` at `reference` (a tag), with its signature beside it when `key` is
/// given; returns the manifest digest.
async fn publish_artifact(
    artifact: Artifact,
    reference: &ModuleRef,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<String> {
    if reference.digest.is_some() {
        bail!("{reference}: publish to a tag, not a digest");
    }
    let tag = reference.tag.as_deref().unwrap_or("latest");
    let digest = push(&reference.location, tag, &artifact)
        .await
        .map_err(|e| anyhow!("publishing to {reference}: {e:#}"))?;
    if let Some(key) = key {
        let signature = signing::sign(key, &digest);
        let sig_tag = signature_tag(&digest);
        push(
            &reference.with_tag(&sig_tag),
            &sig_tag,
            &Artifact::signature(&signature)?,
        )
        .await
        .map_err(|e| anyhow!("publishing the signature of {reference}: {e:#}"))?;
    }
    Ok(digest)
}

/// Fetches the module `reference` names, with its signature if one was published.
pub async fn fetch(reference: &ModuleRef) -> Result<Fetched> {
    fetch_as(
        reference,
        oci_wasm::WASM_MANIFEST_CONFIG_MEDIA_TYPE,
        oci_wasm::WASM_LAYER_MEDIA_TYPE,
        "a Wasm component artifact",
    )
    .await
}

/// Fetches the policy bundle `reference` names, with its signature if one was published.
pub async fn fetch_policies(reference: &ModuleRef) -> Result<Fetched> {
    fetch_as(
        reference,
        POLICY_CONFIG_MEDIA_TYPE,
        POLICY_LAYER_MEDIA_TYPE,
        "an rkit policy bundle",
    )
    .await
}

/// Fetches the one-layer artifact of these media types that `reference` names, with its
/// signature if one was published.
async fn fetch_as(
    reference: &ModuleRef,
    config_media: &str,
    layer_media: &str,
    what: &str,
) -> Result<Fetched> {
    let found = pull(
        &reference.location,
        reference.tag.as_deref(),
        reference.digest.as_deref(),
    )
    .await
    .map_err(|e| anyhow!("fetching {reference}: {e:#}"))?;
    let Some((manifest_digest, manifest, mut layers)) = found else {
        bail!("{reference}: the registry has no such tag");
    };
    if manifest.config.media_type != config_media
        || manifest.layers.len() != 1
        || manifest.layers[0].media_type != layer_media
    {
        bail!(
            "{reference}: not {what} (config {}, {} layers)",
            manifest.config.media_type,
            manifest.layers.len()
        );
    }
    let module = layers.pop().expect("one layer");
    if sha256_digest(&module) != manifest.layers[0].digest {
        bail!("{reference}: the module's content does not match its manifest's layer digest");
    }
    let sig_tag = signature_tag(&manifest_digest);
    let signature = match pull(&reference.with_tag(&sig_tag), Some(&sig_tag), None).await {
        Ok(Some((_, sig_manifest, sig_layers))) => sig_manifest
            .layers
            .iter()
            .zip(&sig_layers)
            .find(|(d, _)| d.media_type == SIGNATURE_MEDIA_TYPE)
            .map(|(_, data)| serde_json::from_slice(data))
            .transpose()
            .map_err(|e| anyhow!("{reference}: a malformed signature: {e}"))?,
        Ok(None) => None,
        Err(err) => return Err(anyhow!("fetching the signature of {reference}: {err:#}")),
    };
    Ok(Fetched {
        module,
        manifest_digest,
        signature,
        from_cache: false,
    })
}

/// Resolves a spec-relative directory reference (`file://relative/dir:tag`) against `base`.
pub fn relative_to(reference: ModuleRef, base: &Path) -> ModuleRef {
    match &reference.location {
        Location::Dir(dir) if dir.is_relative() => ModuleRef {
            location: Location::Dir(base.join(dir)),
            ..reference
        },
        _ => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789012345678901234567890123456789012345678901234567890123";

    #[test]
    fn references_name_registry_repository_tag_and_digest() {
        let r = ModuleRef::parse("localhost:5000/rkit/aws:0.1.0").unwrap();
        let Location::Oci(oci) = &r.location else {
            panic!("{r:?}")
        };
        assert_eq!(
            (oci.registry(), oci.repository()),
            ("localhost:5000", "rkit/aws")
        );
        assert_eq!(r.tag.as_deref(), Some("0.1.0"));
        let r = ModuleRef::parse(&format!("registry.example.com/aws@{DIGEST}")).unwrap();
        assert_eq!(r.digest(), Some(DIGEST));

        let r = ModuleRef::parse("file:///srv/reg/aws:2").unwrap();
        assert_eq!(r.location, Location::Dir("/srv/reg/aws".into()));
        assert_eq!(r.tag.as_deref(), Some("2"));
        let r = ModuleRef::parse(&format!("file://reg/aws@{DIGEST}")).unwrap();
        assert_eq!(
            (r.location.clone(), r.tag.clone()),
            (Location::Dir("reg/aws".into()), None)
        );
        assert_eq!(
            relative_to(r, Path::new("/spec")).location,
            Location::Dir("/spec/reg/aws".into())
        );

        let r = ModuleRef::parse("rkit/aws:0.1.0").unwrap();
        assert_eq!(
            r.location,
            Location::Dir(default_registry().join("rkit/aws"))
        );
        assert!(ModuleRef::parse("rkit/../x:1").is_err());
        assert!(ModuleRef::parse("x@sha256:12").is_err());
        assert!(ModuleRef::is_reference("localhost:5000/rkit/aws:0.1.0"));
        assert!(!ModuleRef::is_reference("../target/aws.wasm"));
    }
}
