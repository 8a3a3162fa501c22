//! What rkit knows exists: the state, persisted as a snapshot plus an append-only journal, in
//! a file beside the spec ([`file`]) or in S3 ([`s3`], with a lease and fencing).
//!
//! Every resource operation journals one JSON line as it completes (time proportional to the
//! change, not to the state's size), so a crash or a failed apply loses nothing. Loading
//! replays the journal over the snapshot (a torn last line from a crash is ignored);
//! [`StateStore::compact`] folds it into a new snapshot once per command. A lock (an OS file
//! lock, or a lease in S3) refuses a second concurrent rkit on the same state.
//!
//! Intent before effect: before a create, the engine journals an [`Intent`] (resource, type,
//! the tags the object will carry, the idempotency token). Recording the resource (or settling
//! the intent) closes it; an intent still open when a state is opened means a create may have
//! happened without its answer being recorded, and the engine resolves it (`list` by the tags:
//! adopt what exists) before planning. Every error names the file (and the journal's line).

pub mod backend;
pub mod crypt;
pub mod file;
pub mod lease;
pub mod location;
pub mod s3;

use crate::spec::reference::{Reference, Target, at_path};
use anyhow::{Context, Result, anyhow, bail};
use backend::{Backend, Part};
pub use location::Location;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// One resource as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceState {
    pub plugin: String,
    #[serde(rename = "Type")]
    pub type_name: String,
    #[serde(rename = "ID")]
    pub id: String,
    /// The properties it was created or last updated with (references resolved).
    pub properties: Value,
    pub attributes: Value,
    /// What it depended on when last applied (so it is deleted before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// What of it must not be shown: `Properties.X`, `Attributes.Y` (see
    /// `engine::sensitive`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

/// The recorded state of a stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub version: u32,
    /// Identifies this state across its history (a plan is for one lineage).
    pub lineage: String,
    /// Bumped by every recorded change.
    pub serial: u64,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Value>,
    /// The outputs that must not be shown.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sensitive_outputs: std::collections::BTreeSet<String>,
    /// Creates begun and not yet recorded, by resource name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intents: BTreeMap<String, Intent>,
    /// Objects removed from the state with `state rm` (`PLUGIN/TYPE/ID`): they keep the stack's
    /// tags, but the orphan scan leaves them alone.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub forgotten: std::collections::BTreeSet<String>,
}

/// A create about to happen: enough to find its object by tags if the answer is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Intent {
    pub plugin: String,
    #[serde(rename = "Type")]
    pub type_name: String,
    /// The tags the object will carry (rkit's identity tags among them).
    pub tags: BTreeMap<String, String>,
    /// The idempotency token every attempt of the create carries.
    pub token: String,
    /// When it was journaled (seconds since the Unix epoch).
    pub since: u64,
}

/// The key under which `state rm` remembers an object it forgot.
pub fn forgotten_key(plugin: &str, type_name: &str, id: &str) -> String {
    format!("{plugin}/{type_name}/{id}")
}

impl State {
    /// What reference `r` resolves to in the recorded state (`None`: not recorded).
    pub fn value_of(&self, r: &Reference) -> Option<Value> {
        let dep = self.resources.get(&r.resource)?;
        match &r.target {
            Target::Id => Some(Value::String(dep.id.clone())),
            Target::Attribute(path) => at_path(&dep.attributes, path).cloned(),
        }
    }
}

const VERSION: u32 = 1;

/// A journal line: one change to one resource name.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    serial: u64,
    name: String,
    #[serde(flatten)]
    change: Change,
}

/// What a journal line changes (`"Resource": …` is the format's first and commonest line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// The new record (`None` removes the resource); closes an intent of the same name.
    Resource(Option<ResourceState>),
    /// A create is about to be attempted.
    Intent(Intent),
    /// The open intent is closed without a record (its create made nothing), with why.
    Settled(String),
    /// The record moves to this new name (`state mv`).
    MovedTo(String),
    /// The record is dropped and its object (`PLUGIN/TYPE/ID`) left alone (`state rm`).
    Forgotten(String),
}

impl State {
    /// Applies one change to `name`.
    fn apply(&mut self, name: String, change: Change) {
        match change {
            Change::Resource(Some(r)) => {
                self.intents.remove(&name);
                self.resources.insert(name, r);
            }
            Change::Resource(None) => {
                self.intents.remove(&name);
                self.resources.remove(&name);
            }
            Change::Intent(intent) => {
                self.intents.insert(name, intent);
            }
            Change::Settled(_) => {
                self.intents.remove(&name);
            }
            Change::MovedTo(to) => {
                if let Some(r) = self.resources.remove(&name) {
                    self.resources.insert(to, r);
                }
            }
            Change::Forgotten(key) => {
                self.resources.remove(&name);
                self.forgotten.insert(key);
            }
        }
    }
}

/// The state is locked by another rkit: who (pid, command, host) and since when.
#[derive(Debug, thiserror::Error)]
#[error("the state {location} is locked by another rkit ({holder}){}; wait for it to finish",
    lock_id.as_ref().map(|id| format!(", lock ID {id}")).unwrap_or_default())]
pub struct Locked {
    pub location: Location,
    pub holder: String,
    /// What `rkit force-unlock` takes (a lease in S3).
    pub lock_id: Option<String>,
}

static LOCK_TIMEOUT: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

/// How long opening a state waits for another rkit's lock (`--lock-timeout`; default 0).
pub fn set_lock_timeout(wait: std::time::Duration) {
    let _ = LOCK_TIMEOUT.set(wait);
}

fn lock_timeout() -> std::time::Duration {
    LOCK_TIMEOUT.get().copied().unwrap_or_default()
}

/// Who this process is, for whoever finds the state locked: `pid 42, rkit apply, since …`.
pub fn holder() -> String {
    let command = std::env::args().nth(1).unwrap_or_default();
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!("pid {}, rkit {command}, since {since}", std::process::id())
}

/// A state, locked for the lifetime of this value (in a file or in S3).
///
/// Changes are staged (applied in memory, queued as journal lines) and flushed: one write for
/// every line staged since the last one, in serial order, so that operations finishing
/// together share a write (group commit). A change is durable once `durable()` reaches its
/// serial; a failed flush poisons the store (nothing later is written, each caller is told).
pub struct StateStore {
    location: Location,
    writer: Writer,
    staged: Vec<u8>,
    durable: u64,
    poisoned: Option<String>,
    pub state: State,
}

/// The backend, lockable apart from the state, so that a flush's write leaves the state
/// free for staging.
pub type Writer = std::sync::Arc<std::sync::Mutex<Box<dyn Backend>>>;

/// Lines to write, taken from a store: write them with [`Batch::write`], then tell the store
/// with [`StateStore::written`].
pub struct Batch {
    writer: Writer,
    lines: Vec<u8>,
    through: u64,
}

impl Batch {
    /// Writes the lines (nothing to do if there are none).
    pub fn write(&self) -> Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        self.writer
            .lock()
            .expect("state writer")
            .append(&self.lines)
    }
}

impl StateStore {
    /// Opens (or starts) the state at `location`, taking its lock.
    pub fn open(location: &Location) -> Result<Self> {
        Self::open_with(location, false)
    }

    fn open_with(location: &Location, must_exist: bool) -> Result<Self> {
        // Checked before locking: taking a file's lock creates its journal.
        if must_exist && !Self::backend(location, false)?.exists()? {
            bail!("there is no state at {location}");
        }
        let mut backend = Self::backend(location, true)?;
        let state = load(location, backend.as_mut())?;
        Ok(Self {
            location: location.clone(),
            writer: std::sync::Arc::new(std::sync::Mutex::new(backend)),
            staged: Vec::new(),
            durable: state.serial,
            poisoned: None,
            state,
        })
    }

    fn backend(location: &Location, lock: bool) -> Result<Box<dyn Backend>> {
        Ok(match location {
            Location::File(path) if lock => Box::new(file::FileBackend::locked(path)?),
            Location::File(path) => Box::new(file::FileBackend::reader(path)),
            Location::S3(s3) => Box::new(s3::S3Backend::open(s3, lock)?),
        })
    }

    /// Reads the state at `location` without locking it (for commands that only look).
    pub fn read_only(location: &Location) -> Result<State> {
        let mut backend = Self::backend(location, false)?;
        if !backend.exists()? {
            bail!("there is no state at {location}");
        }
        load(location, backend.as_mut())
    }

    /// Opens the state at `location` for a change, taking its lock; it must exist already.
    pub fn open_existing(location: &Location) -> Result<Self> {
        Self::open_with(location, true)
    }

    /// Where the state lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whose expired lock this one took over, if it did.
    pub fn taken_over(&self) -> Option<String> {
        self.writer.lock().expect("state writer").taken_over()
    }

    /// Records `resource` as `name` (or removes `name`), durably for this process before
    /// returning: one appended line.
    pub fn record(&mut self, name: &str, resource: Option<ResourceState>) -> Result<()> {
        self.change(name, Change::Resource(resource))
    }

    /// Journals `change` to `name` (durable before this returns: it survives the process
    /// being killed) and applies it.
    pub fn change(&mut self, name: &str, change: Change) -> Result<()> {
        self.stage(name, change)?;
        let batch = self.batch()?;
        let written = batch.write();
        self.written(&batch, written)
    }

    /// Applies `change` to `name` and queues its journal line; its serial (durable once
    /// [`StateStore::durable`] reaches it).
    pub fn stage(&mut self, name: &str, change: Change) -> Result<u64> {
        self.check()?;
        let entry = Entry {
            serial: self.state.serial + 1,
            name: name.to_string(),
            change,
        };
        serde_json::to_writer(&mut self.staged, &entry)?;
        self.staged.push(b'\n');
        self.state.serial = entry.serial;
        self.state.apply(entry.name, entry.change);
        Ok(self.state.serial)
    }

    /// The serial up to which changes are durable.
    pub fn durable(&self) -> u64 {
        self.durable
    }

    fn check(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => bail!("the state {} cannot be written: {why}", self.location),
            None => Ok(()),
        }
    }

    /// Takes every staged line, to write (with the state unlocked).
    pub fn batch(&mut self) -> Result<Batch> {
        self.check()?;
        Ok(Batch {
            writer: self.writer.clone(),
            lines: std::mem::take(&mut self.staged),
            through: self.state.serial,
        })
    }

    /// Records how writing `batch` went: its changes are durable, or the store is poisoned.
    pub fn written(&mut self, batch: &Batch, outcome: Result<()>) -> Result<()> {
        match outcome {
            Ok(()) => {
                self.durable = self.durable.max(batch.through);
                Ok(())
            }
            Err(err) => {
                let why = format!("{err:#}");
                self.poisoned = Some(why);
                Err(err)
            }
        }
    }

    /// Folds the journal into a new snapshot (once everything staged is written).
    pub fn compact(&mut self) -> Result<()> {
        let batch = self.batch()?;
        let written = batch.write();
        self.written(&batch, written)?;
        let mut text = serde_json::to_vec_pretty(&self.state)?;
        text.push(b'\n');
        self.writer
            .lock()
            .expect("state writer")
            .compact(&text, self.state.serial)
    }
}

/// The snapshot with the journal replayed over it (a new state if there is none).
fn load(location: &Location, backend: &mut dyn Backend) -> Result<State> {
    let loaded = backend.load()?;
    let mut state = match &loaded.snapshot {
        Some(bytes) => serde_json::from_slice::<State>(bytes)
            .with_context(|| format!("reading the state {location}"))?,
        None => State {
            version: VERSION,
            lineage: new_lineage(),
            ..State::default()
        },
    };
    if state.version != VERSION {
        bail!(
            "the state {location} has version {}; this rkit reads version {VERSION}",
            state.version
        );
    }
    let parts = loaded.journal.len();
    let mut entries = Vec::new();
    for (p, part) in loaded.journal.iter().enumerate() {
        entries.extend(parse(part, p + 1 == parts)?);
    }
    // In serial order, whatever order the writes landed in; once each.
    entries.sort_by_key(|e| e.serial);
    for entry in entries {
        if entry.serial <= state.serial {
            continue; // already in the snapshot (a crash between rename and truncate)
        }
        state.serial = entry.serial;
        state.apply(entry.name, entry.change);
    }
    Ok(state)
}

/// One journal piece's entries; a torn last line of the last piece (a crash mid-append) is
/// ignored.
fn parse(part: &Part, last_part: bool) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in part.bytes.split(|b| *b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(text) => lines.push(text),
            Err(_) => bail!(
                "{}:{}: corrupt journal entry: not UTF-8 text",
                part.name,
                i + 1
            ),
        }
    }
    // The empty piece after the final newline.
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for (i, line) in lines.iter().enumerate() {
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            // A crash mid-append leaves a torn last line: that change never completed.
            Err(_) if last_part && i + 1 == lines.len() => break,
            Err(err) => {
                return Err(anyhow!(
                    "{}:{}: corrupt journal entry: {err}",
                    part.name,
                    i + 1
                ));
            }
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn new_lineage() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs::OpenOptions;
    use std::io::Write;

    fn resource(id: &str) -> ResourceState {
        ResourceState {
            plugin: "local".into(),
            type_name: "File".into(),
            id: id.into(),
            properties: json!({"Path": id}),
            attributes: json!({}),
            depends_on: vec![],
            tags: BTreeMap::new(),
            sensitive: vec![],
        }
    }

    #[test]
    fn staged_changes_are_written_together_and_a_failed_write_poisons() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let location = Location::File(path.clone());
        {
            let mut store = StateStore::open(&location).unwrap();
            assert_eq!(
                store
                    .stage("A", Change::Resource(Some(resource("a"))))
                    .unwrap(),
                1
            );
            assert_eq!(
                store
                    .stage("B", Change::Resource(Some(resource("b"))))
                    .unwrap(),
                2
            );
            assert_eq!(store.durable(), 0);
            let batch = store.batch().unwrap();
            // Staged after the batch was taken: the next batch's.
            store
                .stage("C", Change::Resource(Some(resource("c"))))
                .unwrap();
            let outcome = batch.write();
            store.written(&batch, outcome).unwrap();
            assert_eq!(store.durable(), 2);
            let failed = store.batch().unwrap();
            store
                .written(&failed, Err(anyhow!("disk on fire")))
                .unwrap_err();
            let err = store.stage("D", Change::Resource(None)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "the state {} cannot be written: disk on fire",
                    path.display()
                )
            );
        }
        // What was written survives; C's line never was.
        let state = StateStore::read_only(&location).unwrap();
        assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["A", "B"]);
    }

    /// A backend holding a journal in memory, for loading.
    struct Memory(Vec<Vec<u8>>);

    impl Backend for Memory {
        fn exists(&mut self) -> Result<bool> {
            Ok(true)
        }
        fn load(&mut self) -> Result<backend::Loaded> {
            Ok(backend::Loaded {
                snapshot: None,
                journal: self
                    .0
                    .iter()
                    .enumerate()
                    .map(|(i, bytes)| Part {
                        name: format!("part {i}"),
                        bytes: bytes.clone(),
                    })
                    .collect(),
            })
        }
        fn append(&mut self, _: &[u8]) -> Result<()> {
            unreachable!()
        }
        fn compact(&mut self, _: &[u8], _: u64) -> Result<()> {
            unreachable!()
        }
    }

    #[test]
    fn journal_entries_apply_in_serial_order_whatever_order_they_landed_in() {
        let line = |serial: u64, change: Change| {
            let mut l = serde_json::to_vec(&Entry {
                serial,
                name: "A".into(),
                change,
            })
            .unwrap();
            l.push(b'\n');
            l
        };
        // Serial 2 removes A, serial 1 records it: in serial order, A is gone.
        let mut memory = Memory(vec![
            line(2, Change::Resource(None)),
            line(1, Change::Resource(Some(resource("a")))),
        ]);
        let state = load(&Location::File("m".into()), &mut memory).unwrap();
        assert_eq!(state.serial, 2);
        assert!(state.resources.is_empty());
    }

    #[test]
    fn changes_survive_without_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.record("A", None).unwrap();
            // Dropped without compacting, as a crash would.
        }
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.serial, 3);
        assert_eq!(store.state.resources.keys().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn compaction_keeps_everything_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let lineage = {
            let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.compact().unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.state.lineage.clone()
        };
        assert_eq!(
            std::fs::read_to_string(dir.path().join("s.state.journal"))
                .unwrap()
                .lines()
                .count(),
            1
        );
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.lineage, lineage);
        assert_eq!(store.state.resources.len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
        }
        let mut journal = OpenOptions::new()
            .append(true)
            .open(dir.path().join("s.state.journal"))
            .unwrap();
        journal.write_all(b"{\"Serial\":2,\"Na").unwrap();
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.resources.len(), 1);
    }

    fn intent(token: &str) -> Intent {
        Intent {
            plugin: "local".into(),
            type_name: "File".into(),
            tags: [("rkit:name".to_string(), "A".to_string())].into(),
            token: token.into(),
            since: 1,
        }
    }

    #[test]
    fn intents_survive_a_crash_and_a_record_closes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
            store.change("A", Change::Intent(intent("t1"))).unwrap();
            store.change("B", Change::Intent(intent("t2"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
        }
        let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.intents.keys().collect::<Vec<_>>(), ["A"]);
        assert_eq!(store.state.intents["A"].token, "t1");
        store
            .change("A", Change::Settled("nothing".into()))
            .unwrap();
        store.compact().unwrap();
        drop(store);
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert!(store.state.intents.is_empty());
    }

    #[test]
    fn moves_and_forgets_are_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&Location::File(path.clone())).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.change("A", Change::MovedTo("C".into())).unwrap();
            store
                .change("B", Change::Forgotten("local/File/b".into()))
                .unwrap();
        }
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.resources.keys().collect::<Vec<_>>(), ["C"]);
        assert_eq!(store.state.resources["C"].id, "a");
        assert!(store.state.forgotten.contains("local/File/b"));
    }

    #[test]
    fn journals_of_the_first_format_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let line = serde_json::json!({"Serial": 1, "Name": "A", "Resource": resource("a")});
        std::fs::write(
            dir.path().join("s.state.journal"),
            format!("{line}\n{}\n", r#"{"Serial":2,"Name":"A","Resource":null}"#),
        )
        .unwrap();
        let store = StateStore::open(&Location::File(path.clone())).unwrap();
        assert_eq!(store.state.serial, 2);
        assert!(store.state.resources.is_empty());
    }

    #[test]
    fn state_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let journal = dir.path().join("s.state.journal");
        std::fs::write(&journal, b"\xff\xfe\n{}\n").unwrap();
        let err = format!(
            "{:#}",
            StateStore::open(&Location::File(path.clone()))
                .err()
                .unwrap()
        );
        assert_eq!(
            err,
            format!(
                "{}:1: corrupt journal entry: not UTF-8 text",
                journal.display()
            )
        );
        std::fs::write(&journal, b"").unwrap();
        std::fs::write(&path, b"\xff").unwrap();
        let err = format!(
            "{:#}",
            StateStore::open(&Location::File(path.clone()))
                .err()
                .unwrap()
        );
        assert!(
            err.starts_with(&format!("reading the state {}: ", path.display())),
            "{err}"
        );
        let err = format!(
            "{:#}",
            StateStore::open(&Location::File(dir.path().to_path_buf()))
                .err()
                .unwrap()
        );
        assert!(
            err.starts_with(&format!("reading the state {}: ", dir.path().display())),
            "{err}"
        );
    }

    #[test]
    fn a_second_opener_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let _held = StateStore::open(&Location::File(path.clone())).unwrap();
        let err = StateStore::open(&Location::File(path.clone()))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is locked by another rkit (pid "), "{err}");
    }
}
