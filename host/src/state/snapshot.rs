//! Reading and writing a snapshot. One in the clear or sealed in pieces is parsed from its
//! file as it is read, and written as it is made, never its whole text and its records at
//! once (the text of a 100,000-resource state is ~33 MB, sealed ~30 MB); one sealed whole (an
//! earlier rkit's format 2) or one a backend fetched whole is opened and parsed from its
//! bytes.
//!
//! Invariants: both ways give the same state, the same digest (see [`chain::digest`]: of the
//! bytes as stored, trailing whitespace left out) and the same errors; whether a snapshot is
//! sealed is decided by its first bytes, as [`Keys::open_bound`] decides it; a state in the
//! clear that the keys say must be sealed is refused before it is parsed; a state sealed in
//! pieces is given out only once its last piece authenticated.

use super::State;
use super::backend::Snapshot;
use super::chain;
use super::crypt::{self, Bound, Keys};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

/// How much of a file is read at once.
const CHUNK: usize = 64 * 1024;
/// How much of a snapshot's opened plaintext the parser is handed at once.
const PARSED: usize = 8 * 1024;

/// A snapshot read: the state it holds, its digest, what it was bound to, its size, and
/// whether it is stored as the keys would store it now (see [`Keys::store_as`]).
pub struct Opened {
    pub state: State,
    pub digest: String,
    pub bound: Bound,
    pub size: usize,
    pub stored_as_now: bool,
}

/// Reads `snapshot` (`what` names it for errors) with `keys`.
pub fn read(snapshot: Snapshot, keys: &Keys, what: &str) -> Result<Opened> {
    match snapshot {
        Snapshot::Bytes(bytes) => from_bytes(bytes, keys, what),
        Snapshot::File(file) => from_file(file, keys, what),
    }
}

/// A snapshot held whole. One sealed in pieces is parsed as its pieces open; one sealed
/// whole has its stored text let go once it is opened, before its plaintext is parsed (not
/// both held beside the records).
fn from_bytes(bytes: Vec<u8>, keys: &Keys, what: &str) -> Result<Opened> {
    let (digest, size, stored_as_now) = (chain::digest(&bytes), bytes.len(), keys.store_as(&bytes));
    if crypt::is_pieces(&bytes) {
        let (state, bound) = from_pieces(bytes.as_slice(), keys, what)?;
        return Ok(Opened {
            state,
            digest,
            bound,
            size,
            stored_as_now,
        });
    }
    let (opened, bound) = keys.open_bound(&bytes, what)?;
    let plain = match opened {
        std::borrow::Cow::Owned(plain) => {
            drop(bytes);
            plain
        }
        std::borrow::Cow::Borrowed(_) => bytes,
    };
    let state =
        serde_json::from_slice::<State>(&plain).with_context(|| format!("reading {what}"))?;
    Ok(Opened {
        state,
        digest,
        bound,
        size,
        stored_as_now,
    })
}

/// The state a snapshot sealed in pieces holds (read from its start), and what it is bound
/// to. An error opening a piece is reported rather than the parser's (which would only say
/// that the text ended).
fn from_pieces(input: impl BufRead, keys: &Keys, what: &str) -> Result<(State, Bound)> {
    let (mut opening, bound) = keys.open_pieces(input, what)?;
    let parsed =
        serde_json::from_reader::<_, State>(BufReader::with_capacity(PARSED, &mut opening));
    opening.failed()?;
    Ok((parsed.with_context(|| format!("reading {what}"))?, bound))
}

/// A snapshot in a file: in the clear or sealed in pieces, parsed as it is read; sealed
/// whole (format 2), read whole and opened.
fn from_file(mut file: std::fs::File, keys: &Keys, what: &str) -> Result<Opened> {
    let reading = |err: std::io::Error| anyhow::Error::new(err).context(format!("reading {what}"));
    let size = file.metadata().map_err(reading)?.len() as usize;
    let mut start = Vec::with_capacity(CHUNK);
    (&mut file)
        .take(CHUNK as u64)
        .read_to_end(&mut start)
        .map_err(reading)?;
    if crypt::is_pieces(&start) {
        let stored_as_now = keys.store_as(&start);
        let mut hashed = BufReader::with_capacity(CHUNK, Hashed::new(start.as_slice().chain(file)));
        let (state, bound) = from_pieces(&mut hashed, keys, what)?;
        return Ok(Opened {
            state,
            digest: hashed.into_inner().digest(),
            bound,
            size,
            stored_as_now,
        });
    }
    if crypt::is_sealed(&start) || start.len() < CHUNK {
        // Sealed (one line, opened whole), or read whole already: room for the rest at
        // once (not grown by doubling, with a copy each time).
        let mut bytes = start;
        bytes.reserve_exact(size.saturating_sub(bytes.len()));
        file.read_to_end(&mut bytes).map_err(reading)?;
        return from_bytes(bytes, keys, what);
    }
    let (_, bound) = keys.open_bound(&start, what)?;
    let mut hashed = BufReader::with_capacity(CHUNK, Hashed::new(start.as_slice().chain(file)));
    let state = serde_json::from_reader::<_, State>(&mut hashed)
        .with_context(|| format!("reading {what}"))?;
    Ok(Opened {
        state,
        digest: hashed.into_inner().digest(),
        bound,
        size,
        stored_as_now: keys.store_as(&start),
    })
}

/// Writes `state` to `out` as a snapshot holds it, as it is made: sealed in pieces with the
/// current key, bound to its lineage and serial (compact JSON), or in the clear without one
/// (pretty JSON, a newline). Its digest and its size.
pub fn write(state: &State, keys: &Keys, out: &mut dyn Write) -> std::io::Result<(String, usize)> {
    let mut hashed = Hashed::new(out);
    match &keys.current {
        Some(key) => {
            let context = chain::snapshot(&state.lineage, state.serial);
            let mut sealing = key.seal_pieces(&mut hashed, &context)?;
            serde_json::to_writer(&mut sealing, state)?;
            sealing.finish()?;
        }
        None => {
            let mut buffered = BufWriter::with_capacity(CHUNK, &mut hashed);
            serde_json::to_writer_pretty(&mut buffered, state)?;
            buffered.write_all(b"\n")?;
            buffered.flush()?;
        }
    }
    let size = hashed.size;
    Ok((hashed.digest(), size))
}

/// A reader or writer taking the digest of what passes through it as [`chain::digest`]
/// takes it: trailing ASCII whitespace left out. Two digests run, one of everything and one
/// up to the last byte that is not whitespace, so that no run of whitespace is held, however
/// long.
struct Hashed<R> {
    inner: R,
    /// Up to the last byte that is not whitespace.
    sha: Sha256,
    /// Of everything.
    all: Sha256,
    size: usize,
}

impl<R> Hashed<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            all: Sha256::new(),
            size: 0,
        }
    }

    /// Takes `bytes` into the digests.
    fn take(&mut self, bytes: &[u8]) {
        self.size += bytes.len();
        match bytes.iter().rposition(|b| !b.is_ascii_whitespace()) {
            Some(last) => {
                self.all.update(&bytes[..=last]);
                self.sha = self.all.clone();
                self.all.update(&bytes[last + 1..]);
            }
            None => self.all.update(bytes),
        }
    }

    /// The digest of everything read (the whole of it, once the parser has read to its end).
    fn digest(self) -> String {
        hex::encode(&self.sha.finalize()[..16])
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.take(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.take(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file holding `bytes`, opened for reading.
    fn file(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.sync_all().unwrap();
        use std::io::Seek;
        f.rewind().unwrap();
        f
    }

    fn state_text(resources: usize, tail: &str) -> Vec<u8> {
        let mut state = State {
            version: 1,
            lineage: "L".into(),
            serial: 7,
            ..State::default()
        };
        for i in 0..resources {
            let mut r = super::super::tests::resource(&format!("id-{i}"));
            let mut tags = r.tags().to_list();
            tags.insert("rkit:name".into(), format!("R{i}"));
            r.set_tags(&tags);
            state.resources.insert(format!("R{i}"), r);
        }
        let mut text = serde_json::to_vec_pretty(&state).unwrap();
        text.extend(tail.as_bytes());
        text
    }

    #[test]
    fn a_file_read_as_it_is_parsed_gives_what_its_bytes_give() {
        // Small (read whole at once) and over many chunks; trailing whitespace of any length
        // left out of the digest, whitespace inside kept.
        for (resources, tail) in [(0, "\n"), (3, ""), (2000, "\n"), (2000, " \n\t\r\n  ")] {
            let text = state_text(resources, tail);
            let keys = Keys::default();
            let whole = read(Snapshot::Bytes(text.clone()), &keys, "s").unwrap();
            let streamed = read(Snapshot::File(file(&text)), &keys, "s").unwrap();
            assert!(resources < 2000 || text.len() > 4 * CHUNK, "{}", text.len());
            assert_eq!(streamed.state, whole.state);
            assert_eq!(streamed.digest, whole.digest);
            assert_eq!(streamed.digest, chain::digest(&text));
            assert_eq!(streamed.size, text.len());
            assert_eq!(streamed.state.resources.len(), resources);
        }
    }

    #[test]
    fn a_snapshot_written_as_it_is_made_is_what_its_bytes_are() {
        let text = state_text(2000, "\n");
        let state = read(Snapshot::Bytes(text.clone()), &Keys::default(), "s")
            .unwrap()
            .state;
        let mut out = Vec::new();
        let (digest, size) = write(&state, &Keys::default(), &mut out).unwrap();
        assert_eq!(out, text);
        assert_eq!((digest, size), (chain::digest(&text), text.len()));
    }

    /// Keys with a fresh current key, a state of 2,000 records, and its snapshot written
    /// with them (sealed in pieces).
    fn sealed_snapshot() -> (Keys, State, Vec<u8>) {
        let key = crypt::Key::from_text(&crypt::Key::generate().unwrap(), "env:K").unwrap();
        let keys = Keys {
            current: Some(key),
            ..Keys::default()
        };
        let text = state_text(2000, "\n");
        let state = read(Snapshot::Bytes(text), &Keys::default(), "s")
            .unwrap()
            .state;
        let mut stored = Vec::new();
        write(&state, &keys, &mut stored).unwrap();
        (keys, state, stored)
    }

    #[test]
    fn a_snapshot_sealed_in_pieces_is_written_and_read_as_it_streams() {
        let (keys, state, stored) = sealed_snapshot();
        assert!(crypt::is_pieces(&stored) && stored.len() > 4 * CHUNK);
        let digest = chain::digest(&stored);
        // What writing reports is what it wrote.
        let mut again = Vec::new();
        let reported = write(&state, &keys, &mut again).unwrap();
        assert_eq!(reported, (chain::digest(&again), again.len()));
        let context = chain::snapshot(&state.lineage, state.serial);
        for opened in [
            read(Snapshot::Bytes(stored.clone()), &keys, "s").unwrap(),
            read(Snapshot::File(file(&stored)), &keys, "s").unwrap(),
        ] {
            assert_eq!(opened.state, state);
            assert_eq!(opened.digest, digest);
            assert_eq!(opened.bound, Bound::Context(context.clone()));
            assert!(opened.stored_as_now);
        }
        // A snapshot sealed whole by an earlier rkit (format 2) still reads, and is not
        // stored as these keys store one now (the next compaction writes it again).
        let whole = keys
            .seal(serde_json::to_vec(&state).unwrap(), &context)
            .unwrap();
        let opened = read(Snapshot::File(file(&whole)), &keys, "s").unwrap();
        assert_eq!(opened.state, state);
        assert!(!opened.stored_as_now);
    }

    #[test]
    fn a_snapshot_in_pieces_cut_short_is_refused_alike_either_way() {
        let (keys, _, stored) = sealed_snapshot();
        // Cut at the end of a piece (what a torn write may leave), and inside one.
        let last_piece = stored.iter().rposition(|b| *b == b'.').unwrap();
        for cut in [last_piece, stored.len() - 100] {
            let torn = &stored[..cut];
            let whole = read(Snapshot::Bytes(torn.to_vec()), &keys, "the state s").err();
            let streamed = read(Snapshot::File(file(torn)), &keys, "the state s").err();
            let (whole, streamed) = (whole.unwrap(), streamed.unwrap());
            assert_eq!(format!("{streamed:#}"), format!("{whole:#}"));
            assert!(format!("{whole:#}").starts_with("the state s: a sealed unit is damaged"));
        }
    }

    #[test]
    fn what_does_not_read_is_refused_alike_either_way() {
        let mut torn = state_text(2000, "");
        torn.truncate(torn.len() - 100);
        let mut trailing = state_text(2000, "\n");
        trailing.extend(b"{}");
        for text in [torn, trailing] {
            let keys = Keys::default();
            let whole = read(Snapshot::Bytes(text.clone()), &keys, "the state s").err();
            let streamed = read(Snapshot::File(file(&text)), &keys, "the state s").err();
            let (whole, streamed) = (whole.unwrap(), streamed.unwrap());
            assert_eq!(format!("{streamed:#}"), format!("{whole:#}"));
            assert!(
                format!("{whole:#}").starts_with("reading the state s: "),
                "{whole:#}"
            );
        }
    }
}
