//! Publisher signatures: ed25519 keys (`rkit provider keygen`), a signature over a published
//! manifest's digest, and its check against the keys a user trusts.
//!
//! Key files are text: the secret key `ed25519-secret:BASE64` (mode 0600), the public key
//! `ed25519:BASE64`, the form trust policies list.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

const SECRET_PREFIX: &str = "ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

/// The media type of a signature artifact's one layer.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.dev.rkit.signature.v1+json";

/// The tag a manifest's signature is published under (cosign's convention):
/// `sha256-HEX.sig`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replace(':', "-"))
}

/// A signature of a manifest digest, as published beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestSignature {
    pub manifest_digest: String,
    /// The signer's public key, `ed25519:BASE64`.
    pub public_key: String,
    /// BASE64 of the signature of the digest's text.
    pub signature: String,
}

/// Makes a key pair: writes `STEM.key` (secret, owner-only) and `STEM.pub`; returns the
/// public key's text.
pub fn keygen(stem: &Path) -> Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let secret_path = stem.with_extension("key");
    let public_path = stem.with_extension("pub");
    for path in [&secret_path, &public_path] {
        if path.exists() {
            bail!("{} exists; not overwriting a key", path.display());
        }
    }
    let public = public_text(&key.verifying_key());
    write_secret(
        &secret_path,
        &format!("{SECRET_PREFIX}{}\n", B64.encode(seed)),
    )?;
    std::fs::write(&public_path, format!("{public}\n"))
        .with_context(|| format!("writing {}", public_path.display()))?;
    Ok(public)
}

#[cfg(unix)]
fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_secret(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let encoded = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
        anyhow!(
            "{}: not an rkit secret key ({SECRET_PREFIX}BASE64)",
            path.display()
        )
    })?;
    let seed: [u8; 32] = B64
        .decode(encoded)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{}: the key is not 32 bytes of base64", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// `ed25519:BASE64` of a public key.
pub fn public_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", B64.encode(key.as_bytes()))
}

/// Parses `ed25519:BASE64`.
pub fn parse_public(text: &str) -> Result<VerifyingKey> {
    let bytes: [u8; 32] = text
        .trim()
        .strip_prefix(PUBLIC_PREFIX)
        .and_then(|b| B64.decode(b).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{text:?} is not a public key (ed25519:BASE64 of 32 bytes)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| anyhow!("{text:?}: {e}"))
}

/// Signs `manifest_digest` with `key`.
pub fn sign(key: &SigningKey, manifest_digest: &str) -> ManifestSignature {
    ManifestSignature {
        manifest_digest: manifest_digest.to_string(),
        public_key: public_text(&key.verifying_key()),
        signature: B64.encode(key.sign(manifest_digest.as_bytes()).to_bytes()),
    }
}

/// Checks that `signature` is a valid signature of `manifest_digest` by one of `trusted`
/// keys; returns the signer's key.
pub fn verify(
    signature: &ManifestSignature,
    manifest_digest: &str,
    trusted: &[String],
) -> Result<String> {
    if signature.manifest_digest != manifest_digest {
        bail!(
            "the signature is of {}, not of this manifest {manifest_digest}",
            signature.manifest_digest
        );
    }
    let key = parse_public(&signature.public_key)?;
    let bytes: [u8; 64] = B64
        .decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("the signature is not 64 bytes of base64"))?;
    key.verify(manifest_digest.as_bytes(), &Signature::from_bytes(&bytes))
        .map_err(|_| {
            anyhow!(
                "the signature by {} does not match the manifest",
                signature.public_key
            )
        })?;
    let signer = public_text(&key);
    if !trusted.iter().any(|t| t.trim() == signer) {
        bail!("it is signed by {signer}, a key the trust policy does not list");
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_signatures_verify_only_for_trusted_keys() {
        let dir = tempfile::tempdir().unwrap();
        let public = keygen(&dir.path().join("alice")).unwrap();
        assert!(
            keygen(&dir.path().join("alice")).is_err(),
            "never overwrites"
        );
        let key = read_secret(&dir.path().join("alice.key")).unwrap();
        assert_eq!(public_text(&key.verifying_key()), public);
        let pub_file = std::fs::read_to_string(dir.path().join("alice.pub")).unwrap();
        assert_eq!(pub_file.trim(), public);

        let digest = "sha256:abcd";
        let sig = sign(&key, digest);
        assert_eq!(
            verify(&sig, digest, std::slice::from_ref(&public)).unwrap(),
            public
        );
        let err = verify(&sig, digest, &[]).unwrap_err().to_string();
        assert!(err.contains("does not list"), "{err}");
        let err = verify(&sig, "sha256:other", std::slice::from_ref(&public))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not of this manifest"), "{err}");
        let mut forged = sign(&key, "sha256:other");
        forged.manifest_digest = digest.into();
        let err = verify(&forged, digest, &[public]).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_key_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("k")).unwrap();
        let mode = std::fs::metadata(dir.path().join("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
