//! What rkit knows exists: the state, persisted as a snapshot plus an append-only journal.
//!
//! Every resource operation appends one JSON line to `<state>.journal` as it completes (time
//! proportional to the change, not to the state's size), so a crash or a failed apply loses
//! nothing. Loading replays the journal over the snapshot (a torn last line from a crash is
//! ignored); [`StateStore::compact`] folds it into a new snapshot (written to a temporary file
//! and renamed over the old one) once per command. A lock file held with an OS file lock
//! refuses a second concurrent rkit on the same state.
//!
//! Intent before effect: before a create, the engine journals an [`Intent`] (resource, type,
//! the tags the object will carry, the idempotency token). Recording the resource (or settling
//! the intent) closes it; an intent still open when a state is opened means a create may have
//! happened without its answer being recorded, and the engine resolves it (`list` by the tags:
//! adopt what exists) before planning. Every error names the file (and the journal's line).

use crate::spec::reference::{Reference, Target, at_path};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
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

/// The state is locked by another rkit: who (pid, command) and since when.
#[derive(Debug, thiserror::Error)]
#[error("the state {} is locked by another rkit ({holder}); wait for it to finish", path.display())]
pub struct Locked {
    pub path: PathBuf,
    pub holder: String,
}

/// A state on disk, locked for the lifetime of this value.
pub struct StateStore {
    path: PathBuf,
    journal: File,
    _lock: File,
    pub state: State,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl StateStore {
    /// Opens (or starts) the state at `path`, taking its lock.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the state's directory {}", dir.display()))?;
        }
        let lock_path = sibling(path, ".lock");
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(Locked {
                path: path.to_path_buf(),
                holder: holder.trim().to_string(),
            }
            .into());
        }
        // Who holds it and since when, for whoever finds it locked.
        let command = std::env::args().nth(1).unwrap_or_default();
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        lock.set_len(0)
            .and_then(|()| {
                write!(
                    lock,
                    "pid {}, rkit {command}, since {since}",
                    std::process::id()
                )
            })
            .with_context(|| format!("writing {}", lock_path.display()))?;

        let state = Self::load(path)?;
        let journal_path = sibling(path, ".journal");
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .with_context(|| format!("opening {}", journal_path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            journal,
            _lock: lock,
            state,
        })
    }

    /// Reads the state at `path` without locking it (for commands that only look).
    pub fn read_only(path: &Path) -> Result<State> {
        Self::must_exist(path)?;
        Self::load(path)
    }

    /// Opens the state at `path` for a change, taking its lock; it must exist already.
    pub fn open_existing(path: &Path) -> Result<Self> {
        Self::must_exist(path)?;
        Self::open(path)
    }

    fn must_exist(path: &Path) -> Result<()> {
        if !path.exists() && !sibling(path, ".journal").exists() {
            bail!("there is no state at {}", path.display());
        }
        Ok(())
    }

    /// The snapshot with the journal replayed over it.
    fn load(path: &Path) -> Result<State> {
        let mut state = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str::<State>(&text)
                .with_context(|| format!("reading the state {}", path.display()))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => State {
                version: VERSION,
                lineage: new_lineage(),
                ..State::default()
            },
            Err(err) => return Err(err).context(format!("reading the state {}", path.display())),
        };
        if state.version != VERSION {
            bail!(
                "the state {} has version {}; this rkit reads version {VERSION}",
                path.display(),
                state.version
            );
        }
        replay(&sibling(path, ".journal"), &mut state)?;
        Ok(state)
    }

    /// Where the snapshot lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `resource` as `name` (or removes `name`), durably for this process before
    /// returning: one appended line.
    pub fn record(&mut self, name: &str, resource: Option<ResourceState>) -> Result<()> {
        self.change(name, Change::Resource(resource))
    }

    /// Journals `change` to `name` (one appended line, written before this returns: it
    /// survives the process being killed) and applies it.
    pub fn change(&mut self, name: &str, change: Change) -> Result<()> {
        let entry = Entry {
            serial: self.state.serial + 1,
            name: name.to_string(),
            change,
        };
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        self.journal.write_all(&line).with_context(|| {
            format!(
                "appending to the journal {}",
                sibling(&self.path, ".journal").display()
            )
        })?;
        self.state.serial = entry.serial;
        self.state.apply(entry.name, entry.change);
        Ok(())
    }

    /// Folds the journal into a new snapshot: written beside, synced, renamed over the old one;
    /// then the journal is emptied.
    pub fn compact(&mut self) -> Result<()> {
        let tmp = sibling(&self.path, ".tmp");
        let mut text = serde_json::to_vec_pretty(&self.state)?;
        text.push(b'\n');
        File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(&text)?;
                file.sync_all()
            })
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing the state {}", self.path.display()))?;
        self.journal
            .set_len(0)
            .and_then(|()| self.journal.sync_all())
            .with_context(|| {
                format!(
                    "emptying the journal {}",
                    sibling(&self.path, ".journal").display()
                )
            })?;
        Ok(())
    }
}

/// Applies the journal's entries newer than the snapshot.
fn replay(journal: &Path, state: &mut State) -> Result<()> {
    let file = match File::open(journal) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).context(format!("reading {}", journal.display())),
    };
    let mut lines = Vec::new();
    for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {}", journal.display()))?;
        match String::from_utf8(line) {
            Ok(text) => lines.push(text),
            Err(_) => bail!(
                "{}:{}: corrupt journal entry: not UTF-8 text",
                journal.display(),
                i + 1
            ),
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            // A crash mid-append leaves a torn last line: that change never completed.
            Err(_) if i + 1 == lines.len() => break,
            Err(err) => {
                return Err(anyhow!(
                    "{}:{}: corrupt journal entry: {err}",
                    journal.display(),
                    i + 1
                ));
            }
        };
        if entry.serial <= state.serial {
            continue; // already in the snapshot (a crash between rename and truncate)
        }
        state.serial = entry.serial;
        state.apply(entry.name, entry.change);
    }
    Ok(())
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
    fn changes_survive_without_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&path).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.record("A", None).unwrap();
            // Dropped without compacting, as a crash would.
        }
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.state.serial, 3);
        assert_eq!(store.state.resources.keys().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn compaction_keeps_everything_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let lineage = {
            let mut store = StateStore::open(&path).unwrap();
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
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.state.lineage, lineage);
        assert_eq!(store.state.resources.len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&path).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
        }
        let mut journal = OpenOptions::new()
            .append(true)
            .open(dir.path().join("s.state.journal"))
            .unwrap();
        journal.write_all(b"{\"Serial\":2,\"Na").unwrap();
        let store = StateStore::open(&path).unwrap();
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
            let mut store = StateStore::open(&path).unwrap();
            store.change("A", Change::Intent(intent("t1"))).unwrap();
            store.change("B", Change::Intent(intent("t2"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
        }
        let mut store = StateStore::open(&path).unwrap();
        assert_eq!(store.state.intents.keys().collect::<Vec<_>>(), ["A"]);
        assert_eq!(store.state.intents["A"].token, "t1");
        store
            .change("A", Change::Settled("nothing".into()))
            .unwrap();
        store.compact().unwrap();
        drop(store);
        let store = StateStore::open(&path).unwrap();
        assert!(store.state.intents.is_empty());
    }

    #[test]
    fn moves_and_forgets_are_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        {
            let mut store = StateStore::open(&path).unwrap();
            store.record("A", Some(resource("a"))).unwrap();
            store.record("B", Some(resource("b"))).unwrap();
            store.change("A", Change::MovedTo("C".into())).unwrap();
            store
                .change("B", Change::Forgotten("local/File/b".into()))
                .unwrap();
        }
        let store = StateStore::open(&path).unwrap();
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
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.state.serial, 2);
        assert!(store.state.resources.is_empty());
    }

    #[test]
    fn state_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let journal = dir.path().join("s.state.journal");
        std::fs::write(&journal, b"\xff\xfe\n{}\n").unwrap();
        let err = format!("{:#}", StateStore::open(&path).err().unwrap());
        assert_eq!(
            err,
            format!(
                "{}:1: corrupt journal entry: not UTF-8 text",
                journal.display()
            )
        );
        std::fs::write(&journal, b"").unwrap();
        std::fs::write(&path, b"\xff").unwrap();
        let err = format!("{:#}", StateStore::open(&path).err().unwrap());
        assert!(
            err.starts_with(&format!("reading the state {}: ", path.display())),
            "{err}"
        );
        let err = format!("{:#}", StateStore::open(dir.path()).err().unwrap());
        assert!(
            err.starts_with(&format!("reading the state {}: ", dir.path().display())),
            "{err}"
        );
    }

    #[test]
    fn a_second_opener_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let _held = StateStore::open(&path).unwrap();
        let err = StateStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("is locked by another rkit (pid "), "{err}");
    }
}
