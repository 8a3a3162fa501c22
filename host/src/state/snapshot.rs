//! Reading and writing a snapshot. One in the clear or sealed in pieces is parsed as it is
//! read (from its file, or as a backend receives it), and written as it is made, never its
//! whole text and its records at once (the text of a 100,000-resource state is ~33 MB, sealed
//! ~30 MB); one sealed whole (an earlier rkit's format 2), or small, is read whole, opened and
//! parsed from its bytes.
//!
//! Invariants: both ways give the same state, the same digest (see [`chain::digest`]: of the
//! bytes as stored, trailing whitespace left out) and the same errors; whether a snapshot is
//! sealed is decided by its first bytes, as [`Keys::open_bound`] decides it; a state in the
//! clear that the keys say must be sealed is refused before it is parsed; a state sealed in
//! pieces is given out only once its last piece authenticated.

use super::State;
use super::chain;
use super::crypt::{self, Bound, Keys};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

/// How much of a file is read at once.
const CHUNK: usize = 64 * 1024;
/// How much of a snapshot's opened plaintext the parser is handed at once.
const PARSED: usize = 8 * 1024;

/// A snapshot as a backend gives it, read as it is parsed.
pub enum Snapshot {
    /// The file holding it.
    File(std::fs::File),
    /// Its bytes as they arrive (an object S3 is sending), `size` of them as announced (a
    /// hint: what is read is what counts).
    Stream {
        body: Box<dyn Read + Send>,
        size: usize,
    },
}

/// At most what an announced size reserves up front (a larger snapshot grows past it).
const RESERVED: usize = 1 << 30;

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
        Snapshot::File(file) => {
            let size = file.metadata().map_err(|err| reading(err, what))?.len() as usize;
            from_reader(file, size, keys, what)
        }
        Snapshot::Stream { body, size } => from_reader(body, size, keys, what),
    }
}

fn reading(err: std::io::Error, what: &str) -> anyhow::Error {
    anyhow::Error::new(err).context(format!("reading {what}"))
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

/// A snapshot read from `input`, announced as `size` bytes (room reserved by it; the size
/// given out is what was read): in the clear or sealed in pieces,
/// parsed as it is read; sealed whole (format 2) or within one chunk, read whole and opened.
fn from_reader(mut input: impl Read, size: usize, keys: &Keys, what: &str) -> Result<Opened> {
    let mut start = Vec::with_capacity(CHUNK);
    (&mut input)
        .take(CHUNK as u64)
        .read_to_end(&mut start)
        .map_err(|err| reading(err, what))?;
    if crypt::is_pieces(&start) {
        let stored_as_now = keys.store_as(&start);
        let mut hashed =
            BufReader::with_capacity(CHUNK, Hashed::new(start.as_slice().chain(input)));
        let (state, bound) = from_pieces(&mut hashed, keys, what)?;
        let hashed = hashed.into_inner();
        return Ok(Opened {
            state,
            size: hashed.size,
            digest: hashed.digest(),
            bound,
            stored_as_now,
        });
    }
    if crypt::is_sealed(&start) || start.len() < CHUNK {
        // Sealed (one line, opened whole), or read whole already: room for the rest at
        // once (not grown by doubling, with a copy each time).
        let mut bytes = start;
        bytes.reserve_exact(size.min(RESERVED).saturating_sub(bytes.len()));
        input
            .read_to_end(&mut bytes)
            .map_err(|err| reading(err, what))?;
        return from_bytes(bytes, keys, what);
    }
    let (_, bound) = keys.open_bound(&start, what)?;
    let mut hashed = BufReader::with_capacity(CHUNK, Hashed::new(start.as_slice().chain(input)));
    let state = serde_json::from_reader::<_, State>(&mut hashed)
        .with_context(|| format!("reading {what}"))?;
    let hashed = hashed.into_inner();
    Ok(Opened {
        state,
        size: hashed.size,
        digest: hashed.digest(),
        bound,
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

    /// `bytes` as a backend may receive them: in pieces of irregular sizes, often smaller
    /// than asked.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len() - self.1).min(1 + self.1 % 3001);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    /// `bytes` given both ways a backend gives a snapshot: from a file, and as a stream.
    fn both(bytes: &[u8]) -> [Snapshot; 2] {
        let body = Box::new(Trickle(bytes.to_vec(), 0));
        let size = bytes.len();
        [Snapshot::File(file(bytes)), Snapshot::Stream { body, size }]
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
            let whole = from_bytes(text.clone(), &keys, "s").unwrap();
            assert!(resources < 2000 || text.len() > 4 * CHUNK, "{}", text.len());
            for snapshot in both(&text) {
                let streamed = read(snapshot, &keys, "s").unwrap();
                assert_eq!(streamed.state, whole.state);
                assert_eq!(streamed.digest, whole.digest);
                assert_eq!(streamed.digest, chain::digest(&text));
                assert_eq!(streamed.size, text.len());
                assert_eq!(streamed.state.resources.len(), resources);
            }
        }
    }

    #[test]
    fn a_snapshot_written_as_it_is_made_is_what_its_bytes_are() {
        let text = state_text(2000, "\n");
        let state = from_bytes(text.clone(), &Keys::default(), "s")
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
        let state = from_bytes(text, &Keys::default(), "s").unwrap().state;
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
        let [file, stream] = both(&stored);
        for opened in [
            from_bytes(stored.clone(), &keys, "s").unwrap(),
            read(file, &keys, "s").unwrap(),
            read(stream, &keys, "s").unwrap(),
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
        for snapshot in both(&whole) {
            let opened = read(snapshot, &keys, "s").unwrap();
            assert_eq!(opened.state, state);
            assert!(!opened.stored_as_now);
        }
    }

    #[test]
    fn a_snapshot_in_pieces_cut_short_is_refused_alike_either_way() {
        let (keys, _, stored) = sealed_snapshot();
        // Cut at the end of a piece (what a torn write may leave), and inside one.
        let last_piece = stored.iter().rposition(|b| *b == b'.').unwrap();
        for cut in [last_piece, stored.len() - 100] {
            let torn = &stored[..cut];
            let whole = from_bytes(torn.to_vec(), &keys, "the state s")
                .err()
                .unwrap();
            for snapshot in both(torn) {
                let streamed = read(snapshot, &keys, "the state s").err().unwrap();
                assert_eq!(format!("{streamed:#}"), format!("{whole:#}"));
            }
            assert!(format!("{whole:#}").starts_with("the state s: a sealed unit is damaged"));
        }
    }

    /// A body cut off after `0.len()` bytes, as a connection that dropped.
    struct Cut(Trickle);

    impl Read for Cut {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("connection reset")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_stream_that_breaks_is_an_error_reading_the_snapshot() {
        let (keys, _, stored) = sealed_snapshot();
        let text = state_text(2000, "\n");
        for (keys, bytes) in [(keys, stored), (Keys::default(), text)] {
            for at in [10, CHUNK + 10, bytes.len() - 10] {
                let body = Box::new(Cut(Trickle(bytes[..at].to_vec(), 0)));
                let snapshot = Snapshot::Stream {
                    body,
                    size: bytes.len(),
                };
                let err = read(snapshot, &keys, "the state s").err().unwrap();
                let err = format!("{err:#}");
                assert!(err.contains("connection reset"), "{err}");
                assert!(err.contains("the state s"), "{err}");
            }
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
            let whole = from_bytes(text.clone(), &keys, "the state s")
                .err()
                .unwrap();
            for snapshot in both(&text) {
                let streamed = read(snapshot, &keys, "the state s").err().unwrap();
                assert_eq!(format!("{streamed:#}"), format!("{whole:#}"));
            }
            assert!(
                format!("{whole:#}").starts_with("reading the state s: "),
                "{whole:#}"
            );
        }
    }
}
