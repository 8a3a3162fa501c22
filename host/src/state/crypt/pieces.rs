//! Format 3 of a sealed unit, for snapshots: sealed in pieces, written as it is made and
//! opened as it is read, so that neither a snapshot's plaintext nor its sealed text is ever
//! held whole (at 100,000 resources they are 22 and 30 MB).
//!
//! Invariants:
//! - A unit is one line `rkit-sealed:3:KEYID:CONTEXT:SALT.PIECE.PIECE…`: SALT the base64
//!   of 16 fresh random bytes, from which with the key and the context the unit's own key is
//!   derived (HKDF-SHA256), so that no nonce is used twice under one key however many
//!   snapshots a key seals; each PIECE the base64 of at most [`PIECE`] bytes sealed under
//!   that key with the STREAM construction (RustCrypto's `aead::stream`, a big-endian 32-bit
//!   counter: each piece's nonce is its number and whether it is the last) and bound to the
//!   context. `.` is not in base64's alphabet, so pieces are split without parsing.
//! - Exactly the last piece is sealed as the last: a piece dropped, repeated, moved or cut
//!   off, or anything but whitespace after the last, does not open.
//! - No byte is given out before its piece authenticated, and the end is reported only once
//!   the last piece did: a reader that reads to the end (the state's parser does) has seen
//!   every piece authenticate. A failure is kept and reported again on every later read.
//! - Memory is a piece's text and bytes, whatever the unit's size; a piece longer than a
//!   sealed [`PIECE`] is damaged, never buffered.

use super::{AAD3, Key, damaged, valid_context};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::{BufRead, Read, Write};

/// The most plaintext one piece holds.
pub const PIECE: usize = 64 * 1024;
/// A piece's tag.
const TAG: usize = 16;
/// A unit's salt.
const SALT_LEN: usize = 16;
/// The part of each piece's nonce before its number: the same for every unit, each sealed
/// under a key of its own.
const NONCE_PREFIX: [u8; 7] = [0; 7];

/// The key of the unit with `salt` bound to `context`, derived from `key`.
fn unit_key(key: &Key, salt: &[u8], context: &str) -> Aes256Gcm {
    let info = [AAD3, context.as_bytes()].concat();
    let mut derived = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &key.secret)
        .expand(&info, &mut derived)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new_from_slice(&derived).expect("32 bytes")
}

/// The longest a piece's text may be: a full piece sealed, in base64.
fn longest_text() -> usize {
    base64::encoded_len(PIECE + TAG, true).expect("a piece's size encodes")
}

/// What writes a sealed unit in pieces to `out` as it is written to; [`Sealing::finish`]
/// seals the last piece and ends the line.
pub struct Sealing<W: Write> {
    out: W,
    stream: Option<EncryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    /// The piece being filled (with room for its tag).
    plain: Vec<u8>,
    /// A sealed piece's text.
    text: String,
}

impl<W: Write> Sealing<W> {
    /// Starts a unit sealed with `key` bound to `context`: its head is written at once.
    pub(super) fn new(key: &Key, context: &str, mut out: W) -> std::io::Result<Self> {
        valid_context(context).map_err(std::io::Error::other)?;
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)
            .map_err(|e| std::io::Error::other(format!("random source: {e}")))?;
        let head = format!(
            "{}{}:{context}:{}",
            super::PREFIX3,
            key.id,
            STANDARD.encode(salt)
        );
        out.write_all(head.as_bytes())?;
        Ok(Self {
            out,
            stream: Some(EncryptorBE32::from_aead(
                unit_key(key, &salt, context),
                NONCE_PREFIX.as_slice().into(),
            )),
            aad: [AAD3, context.as_bytes()].concat(),
            plain: Vec::with_capacity(PIECE + TAG),
            text: String::with_capacity(longest_text() + 1),
        })
    }

    /// Seals the piece held (as the last when `last`) and writes it out.
    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let sealed = match (last, self.stream.as_mut()) {
            (_, None) => Err(aes_gcm::aead::Error),
            (false, Some(stream)) => stream.encrypt_next_in_place(&self.aad, &mut self.plain),
            (true, Some(_)) => {
                let stream = self.stream.take().expect("checked above");
                stream.encrypt_last_in_place(&self.aad, &mut self.plain)
            }
        };
        sealed.map_err(|_| std::io::Error::other("encrypting a piece of a sealed unit failed"))?;
        self.text.clear();
        self.text.push('.');
        STANDARD.encode_string(&self.plain, &mut self.text);
        self.plain.clear();
        self.out.write_all(self.text.as_bytes())
    }

    /// Seals the last piece and ends the line: what it wrote to.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Sealing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stream.is_none() {
            return Err(std::io::Error::other("a sealed unit written after its end"));
        }
        // A full piece is sealed only once more follows: the last one is sealed as the last.
        if self.plain.len() == PIECE && !buf.is_empty() {
            self.seal(false)?;
        }
        let n = buf.len().min(PIECE - self.plain.len());
        self.plain.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Flushes what was sealed; the piece being filled is sealed once full or at the end.
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// What reads a unit sealed in pieces from `input` (just after its context's `:`) and gives
/// out its plaintext as each piece authenticates.
pub struct Opening<R: BufRead> {
    input: R,
    stream: Option<DecryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    /// A piece's text as read.
    text: Vec<u8>,
    /// The piece opened, and how much of it was given out.
    plain: Vec<u8>,
    at: usize,
    what: String,
    failed: Option<String>,
}

impl<R: BufRead> Opening<R> {
    /// Starts opening the pieces `input` holds (named `what` for errors) with `key`, bound to
    /// `context`: its salt is read at once.
    pub(super) fn new(key: &Key, context: &str, mut input: R, what: &str) -> anyhow::Result<Self> {
        let mut salt = Vec::new();
        (&mut input)
            .take(64)
            .read_until(b'.', &mut salt)
            .map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
        let salt = salt
            .strip_suffix(b".")
            .and_then(|text| STANDARD.decode(text).ok())
            .filter(|bytes| bytes.len() == SALT_LEN)
            .ok_or_else(|| damaged(what, "its salt is not 16 bytes in base64"))?;
        Ok(Self {
            input,
            stream: Some(DecryptorBE32::from_aead(
                unit_key(key, &salt, context),
                NONCE_PREFIX.as_slice().into(),
            )),
            aad: [AAD3, context.as_bytes()].concat(),
            text: Vec::new(),
            plain: Vec::new(),
            at: 0,
            what: what.to_string(),
            failed: None,
        })
    }

    /// The error that stopped the reading, if one did (before a parser's own error, which
    /// would only say the text ended).
    pub fn failed(&self) -> anyhow::Result<()> {
        match &self.failed {
            Some(message) => Err(anyhow::anyhow!("{message}")),
            None => Ok(()),
        }
    }

    /// Reads and opens the next piece (the last when the line ends after it).
    fn next_piece(&mut self) -> Result<(), String> {
        let what = &self.what;
        self.text.clear();
        (&mut self.input)
            .take(longest_text() as u64 + 1)
            .read_until(b'.', &mut self.text)
            .map_err(|e| format!("reading {what}: {e}"))?;
        let last = self.text.pop_if(|b| *b == b'.').is_none();
        if last {
            let kept = self.text.trim_ascii_end().len();
            self.text.truncate(kept);
        }
        if self.text.len() > longest_text() {
            return Err(damaged(what, "a piece is too long").to_string());
        }
        self.plain.clear();
        self.at = 0;
        STANDARD
            .decode_vec(&self.text, &mut self.plain)
            .map_err(|_| damaged(what, "a piece is not base64").to_string())?;
        let opened = match (last, self.stream.as_mut()) {
            (_, None) => Err(aes_gcm::aead::Error),
            (false, Some(stream)) => stream.decrypt_next_in_place(&self.aad, &mut self.plain),
            (true, Some(_)) => {
                let stream = self.stream.take().expect("checked above");
                stream.decrypt_last_in_place(&self.aad, &mut self.plain)
            }
        };
        opened.map_err(|_| {
            format!("{what}: a sealed unit is damaged or was changed (it does not authenticate)")
        })?;
        if last {
            self.rest_is_blank()?;
        }
        Ok(())
    }

    /// Reads what follows the last piece, refusing anything but whitespace (read a buffer at
    /// a time, never held).
    fn rest_is_blank(&mut self) -> Result<(), String> {
        loop {
            let rest = match self.input.fill_buf() {
                Ok(rest) => rest,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading {}: {e}", self.what)),
            };
            if rest.is_empty() {
                return Ok(());
            }
            if !rest.iter().all(u8::is_ascii_whitespace) {
                return Err(damaged(&self.what, "something follows its last piece").to_string());
            }
            let n = rest.len();
            self.input.consume(n);
        }
    }
}

impl<R: BufRead> Read for Opening<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.plain.len() {
            if let Some(message) = &self.failed {
                return Err(std::io::Error::other(message.clone()));
            }
            if self.stream.is_none() {
                return Ok(0);
            }
            if let Err(message) = self.next_piece() {
                self.plain.clear();
                self.at = 0;
                self.failed = Some(message);
            }
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Opens a whole unit sealed in pieces (its text after the context's `:`, trailing whitespace
/// allowed).
pub(super) fn open_whole(
    key: &Key,
    context: &str,
    body: &[u8],
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut opening = Opening::new(key, context, body, what)?;
    let mut plain = Vec::new();
    let read = opening.read_to_end(&mut plain);
    opening.failed()?;
    read.map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::super::{Keys, open};
    use super::*;

    fn key(from: &str) -> Key {
        Key::from_text(&Key::generate().unwrap(), from).unwrap()
    }

    /// `plain` sealed in pieces bound to `context`, written in writes of 1,000 bytes.
    fn sealed(key: &Key, plain: &[u8], context: &str) -> Vec<u8> {
        let mut sealing = key.seal_pieces(Vec::new(), context).unwrap();
        for part in plain.chunks(1000) {
            sealing.write_all(part).unwrap();
        }
        sealing.finish().unwrap()
    }

    /// What `stored` opens to with `key`, bound to what, read as a parser reads (to the end).
    fn opened(key: &Key, stored: &[u8]) -> anyhow::Result<(Vec<u8>, super::super::Bound)> {
        let keys = Keys {
            current: Some(key.clone()),
            ..Keys::default()
        };
        let (mut opening, bound) = keys.open_pieces(stored, "the state s")?;
        let mut plain = Vec::new();
        let read = opening.read_to_end(&mut plain);
        opening.failed()?;
        read?;
        Ok((plain, bound))
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"{\"Serial\":1234567}"[i % 18]).collect()
    }

    #[test]
    fn a_unit_in_pieces_is_one_line_that_opens_to_what_was_written() {
        let key = key("env:K");
        for n in [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 5] {
            let plain = text(n);
            let stored = sealed(&key, &plain, "s.L.7");
            let line = std::str::from_utf8(&stored).unwrap();
            assert!(line.starts_with(&format!("rkit-sealed:3:{}:s.L.7:", key.id)));
            assert_eq!(line.find('\n'), Some(line.len() - 1), "one line");
            assert!(!line.contains("Serial"));
            let body = line.rsplit_once(':').unwrap().1;
            assert_eq!(body.matches('.').count(), n.div_ceil(PIECE).max(1), "{n}");
            let (back, bound) = opened(&key, &stored).unwrap();
            assert_eq!(back, plain, "{n}");
            assert_eq!(bound, super::super::Bound::Context("s.L.7".into()));
            // Opened whole, as any sealed unit is.
            assert_eq!(open(&stored, Some(&key), "u").unwrap().0, plain);
            assert!(super::super::is_sealed(&stored) && super::super::is_pieces(&stored));
        }
        // Two seals of the same text differ, their pieces too (each under a key of its own,
        // derived from a fresh salt).
        let body = |s: Vec<u8>| String::from_utf8(s).unwrap().trim_end().to_string();
        let (one, two) = (body(sealed(&key, b"x", "p")), body(sealed(&key, b"x", "p")));
        assert_ne!(
            one.rsplit_once('.').unwrap().1,
            two.rsplit_once('.').unwrap().1
        );
        // Sealed under the key its salt derives, not under the user's own.
        let (head, piece) = one.rsplit_once('.').unwrap();
        let salt = STANDARD.decode(head.rsplit_once(':').unwrap().1).unwrap();
        let aad = [AAD3, b"p".as_slice()].concat();
        let open_with = |cipher: Aes256Gcm| {
            let mut bytes = STANDARD.decode(piece).unwrap();
            DecryptorBE32::from_aead(cipher, NONCE_PREFIX.as_slice().into())
                .decrypt_last_in_place(&aad, &mut bytes)
                .map(|()| bytes)
        };
        assert!(open_with(key.cipher.clone()).is_err());
        assert_eq!(open_with(unit_key(&key, &salt, "p")).unwrap(), b"x");
        assert!(open_with(unit_key(&key, &salt, "q")).is_err());
    }

    #[test]
    fn pieces_dropped_moved_repeated_cut_or_changed_do_not_open() {
        let key = key("env:K");
        let stored = String::from_utf8(sealed(&key, &text(3 * PIECE + 5), "s.L.7")).unwrap();
        let (head, body) = stored.trim_end().rsplit_once(':').unwrap();
        // The salt, then pieces 1..=4.
        let parts: Vec<&str> = body.split('.').collect();
        assert_eq!(parts.len(), 5);
        let join = |order: &[usize]| {
            let mut s = format!("{head}:{}", parts[0]);
            for &i in order {
                s.push('.');
                s.push_str(parts[i]);
            }
            s + "\n"
        };
        let not_authentic =
            "the state s: a sealed unit is damaged or was changed (it does not authenticate)";
        for (order, why) in [
            (&[1, 3, 4][..], "one dropped"),
            (&[2, 1, 3, 4], "two swapped"),
            (&[1, 2, 2, 3, 4], "one repeated"),
            (&[1, 2, 3], "the last cut off"),
            (&[1, 2, 3, 4, 4], "one after the last"),
        ] {
            let err = opened(&key, join(order).as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), not_authentic, "{why}");
        }
        // One changed character in a piece, or in the context (authenticated with each).
        let mut changed = stored.clone().into_bytes();
        let at = head.len() + 1 + parts[0].len() + 1 + parts[1].len() + 10;
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        let err = opened(&key, &changed).unwrap_err();
        assert_eq!(err.to_string(), not_authentic);
        let moved = stored.replace(":s.L.7:", ":s.L.8:");
        assert_eq!(
            opened(&key, moved.as_bytes()).unwrap_err().to_string(),
            not_authentic
        );
        // Something after the line's end: right after it, or after whitespace longer than
        // a piece; whitespace alone is fine.
        let trailing = format!("{stored}x");
        let err = opened(&key, trailing.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the state s: a sealed unit is damaged (a piece is not base64)"
        );
        let padded = format!("{stored}{}", " ".repeat(2 * longest_text()));
        assert!(opened(&key, padded.as_bytes()).is_ok());
        let err = opened(&key, format!("{padded}x").as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the state s: a sealed unit is damaged (something follows its last piece)"
        );
    }

    #[test]
    fn nothing_is_given_out_before_its_piece_authenticates() {
        let key = key("env:K");
        let mut stored = sealed(&key, &text(2 * PIECE), "p");
        let head = format!("rkit-sealed:3:{}:p:", key.id).len();
        let first = head + stored[head..].iter().position(|b| *b == b'.').unwrap() + 1;
        let at = first + 100;
        stored[at] = if stored[at] == b'A' { b'B' } else { b'A' };
        let keys = Keys {
            current: Some(key),
            ..Keys::default()
        };
        let (mut opening, _) = keys.open_pieces(stored.as_slice(), "u").unwrap();
        let mut buf = [0u8; 16];
        assert!(opening.read(&mut buf).is_err());
        // And again on every later read, never an end that would pass for a whole text.
        assert!(opening.read(&mut buf).is_err());
        assert!(opening.failed().is_err());
    }

    #[test]
    fn a_damaged_head_or_an_overlong_piece_is_refused_without_buffering_it() {
        let key = key("env:K");
        let keys = Keys {
            current: Some(key.clone()),
            ..Keys::default()
        };
        let head = format!("rkit-sealed:3:{}:p:", key.id);
        let err = keys
            .open_pieces(format!("{head}AAAA.AAAA\n").as_bytes(), "u")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "u: a sealed unit is damaged (its salt is not 16 bytes in base64)"
        );
        // A piece that never ends: refused once it is longer than a piece can be.
        let start = format!("{head}AAAAAAAAAAAAAAAAAAAAAA==.").into_bytes();
        let endless = std::io::Read::chain(start.as_slice(), std::io::repeat(b'A'));
        let (mut opening, _) = keys
            .open_pieces(std::io::BufReader::new(endless), "u")
            .unwrap();
        assert!(opening.read(&mut [0u8; 8]).is_err());
        assert_eq!(
            opening.failed().unwrap_err().to_string(),
            "u: a sealed unit is damaged (a piece is too long)"
        );
        let err = keys
            .open_pieces(&b"rkit-sealed:3:x"[..], "u")
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "u: a sealed unit is damaged (its head)");
        // The same head read the same way when a unit is opened whole.
        let err = open(b"rkit-sealed:3:x", Some(&key), "u").unwrap_err();
        assert_eq!(err.to_string(), "u: a sealed unit is damaged (its head)");
        let err = keys
            .open_pieces(&b"rkit-sealed:2:x:y:z"[..], "u")
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "u: not a sealed rkit state");
        // A context too long to be read back is refused when sealing; the longest allowed
        // opens.
        let long = "c".repeat(64 * 1024 + 1);
        assert!(key.seal_pieces(Vec::new(), &long).is_err());
        let stored = sealed(&key, b"{}", &long[1..]);
        assert_eq!(opened(&key, &stored).unwrap().0, b"{}");
    }

    #[test]
    fn a_unit_in_pieces_names_the_key_it_needs() {
        let key = key("env:K");
        let stored = sealed(&key, b"{}", "p");
        let other = super::super::Key::from_text(&Key::generate().unwrap(), "file:/k").unwrap();
        assert_eq!(
            opened(&other, &stored).unwrap_err().to_string(),
            format!(
                "the state s is encrypted with key {}, and the key from file:/k is {}: not the \
                 same key",
                key.id, other.id
            )
        );
        let err = Keys::default()
            .open_pieces(stored.as_slice(), "the state s")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "the state s is encrypted (key {}): give its key with the spec's \
                 State.Encryption.KeyFrom or --state-key-from",
                key.id
            )
        );
        // Rekeying: the old key opens it.
        let rekeying = Keys {
            current: Some(other),
            old: vec![key],
            clear_ok: false,
        };
        assert!(rekeying.open_pieces(stored.as_slice(), "u").is_ok());
        assert!(super::super::Key::seal_pieces(&key_of(&rekeying), Vec::new(), "a:b").is_err());
    }

    fn key_of(keys: &Keys) -> Key {
        keys.current.clone().unwrap()
    }
}
