//! Encryption at rest of a state (snapshot and journal, in a file or in S3) and of saved plans:
//! AES-256-GCM with a key the user keeps (`"Encryption": {"KeyFrom": "env:RKIT_STATE_KEY"}` or
//! `"file:PATH"`), 32 bytes written as base64 or hex.
//!
//! Invariants: every sealed unit is one text line `rkit-sealed:2:KEYID:CONTEXT:BASE64` (KEYID:
//! the first 8 hex of the key's SHA-256, so a wrong key is named, never tried into garbage;
//! CONTEXT: where the unit belongs, in the clear and authenticated with it, see
//! [`super::chain`]; BASE64: a fresh random 96-bit nonce then the ciphertext and tag); the key
//! never appears in an error, an event or a file rkit writes; opening fails with a clear error
//! on a wrong or missing key (GCM authenticates: a changed byte, in the context too, is an
//! error, never a wrong state). A snapshot is sealed in pieces instead (format 3, one line
//! too: [`pieces`]), so that it is written and read as it streams. Units of format 1
//! (`rkit-sealed:1:KEYID:BASE64`, no context) written by earlier rkits still open; nothing is
//! written in it. A snapshot of format 2 still opens, and the next compaction writes format 3.

mod pieces;

pub use pieces::{Opening, Sealing};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use anyhow::{Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PREFIX: &str = "rkit-sealed:2:";
const PREFIX_V1: &str = "rkit-sealed:1:";
/// A snapshot sealed in pieces.
const PREFIX3: &str = "rkit-sealed:3:";
/// Bound to every unit of format 1.
const AAD_V1: &[u8] = b"rkit state or plan, format 1";
/// Bound to every unit of format 2, before its context.
const AAD: &[u8] = b"rkit sealed unit, format 2\n";
/// Bound to every piece of format 3, before its context.
const AAD3: &[u8] = b"rkit sealed unit in pieces, format 3\n";

/// The spec's `"Encryption"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EncryptionSpec {
    /// `env:NAME` or `file:PATH`.
    pub key_from: String,
}

/// A key, with where it came from (for messages) and its ID.
#[derive(Clone)]
pub struct Key {
    cipher: Aes256Gcm,
    /// The key's bytes, from which a snapshot's own key is derived (see [`pieces`]).
    secret: [u8; 32],
    /// `env:RKIT_STATE_KEY`.
    pub from: String,
    /// The first 8 hex of its SHA-256.
    pub id: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({}, {})", self.from, self.id)
    }
}

impl Key {
    /// Reads the key `from` names (`env:NAME`, `file:PATH`).
    pub fn load(from: &str) -> Result<Self> {
        let text = match from.split_once(':') {
            Some(("env", name)) if !name.is_empty() => std::env::var(name).map_err(|_| {
                anyhow!("the state's key: {from}: the environment variable {name} is not set")
            })?,
            Some(("file", path)) if !path.is_empty() => std::fs::read_to_string(path)
                .map_err(|e| anyhow!("the state's key: {from}: cannot read it ({e})"))?,
            _ => bail!("the state's key: KeyFrom {from:?}: expected env:NAME or file:PATH"),
        };
        Self::from_text(text.trim(), from)
    }

    /// A key from its text (base64 or hex of 32 bytes).
    pub fn from_text(text: &str, from: &str) -> Result<Self> {
        let bytes = match text.len() {
            64 => hex::decode(text).ok(),
            _ => STANDARD.decode(text).ok(),
        }
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            anyhow!(
                "the state's key from {from} is not 32 bytes in base64 or hex (make one with \
                 `rkit state new-key`)"
            )
        })?;
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        let cipher = Aes256Gcm::new_from_slice(&bytes).expect("32 bytes");
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).expect("32 bytes");
        Ok(Self {
            cipher,
            secret,
            from: from.to_string(),
            id,
        })
    }

    /// A fresh random key, as base64.
    pub fn generate() -> Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow!("random source: {e}"))?;
        Ok(STANDARD.encode(bytes))
    }

    /// `plain` sealed, bound to `context` (what it is and where it belongs: no `:`, no
    /// whitespace): one line (no newline at its end).
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String> {
        self.seal_owned(plain.to_vec(), context, false)
    }

    /// [`Key::seal`] of `plain`, encrypted where it is and written out as base64 into the
    /// line (with a newline after it when `newline`): a 30 MB snapshot is held as its
    /// plaintext, then its line, never as the four copies sealing once made of it.
    fn seal_owned(&self, mut plain: Vec<u8>, context: &str, newline: bool) -> Result<String> {
        valid_context(context).map_err(|message| anyhow!(message))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| anyhow!("random source: {e}"))?;
        // The tag's room, so that encrypting appends it without moving the text.
        plain.reserve_exact(16);
        self.cipher
            .encrypt_in_place(
                Nonce::from_slice(&nonce),
                &[AAD, context.as_bytes()].concat(),
                &mut plain,
            )
            .map_err(|_| anyhow!("encrypting failed"))?;
        let head = format!("{PREFIX}{}:{context}:", self.id);
        let body_len = base64::encoded_len(nonce.len() + plain.len(), true)
            .ok_or_else(|| anyhow!("a sealed unit too large to encode"))?;
        let mut line = String::with_capacity(head.len() + body_len + 1);
        line.push_str(&head);
        // The nonce's 12 bytes encode to 16 characters without padding, so the two
        // encodings joined are the encoding of nonce and ciphertext joined.
        STANDARD.encode_string(nonce, &mut line);
        STANDARD.encode_string(&plain, &mut line);
        drop(plain);
        if newline {
            line.push('\n');
        }
        Ok(line)
    }

    /// A writer sealing what is written to it in pieces (format 3) bound to `context`, onto
    /// `out`; [`Sealing::finish`] ends the unit.
    pub fn seal_pieces<W: std::io::Write>(
        &self,
        out: W,
        context: &str,
    ) -> std::io::Result<Sealing<W>> {
        Sealing::new(self, context, out)
    }
}

/// Whether `context` may bind a unit: one word, no `:`, at most [`HEAD_MOST`] bytes (so
/// that what is sealed can be opened).
fn valid_context(context: &str) -> Result<(), String> {
    if context.len() > HEAD_MOST {
        return Err(format!(
            "a sealed unit's context is {} bytes long, more than {HEAD_MOST}",
            context.len()
        ));
    }
    match context.is_empty() || context.contains(|c: char| c == ':' || c.is_whitespace()) {
        true => Err(format!(
            "a sealed unit's context {context:?} is not a single word"
        )),
        false => Ok(()),
    }
}

/// The error for a unit (named `what`) damaged as `why` says.
fn damaged(what: &str, why: &str) -> anyhow::Error {
    anyhow!("{what}: a sealed unit is damaged ({why})")
}

/// The keys a state is opened and written with.
///
/// Everything written is sealed with `current` (in the clear without one); what is read may
/// be sealed with `current` or one of `old` (a rekey), or be in the clear when there is no
/// current key or `clear_ok` says so (a rekey from a state in the clear). Anything else is an
/// error naming the key it needs: a state configured to be encrypted never silently reads
/// clear text someone put in its place.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub current: Option<Key>,
    pub old: Vec<Key>,
    pub clear_ok: bool,
}

impl Keys {
    /// The keys for `key_from` (`env:NAME`, `file:PATH`, or none: in the clear).
    pub fn load(key_from: Option<&str>) -> Result<Self> {
        Ok(Self {
            current: key_from.map(Key::load).transpose()?,
            ..Self::default()
        })
    }

    /// Also opens what `old_from` seals (`none`: what is in the clear), for a rekey.
    pub fn with_old(mut self, old_from: &str) -> Result<Self> {
        match old_from {
            "none" => self.clear_ok = true,
            from => self.old.push(Key::load(from)?),
        }
        Ok(self)
    }

    /// `plain` as written: one sealed line bound to `context` (ending with a newline), or as
    /// it is.
    pub fn seal(&self, plain: Vec<u8>, context: &str) -> Result<Vec<u8>> {
        match &self.current {
            None => Ok(plain),
            Some(key) => Ok(key.seal_owned(plain, context, true)?.into_bytes()),
        }
    }

    /// What `stored` (named `what`) holds, when it is sealed bound to `context` (or is of
    /// format 1, or is clear text and that is allowed).
    pub fn open<'a>(
        &self,
        stored: &'a [u8],
        what: &str,
        context: &str,
    ) -> Result<std::borrow::Cow<'a, [u8]>> {
        let (opened, bound) = self.open_bound(stored, what)?;
        match bound {
            Bound::Context(found) if found != context => {
                bail!("{what} is sealed as {found:?}, not as {context:?}: it was put in its place")
            }
            _ => Ok(opened),
        }
    }

    /// What `stored` (named `what`) holds and what it is bound to: opened if sealed, else as
    /// it is when clear text is allowed.
    pub fn open_bound<'a>(
        &self,
        stored: &'a [u8],
        what: &str,
    ) -> Result<(std::borrow::Cow<'a, [u8]>, Bound)> {
        if !is_sealed(stored) {
            return match &self.current {
                Some(key) if !self.clear_ok => bail!(
                    "{what} is not encrypted, and its key is to come from {}: encrypt it with \
                     `rkit state rekey --old-key-from none`",
                    key.from
                ),
                _ => Ok((std::borrow::Cow::Borrowed(stored), Bound::Clear)),
            };
        }
        let (opened, bound) = open(stored, self.key_for(sealed_id(stored)), what)?;
        Ok((std::borrow::Cow::Owned(opened), bound))
    }

    /// The key to open a unit sealed with key `id` with: that one if held, else the current.
    fn key_for(&self, id: Option<&str>) -> Option<&Key> {
        self.current
            .iter()
            .chain(&self.old)
            .find(|k| Some(k.id.as_str()) == id)
            .or(self.current.as_ref())
    }

    /// Starts opening a unit sealed in pieces (format 3) that `input` holds from its start
    /// (named `what`): its plaintext is read from the [`Opening`], and what it is bound to.
    /// Errors (a missing or wrong key, a damaged head) are [`open`]'s.
    pub fn open_pieces<R: std::io::BufRead>(
        &self,
        mut input: R,
        what: &str,
    ) -> Result<(Opening<R>, Bound)> {
        let (id, context) = pieces_head(&mut input, what)?;
        let key = usable(self.key_for(Some(&id)), &id, what)?;
        let opening = Opening::new(key, &context, input, what)?;
        Ok((opening, Bound::Context(context)))
    }

    /// Whether `sealed` names one of these keys (so failing to open it means it is damaged,
    /// not that the key is wrong).
    pub fn knows(&self, sealed: &[u8]) -> bool {
        let id = sealed_id(sealed);
        self.current
            .iter()
            .chain(&self.old)
            .any(|k| Some(k.id.as_str()) == id)
    }

    /// The current key's source, for what else it seals (a saved plan names it).
    pub fn key_from(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.from.as_str())
    }
}

/// What an opened unit was bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// It was not sealed.
    Clear,
    /// Sealed in format 1, bound to nothing but being rkit's.
    Format1,
    /// Sealed bound to this context.
    Context(String),
}

impl Keys {
    /// Whether `stored` (a snapshot as read, or its start) is stored as these keys store
    /// one now: sealed in pieces with the current key, or in the clear without a key. A
    /// snapshot stored otherwise is written again by the next compaction (sealed, rekeyed,
    /// upgraded), whether the state changed or not.
    pub fn store_as(&self, stored: &[u8]) -> bool {
        match &self.current {
            None => !is_sealed(stored),
            Some(key) => {
                stored.starts_with(PREFIX3.as_bytes()) && sealed_id(stored) == Some(key.id.as_str())
            }
        }
    }
}

/// The key ID a sealed unit names.
fn sealed_id(sealed: &[u8]) -> Option<&str> {
    let rest = sealed
        .strip_prefix(PREFIX.as_bytes())
        .or_else(|| sealed.strip_prefix(PREFIX3.as_bytes()))
        .or_else(|| sealed.strip_prefix(PREFIX_V1.as_bytes()))?;
    let rest = std::str::from_utf8(rest).ok()?;
    rest.split_once(':').map(|(id, _)| id)
}

/// Whether `text` is sealed.
pub fn is_sealed(text: &[u8]) -> bool {
    text.starts_with(PREFIX.as_bytes())
        || text.starts_with(PREFIX3.as_bytes())
        || text.starts_with(PREFIX_V1.as_bytes())
}

/// Whether `text` is sealed in pieces (format 3).
pub fn is_pieces(text: &[u8]) -> bool {
    text.starts_with(PREFIX3.as_bytes())
}

/// The longest part of a sealed unit's head (its prefix, key ID or context, each up to its
/// `:`) that is read, and so the longest context a unit is sealed with (a state's is its
/// lineage and serial, ~50 bytes).
const HEAD_MOST: usize = 64 * 1024;

/// The key ID and context of a unit sealed in pieces (format 3), read from `input` up to
/// the context's `:` (`what` names the unit for errors).
fn pieces_head(input: &mut impl std::io::BufRead, what: &str) -> Result<(String, String)> {
    use std::io::{BufRead, Read};
    let mut head = Vec::new();
    for _ in 0..4 {
        // A part of the head and its `:`.
        input
            .take(HEAD_MOST as u64 + 1)
            .read_until(b':', &mut head)
            .map_err(|e| anyhow!("reading {what}: {e}"))?;
    }
    if !head.starts_with(PREFIX3.as_bytes()) {
        bail!("{what}: not a sealed rkit state");
    }
    let (id, context) = std::str::from_utf8(&head)
        .ok()
        .and_then(|head| head.strip_prefix(PREFIX3)?.strip_suffix(':'))
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(|| damaged(what, "its head"))?;
    Ok((id.to_string(), context.to_string()))
}

/// `key` if it is the key `id` names (`what` names the unit for errors).
fn usable<'k>(key: Option<&'k Key>, id: &str, what: &str) -> Result<&'k Key> {
    let Some(key) = key else {
        bail!(
            "{what} is encrypted (key {id}): give its key with the spec's \
             State.Encryption.KeyFrom or --state-key-from"
        );
    };
    if key.id != id {
        bail!(
            "{what} is encrypted with key {id}, and the key from {} is {}: not the same key",
            key.from,
            key.id
        );
    }
    Ok(key)
}

/// Opens a sealed unit (`what` names it for errors) with `key`: its bytes and what it is
/// bound to.
pub fn open(sealed: &[u8], key: Option<&Key>, what: &str) -> Result<(Vec<u8>, Bound)> {
    if is_pieces(sealed) {
        let mut input = sealed;
        let (id, context) = pieces_head(&mut input, what)?;
        let plain = pieces::open_whole(usable(key, &id, what)?, &context, input, what)?;
        return Ok((plain, Bound::Context(context)));
    }
    let not_sealed = || anyhow!("{what}: not a sealed rkit state");
    let text = std::str::from_utf8(sealed)
        .map_err(|_| not_sealed())?
        .trim_end();
    let (id, bound, body) = if let Some(rest) = text.strip_prefix(PREFIX) {
        let (id, rest) = rest.split_once(':').ok_or_else(not_sealed)?;
        let (context, body) = rest.split_once(':').ok_or_else(not_sealed)?;
        (id, Bound::Context(context.to_string()), body)
    } else {
        let rest = text.strip_prefix(PREFIX_V1).ok_or_else(not_sealed)?;
        let (id, body) = rest.split_once(':').ok_or_else(not_sealed)?;
        (id, Bound::Format1, body)
    };
    let key = usable(key, id, what)?;
    let mut body = STANDARD
        .decode(body)
        .map_err(|_| anyhow!("{what}: a sealed unit is damaged (not base64)"))?;
    if body.len() < 12 + 16 {
        bail!("{what}: a sealed unit is damaged (too short)");
    }
    let aad = match &bound {
        Bound::Context(context) => [AAD, context.as_bytes()].concat(),
        _ => AAD_V1.to_vec(),
    };
    // Opened where it lies (a snapshot's ciphertext and plaintext are not both held): the
    // nonce taken out, the rest moved to the front.
    let nonce = *Nonce::from_slice(&body[..12]);
    body.copy_within(12.., 0);
    body.truncate(body.len() - 12);
    key.cipher
        .decrypt_in_place(&nonce, &aad, &mut body)
        .map_err(|_| {
            anyhow!("{what}: a sealed unit is damaged or was changed (it does not authenticate)")
        })?;
    Ok((body, bound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::Aead;

    #[test]
    fn sealed_units_open_with_their_key_only() {
        let key = Key::from_text(&Key::generate().unwrap(), "env:K").unwrap();
        let sealed = key.seal(b"{\"Serial\":1}", "p").unwrap();
        assert!(is_sealed(sealed.as_bytes()));
        assert!(!sealed.contains("Serial"));
        assert!(!sealed.contains('\n'));
        assert_eq!(
            open(sealed.as_bytes(), Some(&key), "s").unwrap(),
            (b"{\"Serial\":1}".to_vec(), Bound::Context("p".into()))
        );
        // Two seals of the same text differ (fresh nonces).
        assert_ne!(key.seal(b"x", "p").unwrap(), key.seal(b"x", "p").unwrap());

        let other = Key::from_text(&Key::generate().unwrap(), "file:/k").unwrap();
        let err = open(sealed.as_bytes(), Some(&other), "the state s").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the state s is encrypted with key {}, and the key from file:/k is {}: not the \
                 same key",
                key.id, other.id
            )
        );
        let err = open(sealed.as_bytes(), None, "the state s").unwrap_err();
        assert!(err.to_string().contains("is encrypted (key "), "{err}");
        // One changed character: an error, never other bytes.
        let mut bad = sealed.clone().into_bytes();
        let at = bad.len() - 5;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        let err = open(&bad, Some(&key), "s").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn keys_open_what_they_or_the_old_keys_sealed_and_refuse_clear_text() {
        let new = Key::from_text(&Key::generate().unwrap(), "env:NEW").unwrap();
        let old = Key::from_text(&Key::generate().unwrap(), "env:OLD").unwrap();
        let keys = Keys {
            current: Some(new.clone()),
            ..Keys::default()
        };
        let by_old = Keys {
            current: Some(old.clone()),
            ..Keys::default()
        }
        .seal(b"{}".to_vec(), "p")
        .unwrap();
        assert!(by_old.ends_with(b"\n"));
        let err = keys
            .open(&by_old, "the state s", "p")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "the state s is encrypted with key {}, and the key from env:NEW is {}: not the \
                 same key",
                old.id, new.id
            )
        );
        let rekeying = Keys {
            old: vec![old.clone()],
            ..keys.clone()
        };
        assert_eq!(&*rekeying.open(&by_old, "s", "p").unwrap(), b"{}");
        assert_eq!(
            keys.open(b"{}", "the state s", "p")
                .unwrap_err()
                .to_string(),
            "the state s is not encrypted, and its key is to come from env:NEW: encrypt it \
             with `rkit state rekey --old-key-from none`"
        );
        let from_clear = Keys {
            clear_ok: true,
            ..keys.clone()
        };
        assert_eq!(&*from_clear.open(b"{}", "s", "p").unwrap(), b"{}");
        // Without keys, clear text is read as it is and sealed text names its key.
        assert_eq!(&*Keys::default().open(b"{}", "s", "p").unwrap(), b"{}");
        let err = Keys::default()
            .open(&by_old, "s", "p")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("is encrypted (key {})", old.id)),
            "{err}"
        );
    }

    #[test]
    fn a_unit_opens_only_as_what_it_was_sealed_as() {
        let key = Key::from_text(&Key::generate().unwrap(), "env:K").unwrap();
        let keys = Keys {
            current: Some(key.clone()),
            ..Keys::default()
        };
        let sealed = keys.seal(b"{}".to_vec(), "s.L.7").unwrap();
        assert_eq!(&*keys.open(&sealed, "u", "s.L.7").unwrap(), b"{}");
        assert_eq!(
            keys.open(&sealed, "u", "s.L.8").unwrap_err().to_string(),
            "u is sealed as \"s.L.7\", not as \"s.L.8\": it was put in its place"
        );
        // The context is authenticated: naming another one in the clear is a changed unit.
        let text = String::from_utf8(sealed)
            .unwrap()
            .replace(":s.L.7:", ":s.L.8:");
        let err = keys.open(text.as_bytes(), "u", "s.L.8").unwrap_err();
        assert_eq!(
            err.to_string(),
            "u: a sealed unit is damaged or was changed (it does not authenticate)"
        );
        assert!(key.seal(b"x", "a:b").is_err());
        assert!(key.seal(b"x", "a b").is_err());
        // A unit of format 1 (an earlier rkit's) still opens, bound to nothing.
        let mut body = vec![0u8; 12];
        body.extend(
            key.cipher
                .encrypt(
                    Nonce::from_slice(&[0u8; 12]),
                    aes_gcm::aead::Payload {
                        msg: b"{}".as_slice(),
                        aad: AAD_V1,
                    },
                )
                .unwrap(),
        );
        let v1 = format!("{PREFIX_V1}{}:{}", key.id, STANDARD.encode(body));
        assert!(is_sealed(v1.as_bytes()) && keys.knows(v1.as_bytes()));
        assert_eq!(
            keys.open_bound(v1.as_bytes(), "u").unwrap().1,
            Bound::Format1
        );
    }

    #[test]
    fn keys_are_32_bytes_and_never_shown() {
        let hex_key = "00".repeat(32);
        assert!(Key::from_text(&hex_key, "env:K").is_ok());
        let err = Key::from_text("c2hvcnQ=", "env:K").unwrap_err().to_string();
        assert!(err.contains("not 32 bytes"), "{err}");
        assert!(!err.contains("c2hvcnQ"), "{err}");
        let err = Key::load("vault:x").unwrap_err().to_string();
        assert_eq!(
            err,
            "the state's key: KeyFrom \"vault:x\": expected env:NAME or file:PATH"
        );
    }
}
