//! A stack's bundle: the spec of record, kept where the stack's state lives and signed by the
//! operator, so that rkit on the machines it manages converges to what the operator pushed and
//! to nothing else. A bundle holds the spec, its `rkit.lock` (the approvals, provider digests
//! pinned), its parameter files and its local policies and provider modules, as files relative
//! to the spec's directory.
//!
//! Invariants:
//! - A bundle is one object, `KEY.bundle` beside the state at `KEY` ([`store`]): its content
//!   and its signature are written by one PUT, so a reader never pairs one push's files with
//!   another's signature.
//! - Nothing of a bundle is used before its signature is checked against keys the machine was
//!   told to trust ([`open`]). The signature covers the stack's state it was pushed for (a
//!   bundle copied beside another stack's state is refused) and its serial (one more than the
//!   stored bundle's at push): a lower serial than the last one followed is a replay, and is
//!   refused ([`follow`]). What is signed is `rkit-bundle/1 sha256:HEX`, never a bare digest a
//!   provider's signature could also cover.
//! - Unpacking writes only below a fresh directory of its own, never through a symlink, never
//!   to a path that leaves it (`..`, absolute, empty parts), within size limits ([`unpack`]).

mod follow;
mod pack;
mod store;
mod unpack;

pub use follow::{FollowError, Followed, follow, recorded};
pub use pack::{Push, pack};
pub use store::{fetch, push, stack_of};
pub use unpack::{LAST, Last, Unpacked, commit, last, unpack};

use crate::registry::signing::{self, ManifestSignature};
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The version of the sealed form.
pub const FORMAT: &str = "rkit-bundle/1";
/// The most a bundle may hold, decoded (a stored bundle is refused before it is read when
/// larger than twice this).
pub const MAX_BYTES: usize = 64 << 20;
/// The most files a bundle may hold.
pub const MAX_FILES: usize = 10_000;

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Bundle {
    /// The state of the stack it was pushed for ([`stack_of`]): followed beside another
    /// stack's state, it is refused.
    pub stack: String,
    /// One more than the serial of the bundle stored when it was pushed (1 for the first).
    pub serial: u64,
    /// The spec's path, a key of `files`.
    pub spec: String,
    /// Parameter files (`--var-file` at push), keys of `files`, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub var_files: Vec<String>,
    /// Each file's path (`/`-separated, relative to the spec's directory) and content (base64).
    pub files: BTreeMap<String, String>,
    /// Who pushed it (`user@host`), for people.
    pub pushed_by: String,
    /// When it was pushed, in milliseconds since the Unix epoch, for people.
    pub pushed_at: u64,
}

/// A bundle as stored: its bytes and their signature.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Sealed {
    format: String,
    /// The bundle's JSON, base64.
    bundle: String,
    /// The signature of `rkit-bundle/1 sha256:HEX` (HEX: of those bytes).
    signature: ManifestSignature,
    /// Set by `rkit destroy`: who destroyed the stack, and when. Not signed: it can only tell
    /// (a machine acts on the state's own mark, never on this one), and the next push drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destroyed: Option<String>,
}

/// A bundle whose signature was checked.
#[derive(Debug, Clone)]
pub struct Opened {
    pub bundle: Bundle,
    /// `sha256:HEX` of the bundle's bytes.
    pub digest: String,
    /// The key that signed it (`ed25519:BASE64`).
    pub signer: String,
    /// The bytes as stored (kept beside the unpacked version, to be checked again when the
    /// store cannot be reached).
    pub sealed: Vec<u8>,
}

/// `bundle` sealed with `key`: the bytes to store, and their digest.
pub fn seal(bundle: &Bundle, key: &ed25519_dalek::SigningKey) -> Result<(Vec<u8>, String)> {
    let bytes = serde_json::to_vec(bundle)?;
    let digest = digest_of(&bytes);
    let sealed = Sealed {
        format: FORMAT.into(),
        bundle: B64.encode(&bytes),
        signature: signing::sign(key, &signed_text(&digest)),
        destroyed: None,
    };
    Ok((serde_json::to_vec(&sealed)?, digest))
}

/// The bundle in `stored`, if it is signed by one of `trusted` keys; else why not. Nothing
/// of it is read before its signature is checked.
pub fn open(stored: Vec<u8>, trusted: &[String]) -> Result<Opened> {
    if stored.len() > MAX_BYTES * 2 {
        bail!("it is {} bytes, over the limit", stored.len());
    }
    let (sealed, bytes) = unseal(&stored)?;
    if sealed.format != FORMAT {
        bail!(
            "its format is {:?}; this rkit reads {FORMAT}",
            crate::text::escape(&sealed.format)
        );
    }
    let digest = digest_of(&bytes);
    if sealed.signature.manifest_digest != signed_text(&digest) {
        bail!(
            "its content was changed after it was signed (it is {digest}; the signature is of \
             {})",
            crate::text::escape(&sealed.signature.manifest_digest)
        );
    }
    let signer = signing::verify(&sealed.signature, &signed_text(&digest), trusted)
        .map_err(|e| anyhow!("its signature does not hold: {e}"))?;
    let bundle: Bundle = serde_json::from_slice(&bytes).context("its content")?;
    if bundle.files.len() > MAX_FILES {
        bail!("it holds {} files, over {MAX_FILES}", bundle.files.len());
    }
    for name in std::iter::once(&bundle.spec).chain(&bundle.var_files) {
        if !bundle.files.contains_key(name) {
            bail!("{:?} is not among its files", crate::text::escape(name));
        }
    }
    for name in bundle.files.keys() {
        unpack::checked_name(name)?;
    }
    Ok(Opened {
        bundle,
        digest,
        signer,
        sealed: stored,
    })
}

/// Who destroyed the stack and when, if `rkit destroy` marked the bundle in `stored` (read
/// without checking anything: it only tells).
pub fn destroyed_mark(stored: &[u8]) -> Option<String> {
    unseal(stored).ok()?.0.destroyed
}

/// Marks the bundle beside the state at `location` as destroyed (`note`: who and when), in
/// one write of the same signed bundle; `false` when no bundle is stored there.
pub fn mark_destroyed(location: &crate::state::Location, note: &str) -> Result<bool> {
    let Some(stored) = fetch(location)? else {
        return Ok(false);
    };
    let (mut sealed, _) = unseal(&stored)?;
    sealed.destroyed = Some(note.to_string());
    push(location, serde_json::to_vec(&sealed)?)?;
    Ok(true)
}

/// The serial of the bundle in `stored`, read without checking it (a push counts on from it;
/// a machine checks everything before it follows one).
pub fn serial_of(stored: &[u8]) -> Option<u64> {
    let (_, bytes) = unseal(stored).ok()?;
    let bundle: Bundle = serde_json::from_slice(&bytes).ok()?;
    Some(bundle.serial)
}

/// The sealed form in `stored`, and the bundle's bytes it carries (not checked yet).
fn unseal(stored: &[u8]) -> Result<(Sealed, Vec<u8>)> {
    let sealed: Sealed =
        serde_json::from_slice(stored).map_err(|e| anyhow!("it is not a sealed bundle: {e}"))?;
    let bytes = B64
        .decode(&sealed.bundle)
        .map_err(|e| anyhow!("its content is not base64: {e}"))?;
    Ok((sealed, bytes))
}

/// What a bundle's signature covers: its format and digest (never a bare digest, which a
/// provider manifest's signature by the same key also covers).
fn signed_text(digest: &str) -> String {
    format!("{FORMAT} {digest}")
}

/// `sha256:HEX` of `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destroyed_mark_tells_and_leaves_the_signature_whole() {
        let dir = tempfile::tempdir().unwrap();
        let location = crate::state::Location::File(dir.path().join("web.json"));
        assert!(
            !mark_destroyed(&location, "by ops").unwrap(),
            "no bundle there"
        );
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let bundle = Bundle {
            stack: stack_of(&location),
            serial: 4,
            spec: "web.json".into(),
            var_files: Vec::new(),
            files: BTreeMap::from([("web.json".to_string(), B64.encode("{}"))]),
            pushed_by: "ops@laptop".into(),
            pushed_at: 0,
        };
        let (sealed, digest) = seal(&bundle, &key).unwrap();
        assert_eq!(destroyed_mark(&sealed), None);
        push(&location, sealed).unwrap();
        assert!(mark_destroyed(&location, "by ops, 2026-12-06T03:00:00Z").unwrap());
        let stored = fetch(&location).unwrap().unwrap();
        assert_eq!(
            destroyed_mark(&stored).as_deref(),
            Some("by ops, 2026-12-06T03:00:00Z")
        );
        assert_eq!(serial_of(&stored), Some(4));
        let trusted = [signing::public_text(&key.verifying_key())];
        let opened = open(stored, &trusted).unwrap();
        assert_eq!((opened.bundle, opened.digest), (bundle, digest));
    }
}
