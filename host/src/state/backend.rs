//! What a state backend does (a file, an S3 bucket): hold a snapshot and a journal of the
//! changes after it, append to the journal durably, and fold it into a new snapshot. Parsing,
//! replaying and serials are the store's (`StateStore`), the same for every backend.
//!
//! Invariants: `append` returns only once the entry is durable (intent before effect holds
//! whatever the backend); `append` of a serial another writer already wrote fails (a backend
//! that cannot tell does not share the state between machines); `compact` replaces the
//! snapshot only if nobody else did since it was loaded, and then drops the journal entries
//! the new snapshot holds.

use super::snapshot::{Opened, Snapshot};
use anyhow::Result;

/// One piece of the journal as stored: JSON lines, named for errors.
pub struct Part {
    /// `web.rkit-state.json.journal`, `s3://b/k.journal/00000000000000000007`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Whether its last write may have been cut short by a crash (a file: its last line
    /// without a newline is such a write; an object is whole or absent).
    pub may_be_torn: bool,
}

/// What reads a snapshot as a backend gives it ([`super::snapshot::read`] with the state's keys).
pub type Open<'a> = &'a mut dyn FnMut(Snapshot) -> Result<Opened>;

/// What is stored: the snapshot (if any), read, and the journal's pieces, in order.
pub struct Loaded {
    pub snapshot: Option<Opened>,
    pub journal: Vec<Part>,
}

/// What writes a snapshot's bytes, as often as a backend asks (each time the same state; a
/// sealed one under a fresh salt, so not the same bytes): the digest of what it wrote.
pub type Write<'a> = &'a mut (dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<String> + Send);

/// A place a state is kept.
pub trait Backend: Send {
    /// Whether a state is stored there.
    fn exists(&mut self) -> Result<bool>;
    /// The snapshot, as `open` reads it, and the journal. A snapshot that arrives over a
    /// connection is given to `open` as it arrives, its journal read after it (its text is
    /// never held whole, nor a connection left idle); one read again if the journal changed
    /// meanwhile.
    fn load(&mut self, open: Open<'_>) -> Result<Loaded>;
    /// Appends journal lines (one or more whole lines, in serial order) as one write, and
    /// when `sync`, on stable storage before it returns (with everything before them). A
    /// store whose every answered write is durable (S3) ignores `sync`.
    fn append(&mut self, lines: &[u8], sync: bool) -> Result<()>;
    /// Replaces the snapshot with what `write` writes (holding everything up to `serial`) and
    /// drops the journal it holds: the digest of the snapshot now stored. Its whole text is
    /// never held: a file is written as it is made, an S3 object sent as it is made.
    fn compact(&mut self, write: Write<'_>, serial: u64) -> Result<String>;
    /// Whether it stores nothing besides the snapshot that a compaction would fold or remove
    /// (a journal object below the snapshot's slot, a fence), and would take a compaction
    /// (a lease still held; its error otherwise): only then may a compaction of a state
    /// unchanged since its snapshot write nothing.
    fn tidy(&mut self) -> Result<bool> {
        Ok(true)
    }
    /// Whose expired lock this one took over, if it did: `pid 42, rkit apply, …, until …`.
    fn taken_over(&self) -> Option<String> {
        None
    }
}
