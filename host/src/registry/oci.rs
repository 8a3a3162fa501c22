//! OCI distribution registries through `oci-client`: HTTPS, except plain HTTP for loopback
//! registries. Anonymous access, or HTTP basic auth from `RKIT_REGISTRY_USERNAME` and
//! `RKIT_REGISTRY_PASSWORD`.

use super::Artifact;
use anyhow::{Result, anyhow};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

fn client(reference: &Reference) -> Result<Client> {
    let registry = reference.resolve_registry().to_string();
    let protocol = if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    crate::tls::install();
    let extra_root_certificates = crate::tls::fallback_roots()
        .iter()
        .map(|root| Certificate {
            encoding: CertificateEncoding::Der,
            data: root.to_vec(),
        })
        .collect();
    // Not `Client::new`: it would fall back to a default client (one that panics when it
    // cannot be built) instead of saying why.
    Client::try_from(ClientConfig {
        protocol,
        extra_root_certificates,
        ..ClientConfig::default()
    })
    .map_err(|err| anyhow!("the registry client: {err}"))
}

fn auth() -> RegistryAuth {
    match (
        std::env::var("RKIT_REGISTRY_USERNAME"),
        std::env::var("RKIT_REGISTRY_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    }
}

/// Pushes `artifact` to `reference` (a tag); returns the manifest digest.
pub async fn push(reference: &Reference, artifact: &Artifact) -> Result<String> {
    let client = client(reference)?;
    let auth = auth();
    let manifest = artifact.manifest();
    client
        .push(
            reference,
            &artifact.layers,
            artifact.config.clone(),
            &auth,
            Some(manifest),
        )
        .await?;
    Ok(client.fetch_manifest_digest(reference, &auth).await?)
}

fn not_found(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound | OciErrorCode::NameUnknown
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// The manifest at `reference` (tag or digest) with its digest and its layers' contents;
/// `None` if the registry has no such manifest.
pub async fn pull(
    reference: &Reference,
) -> Result<Option<(String, OciImageManifest, Vec<Vec<u8>>)>> {
    let client = client(reference)?;
    let (manifest, digest) = match client.pull_image_manifest(reference, &auth()).await {
        Ok(found) => found,
        Err(err) if not_found(&err) => return Ok(None),
        Err(err) => return Err(anyhow!(err)),
    };
    let mut layers = Vec::new();
    for layer in &manifest.layers {
        let mut data = Vec::new();
        // pull_blob checks the content against the layer's digest.
        client.pull_blob(reference, layer, &mut data).await?;
        layers.push(data);
    }
    Ok(Some((digest, manifest, layers)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_registries_go_without_tls() {
        for r in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(super::is_loopback(r), "{r}");
        }
        for r in [
            "registry.example.com",
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.evil.com:5000",
        ] {
            assert!(!super::is_loopback(r), "{r}");
        }
    }
}
