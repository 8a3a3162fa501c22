//! What rkit knows exists: the state, persisted as a snapshot plus an append-only journal, in
//! a file beside the spec ([`file`]) or in S3 ([`s3`], with a lease and fencing).
//!
//! Every resource operation journals one JSON line as it completes (time proportional to the
//! change, not to the state's size), so a crash or a failed apply loses nothing. Loading
//! replays the journal over the snapshot (a torn last line from a crash is ignored);
//! [`StateStore::compact`] folds it into a new snapshot once per command (and writes nothing
//! when the state is still what its snapshot holds). A snapshot in the clear is read and
//! written as it streams ([`snapshot`]), never its whole text beside its records. A lock (an
//! OS file lock, or a lease in S3) refuses a second concurrent rkit on the same state.
//!
//! Intent before effect: before a create, the engine journals an [`Intent`] (resource, type,
//! the tags the object will carry, the idempotency token). Recording the resource (or settling
//! the intent) closes it; an intent still open when a state is opened means a create may have
//! happened without its answer being recorded, and the engine resolves it (`list` by the tags:
//! adopt what exists) before planning. Every error names the file (and the journal's line).
//!
//! Sealing ([`crypt`]) is the store's, the same for every backend: with a key, the snapshot
//! and each write of journal lines are sealed before a backend sees them, and nothing is read
//! in the clear unless the keys allow it (a rekey from a state in the clear). A state moved
//! away by `rkit state migrate` is a marker that is never opened again but as a destination.

pub mod backend;
pub mod chain;
pub mod compact;
pub mod crypt;
pub mod file;
pub mod lease;
pub mod location;
pub mod name_list;
mod packed;
pub mod reconcile;
pub mod record;
pub mod s3;
mod sdk_credentials;
pub mod snapshot;
pub mod tag_list;

use crate::spec::reference::{Reference, Target, at_path};
use anyhow::{Result, bail};
use backend::{Backend, Part};
pub use compact::{Compact, CompactText};
pub use crypt::Keys;
pub use location::Location;
pub use name_list::{NameList, NamesPacked};
pub use packed::Strings;
pub use record::ResourceState;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
pub use tag_list::TagList;

/// The recorded state of a stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub version: u32,
    /// Identifies this state across its history (a plan is for one lineage).
    pub lineage: String,
    /// Bumped by every recorded change.
    pub serial: u64,
    #[serde(default, deserialize_with = "built_full")]
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
    /// Set by `rkit state migrate` on the state it moved away from: where it lives now (this
    /// one is not opened again, so that two copies never both take changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// The spec the last apply used (`sha256:HEX`, see `LoadedSpec::digest`; after a destroy,
    /// [`DESTROYED`] before it): converge does not act with another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_spec: Option<String>,
    /// Every policy an apply let through with `--override`: which, why, who and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_overrides: Vec<crate::policy::Override>,
}

/// A map read with its nodes full. Filled by `insert` in key order (as a snapshot holds it),
/// a `BTreeMap` leaves its nodes a little over half full; `append` builds one tree of two,
/// full, freeing the old nodes as it takes their entries. So entries are read into a small
/// map, appended to the whole each time the small one reaches a quarter of it: a state's
/// records take ~15% less memory, and the half-empty tree of them all is never held.
fn built_full<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A>(self, mut entries: A) -> Result<Self::Value, A::Error>
        where
            A: serde::de::MapAccess<'de>,
        {
            let (mut full, mut read) = (BTreeMap::new(), BTreeMap::new());
            while let Some((key, value)) = entries.next_entry::<String, V>()? {
                read.insert(key, value);
                if read.len() >= (full.len() / 4).max(1024) {
                    fill(&mut full, &mut read);
                }
            }
            fill(&mut full, &mut read);
            Ok(full)
        }
    }
    deserializer.deserialize_map(Entries(std::marker::PhantomData))
}

/// Moves `read`'s entries into `full` (a key in both keeps `read`'s value), `full` built
/// again with its nodes full.
fn fill<V>(full: &mut BTreeMap<String, V>, read: &mut BTreeMap<String, V>) {
    // Into an empty map, `append` only swaps the two: it starts from one entry.
    if full.is_empty()
        && let Some((first, value)) = read.pop_first()
    {
        full.insert(first, value);
    }
    full.append(read);
}

/// What `applied_spec` starts with after a destroy: converge running meanwhile sees another
/// spec than its own applied last, and only observes.
pub const DESTROYED: &str = "destroyed:";

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
    /// The properties the create sends: what the object found by the tags is read back with
    /// and compared to, as when a create's lost answer is found out in the same run (a list
    /// does not return everything, e.g. an instance's user data). `null` in journals written
    /// before intents carried it: the object is then recorded as the list found it.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub properties: Value,
}

/// The key under which `state rm` remembers an object it forgot.
pub fn forgotten_key(plugin: &str, type_name: &str, id: &str) -> String {
    format!("{plugin}/{type_name}/{id}")
}

impl State {
    /// What reference `r` resolves to in the recorded state (`None`: not recorded).
    pub fn value_of(&self, r: &Reference) -> Option<Value> {
        let dep = self.resources.get(&*r.resource)?;
        match &r.target {
            Target::Id => Some(Value::String(dep.id().to_string())),
            Target::Attribute(path) => at_path(&dep.attributes().value(), path).cloned(),
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

/// Which state a command works on, and the keys that open and seal it.
#[derive(Debug, Clone)]
pub struct StateRef {
    pub location: Location,
    pub keys: Keys,
}

impl StateRef {
    /// The state at `location`, its key from `key_from` (`env:NAME`, `file:PATH`; none: in
    /// the clear).
    pub fn new(location: Location, key_from: Option<&str>) -> Result<Self> {
        Ok(Self {
            location,
            keys: Keys::load(key_from)?,
        })
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

/// What is told, once, when opening a state starts waiting for another's lock.
type WaitNotice = Box<dyn Fn(&Location, &str, std::time::Duration) + Send + Sync>;

static LOCK_WAIT_NOTICE: std::sync::OnceLock<WaitNotice> = std::sync::OnceLock::new();

/// Who hears that opening a state waits for another rkit's lock (the CLI prints it, so a
/// `--lock-timeout` wait is never silent): the location, its holder, and the most it waits.
pub fn on_lock_wait(notice: WaitNotice) {
    let _ = LOCK_WAIT_NOTICE.set(notice);
}

/// Tells whoever listens that opening `location` waits for `holder`'s lock.
fn waiting_for(location: &Location, holder: &str) {
    if let Some(notice) = LOCK_WAIT_NOTICE.get() {
        notice(location, holder, lock_timeout());
    }
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
    keys: Keys,
    writer: Writer,
    staged: Vec<u8>,
    /// The serial of the first staged line.
    staged_first: u64,
    /// What is staged holds an intent (so its write must reach stable storage).
    staged_intent: bool,
    /// The digest of the last unit written (see [`chain`]): what the next write follows.
    tip: String,
    durable: u64,
    poisoned: Option<String>,
    /// While the state is what its snapshot holds (no journal line read or written since,
    /// stored as the keys store one now): the snapshot without its records. A compaction
    /// then writes only if something besides the records changed: a converge tick that
    /// changes nothing writes nothing.
    at_snapshot: Option<State>,
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
    /// It holds an intent: on stable storage before the effect it announces.
    sync: bool,
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
            .append(&self.lines, self.sync)
    }
}

impl StateStore {
    /// Opens (or starts) the state at `location`, taking its lock; `keys` open and seal it.
    pub fn open(location: &Location, keys: &Keys) -> Result<Self> {
        Self::open_with(location, keys, Opening::Any)
    }

    /// Opens the state at `location` for a change, taking its lock; it must exist already.
    pub fn open_existing(location: &Location, keys: &Keys) -> Result<Self> {
        Self::open_with(location, keys, Opening::Existing)
    }

    /// Opens the place a state is migrated or pushed to: empty, or a state moved away from
    /// (its marker is replaced).
    pub fn open_destination(location: &Location, keys: &Keys) -> Result<Self> {
        Self::open_with(location, keys, Opening::Destination)
    }

    fn open_with(location: &Location, keys: &Keys, opening: Opening) -> Result<Self> {
        // Checked before locking: taking a file's lock creates its journal.
        if opening == Opening::Existing && !Self::backend(location, false)?.exists()? {
            bail!("there is no state at {location}");
        }
        let mut backend = Self::backend(location, true)?;
        let (state, tip, as_stored) = load(location, keys, backend.as_mut())?;
        if opening != Opening::Destination {
            not_moved(location, &state)?;
        }
        Ok(Self {
            location: location.clone(),
            keys: keys.clone(),
            writer: std::sync::Arc::new(std::sync::Mutex::new(backend)),
            staged: Vec::new(),
            staged_first: 0,
            staged_intent: false,
            tip,
            durable: state.serial,
            poisoned: None,
            at_snapshot: as_stored.then(|| without_records(&state)),
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
    pub fn read_only(location: &Location, keys: &Keys) -> Result<State> {
        let mut backend = Self::backend(location, false)?;
        if !backend.exists()? {
            bail!("there is no state at {location}");
        }
        // Unlocked, a read can race another command's compaction (the snapshot read before
        // it, the journal after it): what looks missing is read again before it is refused.
        let mut tries = 0;
        let state = loop {
            match load(location, keys, backend.as_mut()) {
                Ok((state, ..)) => break state,
                Err(err) if tries < 3 && format!("{err:#}").contains(chain::RESTORE) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100 * tries));
                }
                Err(err) => return Err(err),
            }
        };
        not_moved(location, &state)?;
        Ok(state)
    }

    /// The keys it is opened and sealed with.
    pub fn keys(&self) -> &Keys {
        &self.keys
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
        if self.staged.is_empty() {
            self.staged_first = entry.serial;
        }
        self.at_snapshot = None;
        self.staged_intent |= matches!(entry.change, Change::Intent(_));
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

    /// Whether changes can still be written (an error saying why not, once a write failed).
    pub fn writable(&self) -> Result<()> {
        self.check()
    }

    fn check(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => bail!("the state {} cannot be written: {why}", self.location),
            None => Ok(()),
        }
    }

    /// Takes every staged line (sealed together when the state is encrypted, following the
    /// last write: batches are written in the order they are taken), to write (with the
    /// state unlocked).
    pub fn batch(&mut self) -> Result<Batch> {
        self.check()?;
        let lines = std::mem::take(&mut self.staged);
        let lines = if lines.is_empty() {
            lines
        } else {
            let context = chain::journal(
                &self.state.lineage,
                self.staged_first,
                self.state.serial,
                &self.tip,
            );
            let sealed = self.keys.seal(lines, &context)?;
            self.tip = chain::digest(&sealed);
            sealed
        };
        Ok(Batch {
            writer: self.writer.clone(),
            lines,
            through: self.state.serial,
            sync: std::mem::take(&mut self.staged_intent),
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

    /// Replaces the whole state with `state` (a push, a migration) as a new snapshot. Its
    /// serial ends above every serial this place held, so no plan saved against what was
    /// there applies to it.
    pub fn replace(&mut self, mut state: State) -> Result<()> {
        self.check()?;
        state.serial = state.serial.max(self.state.serial + 1);
        let batch = self.batch()?;
        let written = batch.write();
        self.written(&batch, written)?;
        self.state = state;
        self.at_snapshot = None;
        self.compact()
    }

    /// Folds the journal into a new snapshot (once everything staged is written).
    pub fn compact(&mut self) -> Result<()> {
        let batch = self.batch()?;
        let written = batch.write();
        self.written(&batch, written)?;
        let now = without_records(&self.state);
        if self.at_snapshot.as_ref() == Some(&now)
            && self.writer.lock().expect("state writer").tidy()?
        {
            return Ok(());
        }
        let compacted = self.write_snapshot();
        match compacted {
            Ok(tip) => {
                self.tip = tip;
                self.at_snapshot = Some(now);
                Ok(())
            }
            Err(err) => {
                // Whether the snapshot was replaced is not known: nothing more is written
                // (the next run reads what is there).
                self.poisoned = Some(format!("{err:#}"));
                Err(err)
            }
        }
    }

    /// Replaces the snapshot with the state, written as it is made (sealed in pieces, or in
    /// the clear). Its digest.
    fn write_snapshot(&self) -> Result<String> {
        let mut backend = self.writer.lock().expect("state writer");
        let (state, keys) = (&self.state, &self.keys);
        backend.compact(
            &mut |out| Ok(snapshot::write(state, keys, out)?.0),
            self.state.serial,
        )
    }
}

impl State {
    /// The marker left where `from` was, once moved to `to`: its lineage, a later serial, no
    /// resources, and where it went.
    pub fn moved(from: &State, to: &Location) -> State {
        State {
            version: VERSION,
            lineage: from.lineage.clone(),
            serial: from.serial + 1,
            moved_to: Some(to.to_string()),
            ..State::default()
        }
    }

    /// Whether nothing was ever recorded here (a new state).
    pub fn is_new(&self) -> bool {
        self.serial == 0 && self.resources.is_empty()
    }
}

/// The longest lineage a state may have (rkit makes them 32 characters long).
pub const LINEAGE_MOST: usize = 256;

/// The highest serial a state may have (far beyond any real history; no arithmetic on
/// serials overflows below it).
pub const MAX_SERIAL: u64 = u64::MAX / 4;

/// Whether `pushed` (read from `file`) may replace `current`: anything replaces a new state or
/// a moved marker; otherwise it must be of the same lineage, and newer or the same (a state
/// of the same serial with other contents is an edited copy: never a silent overwrite).
/// `force` skips these checks. Errors are the message.
pub fn check_push(current: &State, pushed: &State, file: &str, force: bool) -> Result<()> {
    if pushed.version != VERSION {
        bail!(
            "{file} is a state of version {}; this rkit writes version {VERSION}",
            pushed.version
        );
    }
    if let Some(to) = &pushed.moved_to {
        bail!("{file} is the marker of a state moved to {to}, not a state");
    }
    if pushed.serial > MAX_SERIAL {
        bail!(
            "{file} has serial {}: more than rkit counts to ({MAX_SERIAL})",
            pushed.serial
        );
    }
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if pushed.lineage.is_empty() || !pushed.lineage.chars().all(word) {
        bail!(
            "{file} has lineage {:?}: a lineage is letters, digits, '-', '_' and '.'",
            pushed.lineage
        );
    }
    // rkit makes them 32 characters long; every sealed write names its lineage.
    if pushed.lineage.len() > LINEAGE_MOST {
        bail!(
            "{file} has a lineage of {} characters: at most {LINEAGE_MOST}",
            pushed.lineage.len()
        );
    }
    if force || current.is_new() || current.moved_to.is_some() {
        return Ok(());
    }
    if pushed.lineage != current.lineage {
        bail!(
            "{file} is of lineage {}, the state of lineage {}: another state's history \
             (--force pushes it anyway)",
            pushed.lineage,
            current.lineage
        );
    }
    if pushed.serial < current.serial {
        bail!(
            "{file} has serial {}, older than the state's {}: it changed since the file was \
             pulled; pull it again (--force pushes the older one anyway)",
            pushed.serial,
            current.serial
        );
    }
    if pushed.serial == current.serial && pushed != current {
        bail!(
            "{file} has serial {}, the state's own, but other contents: an edited copy replaces \
             the state only with a higher Serial (set it to {}), or with --force (if you did \
             not edit it, the state changed since the pull: pull again)",
            pushed.serial,
            pushed.serial + 1
        );
    }
    Ok(())
}

/// Whether a state can be migrated to where `there` was read: nothing there, a moved marker,
/// or `moving` itself (a migration cut short). The error completes "the state LOCATION …".
pub fn check_destination(there: &State, moving: &State) -> Result<()> {
    let same = there.lineage == moving.lineage && there.serial == moving.serial;
    if there.is_new() || there.moved_to.is_some() || same {
        return Ok(());
    }
    bail!(
        "already holds a state (lineage {}, serial {}, {} resources)",
        there.lineage,
        there.serial,
        there.resources.len()
    )
}

/// How a state is opened: whatever is there, a state that must exist, or the destination of
/// a migration.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opening {
    Any,
    Existing,
    Destination,
}

/// Refuses a state that `rkit state migrate` moved away from.
fn not_moved(location: &Location, state: &State) -> Result<()> {
    match &state.moved_to {
        Some(to) => bail!(
            "the state {location} was moved to {to} by `rkit state migrate`: use that one (the \
             spec's State section or --state)"
        ),
        None => Ok(()),
    }
}

/// `state` without its records: what a snapshot holds besides them.
fn without_records(state: &State) -> State {
    let State {
        version,
        lineage,
        serial,
        resources: _,
        outputs,
        sensitive_outputs,
        intents,
        forgotten,
        moved_to,
        applied_spec,
        policy_overrides,
    } = state;
    State {
        version: *version,
        lineage: lineage.clone(),
        serial: *serial,
        resources: BTreeMap::new(),
        outputs: outputs.clone(),
        sensitive_outputs: sensitive_outputs.clone(),
        intents: intents.clone(),
        forgotten: forgotten.clone(),
        moved_to: moved_to.clone(),
        applied_spec: applied_spec.clone(),
        policy_overrides: policy_overrides.clone(),
    }
}

/// The snapshot with the journal replayed over it (a new state if there is none), the
/// digest the next write follows (see [`chain`]), and whether the
/// state is the snapshot as the keys would store it now (no journal over it).
fn load(
    location: &Location,
    keys: &Keys,
    backend: &mut dyn Backend,
) -> Result<(State, String, bool)> {
    let what = format!("the state {location}");
    let loaded = backend.load(&mut |stored| snapshot::read(stored, keys, &what))?;
    let (mut state, mut chain, stored_as_now) = match loaded.snapshot {
        Some(opened) => {
            let snapshot::Opened {
                state,
                digest,
                bound,
                stored_as_now,
                ..
            } = opened;
            let chain = chain::Chain::after_snapshot(
                &what,
                Some((&digest, &bound)),
                &state.lineage,
                state.serial,
            )?;
            (state, chain, stored_as_now)
        }
        None => {
            let state = State {
                version: VERSION,
                lineage: new_lineage(),
                ..State::default()
            };
            let chain = chain::Chain::after_snapshot(&what, None, &state.lineage, 0)?;
            (state, chain, false)
        }
    };
    if state.version != VERSION {
        bail!(
            "the state {location} has version {}; this rkit reads version {VERSION}",
            state.version
        );
    }
    if state.serial > MAX_SERIAL {
        bail!(
            "the state {location} has serial {}: more than rkit counts to ({MAX_SERIAL})",
            state.serial
        );
    }
    let mut entries = Vec::new();
    for part in &loaded.journal {
        entries.extend(parse(part, keys, &mut chain, &mut state.lineage)?);
    }
    // Not `entries`: a journal's lines the snapshot already holds are skipped, yet a
    // compaction must still empty it (they may be sealed with a key about to be dropped).
    let as_stored = stored_as_now && loaded.journal.iter().all(|part| part.bytes.is_empty());
    // In serial order, whatever order the writes landed in; once each.
    entries.sort_by_key(|e| e.serial);
    for entry in entries {
        if entry.serial <= state.serial {
            continue; // already in the snapshot (a crash between rename and truncate)
        }
        state.serial = entry.serial;
        state.apply(entry.name, entry.change);
    }
    Ok((state, chain.tip().to_string(), as_stored))
}

/// One journal piece's entries, each write admitted by `chain` (a state without a snapshot
/// takes its `lineage` from its first sealed write). Only a write cut short by a crash (the
/// last line of a file, without its newline) is dropped; anything else that does not read is
/// an error naming its line. A sealed line holds the lines of one write.
fn parse(
    part: &Part,
    keys: &Keys,
    chain: &mut chain::Chain,
    lineage: &mut String,
) -> Result<Vec<Entry>> {
    let bytes = part.bytes.as_slice();
    let whole = match part.may_be_torn {
        true => &bytes[..bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)],
        false => bytes,
    };
    let mut entries = Vec::new();
    for (i, line) in whole.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{}", part.name, i + 1);
        let (opened, bound) = keys.open_bound(line, &at)?;
        if let Some(first) = chain.adopt_lineage(&bound) {
            *lineage = first;
        }
        let mut unit = Vec::new();
        for inner in opened.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(text) = std::str::from_utf8(inner) else {
                bail!("{at}: corrupt journal entry: not UTF-8 text");
            };
            let entry = serde_json::from_str::<Entry>(text)
                .map_err(|err| anyhow::anyhow!("{at}: corrupt journal entry: {err}"))?;
            unit.push(entry);
        }
        let serials: Vec<u64> = unit.iter().map(|e| e.serial).collect();
        if chain.admit(&at, line, &bound, &serials)? == chain::Admit::Apply {
            entries.extend(unit);
        }
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
    use anyhow::anyhow;
    use serde_json::json;
    use std::fs::OpenOptions;
    use std::io::Write;

    /// A recorded `local` file, for the state's tests (here and in [`super::chain`]).
    pub(in crate::state) fn resource(id: &str) -> ResourceState {
        ResourceState::new(
            "local".into(),
            "File".into(),
            id,
            json!({"Path": id}).into(),
            json!({}).into(),
        )
    }

    #[test]
    fn records_are_read_in_any_order_and_a_repeated_name_keeps_its_last() {
        let record = |id: &str| serde_json::to_value(resource(id)).unwrap();
        let text = json!({"Version": 1, "Lineage": "l", "Serial": 3, "Resources": {
            "B": record("b1"), "A": record("a"), "C": record("c")}})
        .to_string()
        .replace(r#""C":"#, r#""B":"#);
        let state: State = serde_json::from_str(&text).unwrap();
        let ids: Vec<(&str, &str)> = state
            .resources
            .iter()
            .map(|(k, r)| (k.as_str(), r.id()))
            .collect();
        assert_eq!(ids, [("A", "a"), ("B", "c")]);
        // Over many fills (1,024 at first, then a quarter of what is read), in no order, a
        // name repeated far from its first keeps its last.
        let mut text = String::from(r#"{"Version":1,"Lineage":"l","Serial":3,"Resources":{"#);
        let mut expected = BTreeMap::new();
        for i in 0..5000u32 {
            let name = format!("R{}", (i * 7919) % 4000);
            let r = resource(&format!("id{i}"));
            let comma = if i == 0 { "" } else { "," };
            let record = serde_json::to_string(&r).unwrap();
            text.push_str(&format!("{comma}{name:?}:{record}"));
            expected.insert(name, r);
        }
        text.push_str("}}");
        let state: State = serde_json::from_str(&text).unwrap();
        assert_eq!(state.resources.len(), 4000);
        assert_eq!(state.resources, expected);
        let err = serde_json::from_str::<State>(
            r#"{"Version":1,"Lineage":"l","Serial":1,"Resources":[]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: sequence, expected a map at line 1 column 50"
        );
    }

    #[test]
    fn staged_changes_are_written_together_and_a_failed_write_poisons() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let location = Location::File(path.clone());
        {
            let mut store = StateStore::open(&location, &Keys::default()).unwrap();
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
        let state = StateStore::read_only(&location, &Keys::default()).unwrap();
        assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["A", "B"]);
    }

    /// A backend holding a journal in memory, for loading.
    struct Memory(Vec<Vec<u8>>);

    impl Backend for Memory {
        fn exists(&mut self) -> Result<bool> {
            Ok(true)
        }
        fn load(&mut self, _: backend::Open<'_>) -> Result<backend::Loaded> {
            Ok(backend::Loaded {
                snapshot: None,
                journal: self
                    .0
                    .iter()
                    .enumerate()
                    .map(|(i, bytes)| Part {
                        name: format!("part {i}"),
                        bytes: bytes.clone(),
                        may_be_torn: true,
                    })
                    .collect(),
            })
        }
        fn append(&mut self, _: &[u8], _: bool) -> Result<()> {
            unreachable!()
        }
        fn compact(&mut self, _: backend::Write<'_>, _: u64) -> Result<String> {
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
        let (state, ..) = load(&Location::File("m".into()), &Keys::default(), &mut memory).unwrap();
        assert_eq!(state.serial, 2);
        assert!(state.resources.is_empty());
    }

    #[test]
    fn changes_survive_without_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store =
                StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.record("A", None).unwrap();
            // Dropped without compacting, as a crash would.
        }
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert_eq!(store.state.serial, 3);
        assert_eq!(store.state.resources.keys().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn compaction_keeps_everything_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let lineage = {
            let mut store =
                StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
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
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert_eq!(store.state.lineage, lineage);
        assert_eq!(store.state.resources.len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store =
                StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
        }
        let mut journal = OpenOptions::new()
            .append(true)
            .open(dir.path().join("s.state.journal"))
            .unwrap();
        journal.write_all(b"{\"Serial\":2,\"Na").unwrap();
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert_eq!(store.state.resources.len(), 1);
    }

    fn intent(token: &str) -> Intent {
        Intent {
            plugin: "local".into(),
            type_name: "File".into(),
            tags: [("rkit:name".to_string(), "A".to_string())].into(),
            token: token.into(),
            since: 1,
            properties: Value::Null,
        }
    }

    #[test]
    fn intents_survive_a_crash_and_a_record_closes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store =
                StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
            store.change("A", Change::Intent(intent("t1"))).unwrap();
            store.change("B", Change::Intent(intent("t2"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
        }
        let mut store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert_eq!(store.state.intents.keys().collect::<Vec<_>>(), ["A"]);
        assert_eq!(store.state.intents["A"].token, "t1");
        store
            .change("A", Change::Settled("nothing".into()))
            .unwrap();
        store.compact().unwrap();
        drop(store);
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert!(store.state.intents.is_empty());
    }

    #[test]
    fn moves_and_forgets_are_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store =
                StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.change("A", Change::MovedTo("C".into())).unwrap();
            store
                .change("B", Change::Forgotten("local/File/b".into()))
                .unwrap();
        }
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        assert_eq!(store.state.resources.keys().collect::<Vec<_>>(), ["C"]);
        assert_eq!(store.state.resources["C"].id(), "a");
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
        let store = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
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
            StateStore::open(&Location::File(path.clone()), &Keys::default())
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
            StateStore::open(&Location::File(path.clone()), &Keys::default())
                .err()
                .unwrap()
        );
        assert!(
            err.starts_with(&format!("reading the state {}: ", path.display())),
            "{err}"
        );
        let err = format!(
            "{:#}",
            StateStore::open(&Location::File(dir.path().to_path_buf()), &Keys::default())
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
        let _held = StateStore::open(&Location::File(path.clone()), &Keys::default()).unwrap();
        let err = StateStore::open(&Location::File(path.clone()), &Keys::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is locked by another rkit (pid "), "{err}");
    }

    #[test]
    fn a_compaction_with_nothing_changed_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let location = Location::File(path.clone());
        let inode = || std::fs::metadata(&path).unwrap().ino();
        {
            let mut store = StateStore::open(&location, &Keys::default()).unwrap();
            store
                .change("A", Change::Resource(Some(resource("a"))))
                .unwrap();
            store.compact().unwrap();
        }
        let written = inode();
        {
            // Opened and compacted again as it is: nothing written, however often.
            let mut store = StateStore::open(&location, &Keys::default()).unwrap();
            store.state.applied_spec = None;
            store.compact().unwrap();
            store.compact().unwrap();
            assert_eq!(inode(), written);
            // Something besides the records changed: written, once.
            store.state.applied_spec = Some("sha256:x".into());
            store.compact().unwrap();
            let again = inode();
            assert_ne!(again, written);
            store.compact().unwrap();
            assert_eq!(inode(), again);
            // A record changed: written.
            store
                .change("B", Change::Resource(Some(resource("b"))))
                .unwrap();
            store.compact().unwrap();
            assert_ne!(inode(), again);
        }
        let written = inode();
        // Opened with a key (from the clear): sealed by the compaction though nothing changed.
        let keys = Keys {
            clear_ok: true,
            ..sealed("env:K")
        };
        let mut store = StateStore::open(&location, &keys).unwrap();
        store.compact().unwrap();
        assert_ne!(inode(), written);
        assert!(crypt::is_sealed(&std::fs::read(&path).unwrap()));
        drop(store);
        let sealed_at = inode();
        let mut store = StateStore::open(&location, &keys).unwrap();
        store.compact().unwrap();
        assert_eq!(
            inode(),
            sealed_at,
            "sealed as the keys seal now: nothing to write"
        );
        assert_eq!(store.state.resources.len(), 2);
        drop(store);
        // A crash between the snapshot's rename and the journal's truncation leaves lines the
        // snapshot holds (skipped as they are read): the next compaction still empties it.
        let journal = dir.path().join("s.state.journal");
        let mut store = StateStore::open(&location, &keys).unwrap();
        store
            .change("C", Change::Resource(Some(resource("c"))))
            .unwrap();
        let held = std::fs::read(&journal).unwrap();
        store.compact().unwrap();
        drop(store);
        std::fs::write(&journal, &held).unwrap();
        let mut store = StateStore::open(&location, &keys).unwrap();
        assert_eq!(store.state.resources.len(), 3);
        store.compact().unwrap();
        assert_eq!(std::fs::read(&journal).unwrap(), b"");
    }

    #[test]
    fn a_snapshot_sealed_whole_by_an_earlier_rkit_is_sealed_in_pieces_by_the_next_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let location = Location::File(path.clone());
        let keys = sealed("env:K");
        let state = {
            let mut store = StateStore::open(&location, &keys).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.compact().unwrap();
            store.state.clone()
        };
        assert!(crypt::is_pieces(&std::fs::read(&path).unwrap()));
        // As format 2 wrote it: the whole snapshot one sealed unit.
        let context = chain::snapshot(&state.lineage, state.serial);
        let whole = keys
            .seal(serde_json::to_vec(&state).unwrap(), &context)
            .unwrap();
        std::fs::write(&path, &whole).unwrap();
        let mut store = StateStore::open(&location, &keys).unwrap();
        assert_eq!(store.state, state);
        store.compact().unwrap();
        drop(store);
        assert!(crypt::is_pieces(&std::fs::read(&path).unwrap()));
        let store = StateStore::open(&location, &keys).unwrap();
        assert_eq!(store.state, state);
    }

    fn sealed(from: &str) -> Keys {
        Keys {
            current: Some(crypt::Key::from_text(&crypt::Key::generate().unwrap(), from).unwrap()),
            ..Keys::default()
        }
    }

    fn files(dir: &std::path::Path) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
        }
        all
    }

    #[test]
    fn an_encrypted_state_holds_nothing_in_the_clear_and_opens_with_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::File(dir.path().join("s.state"));
        let keys = sealed("env:K");
        {
            let mut store = StateStore::open(&location, &keys).unwrap();
            store.record("Web", Some(resource("i-0secret"))).unwrap();
        }
        assert!(!files(dir.path()).contains("i-0secret"));
        assert!(!files(dir.path()).contains("Web"));
        {
            let mut store = StateStore::open(&location, &keys).unwrap();
            assert_eq!(store.state.resources["Web"].id(), "i-0secret");
            store.record("Db", Some(resource("i-0other"))).unwrap();
            store.compact().unwrap();
        }
        let all = files(dir.path());
        assert!(!all.contains("i-0") && !all.contains("Lineage"), "{all}");
        let state = StateStore::read_only(&location, &keys).unwrap();
        assert_eq!(state.resources.len(), 2);

        let id = keys.current.as_ref().unwrap().id.clone();
        let err = StateStore::read_only(&location, &Keys::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "the state {location} is encrypted (key {id}): give its key with the spec's \
                 State.Encryption.KeyFrom or --state-key-from"
            )
        );
        let other = sealed("env:OTHER");
        let err = StateStore::open(&location, &other)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not the same key"), "{err}");
    }

    #[test]
    fn a_torn_sealed_line_is_ignored_and_a_foreign_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let location = Location::File(path.clone());
        let keys = sealed("env:K");
        {
            let mut store = StateStore::open(&location, &keys).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
        }
        let journal = dir.path().join("s.state.journal");
        let whole = std::fs::read(&journal).unwrap();
        // Half of a second write, cut by a crash.
        let mut torn = whole.clone();
        torn.extend_from_slice(
            &keys
                .seal(b"{\"Serial\":2}\n".to_vec(), "j.x.2.2.0")
                .unwrap()[..40],
        );
        std::fs::write(&journal, &torn).unwrap();
        let state = StateStore::read_only(&location, &keys).unwrap();
        assert_eq!(state.serial, 1);
        // A whole line sealed with another key is never skipped as torn.
        let mut foreign = whole;
        foreign.extend(sealed("env:X").seal(b"{}".to_vec(), "j.x.2.2.0").unwrap());
        std::fs::write(&journal, &foreign).unwrap();
        let err = StateStore::read_only(&location, &keys)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not the same key"), "{err}");
    }

    #[test]
    fn a_rekey_reads_with_the_old_key_and_seals_with_the_new() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::File(dir.path().join("s.state"));
        {
            let mut store = StateStore::open(&location, &Keys::default()).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
        }
        let first = sealed("env:FIRST");
        let err = StateStore::open(&location, &first)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is not encrypted"), "{err}");
        let mut store =
            StateStore::open(&location, &first.clone().with_old("none").unwrap()).unwrap();
        store.compact().unwrap();
        drop(store);
        let second = sealed("env:SECOND");
        let rekeying = Keys {
            old: vec![first.current.clone().unwrap()],
            ..second.clone()
        };
        let mut store = StateStore::open(&location, &rekeying).unwrap();
        store.compact().unwrap();
        drop(store);
        assert_eq!(
            StateStore::read_only(&location, &second).unwrap().resources["A"].id(),
            "a"
        );
        assert!(StateStore::read_only(&location, &first).is_err());
    }

    #[test]
    fn a_push_keeps_to_its_history_and_a_moved_state_is_not_opened() {
        let current = State {
            version: VERSION,
            lineage: "l1".into(),
            serial: 5,
            ..State::default()
        };
        let pushed = |lineage: &str, serial: u64| State {
            lineage: lineage.into(),
            serial,
            ..current.clone()
        };
        assert!(check_push(&current, &pushed("l1", 5), "f", false).is_ok());
        assert!(check_push(&current, &pushed("l1", 9), "f", false).is_ok());
        let bad = check_push(&current, &pushed("l 1", 9), "f", true).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "f has lineage \"l 1\": a lineage is letters, digits, '-', '_' and '.'"
        );
        let long = "l".repeat(LINEAGE_MOST + 1);
        let bad = check_push(&current, &pushed(&long, 9), "f", true).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "f has a lineage of 257 characters: at most 256"
        );
        assert!(check_push(&current, &pushed(&long[1..], 9), "f", true).is_ok());
        let far = check_push(&current, &pushed("l1", u64::MAX), "f", true).unwrap_err();
        assert!(
            far.to_string()
                .starts_with(&format!("f has serial {}: more than", u64::MAX))
        );
        let edited = State {
            applied_spec: Some("sha256:x".into()),
            ..current.clone()
        };
        assert_eq!(
            check_push(&current, &edited, "f", false)
                .unwrap_err()
                .to_string(),
            "f has serial 5, the state's own, but other contents: an edited copy replaces the \
             state only with a higher Serial (set it to 6), or with --force (if you did not edit \
             it, the state changed since the pull: pull again)"
        );
        assert!(check_push(&current, &edited, "f", true).is_ok());
        assert_eq!(
            check_push(&current, &pushed("l1", 4), "f", false)
                .unwrap_err()
                .to_string(),
            "f has serial 4, older than the state's 5: it changed since the file was pulled; \
             pull it again (--force pushes the older one anyway)"
        );
        assert_eq!(
            check_push(&current, &pushed("l2", 9), "f", false)
                .unwrap_err()
                .to_string(),
            "f is of lineage l2, the state of lineage l1: another state's history (--force \
             pushes it anyway)"
        );
        assert!(check_push(&current, &pushed("l2", 1), "f", true).is_ok());
        assert!(check_push(&State::default(), &pushed("l2", 1), "f", false).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let location = Location::File(dir.path().join("s.state"));
        let to = Location::parse("s3://bucket/web.json").unwrap();
        {
            let mut store = StateStore::open(&location, &Keys::default()).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            let moved = State::moved(&store.state, &to);
            store.replace(moved).unwrap();
        }
        let err = StateStore::open(&location, &Keys::default())
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            format!(
                "the state {location} was moved to s3://bucket/web.json by `rkit state \
                 migrate`: use that one (the spec's State section or --state)"
            )
        );
        assert!(
            check_destination(
                &StateStore::open_destination(&location, &Keys::default())
                    .unwrap()
                    .state,
                &current
            )
            .is_ok()
        );
        assert_eq!(
            check_destination(&current, &pushed("l9", 1))
                .unwrap_err()
                .to_string(),
            "already holds a state (lineage l1, serial 5, 0 resources)"
        );
    }
}
