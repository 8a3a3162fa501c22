//! What rkit knows exists: the state, persisted as a snapshot plus an append-only journal.
//!
//! Every resource operation appends one JSON line to `<state>.journal` as it completes (time
//! proportional to the change, not to the state's size), so a crash or a failed apply loses
//! nothing. Loading replays the journal over the snapshot (a torn last line from a crash is
//! ignored); [`StateStore::compact`] folds it into a new snapshot (written to a temporary file
//! and renamed over the old one) once per command. A lock file held with an OS file lock
//! refuses a second concurrent rkit on the same state.

use crate::spec::reference::{Reference, Target, at_path};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

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

/// A journal line: one change.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    serial: u64,
    name: String,
    /// The new record; `None` removes the resource.
    resource: Option<ResourceState>,
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
            bail!(
                "the state {} is locked by another rkit ({}); wait for it to finish",
                path.display(),
                holder.trim()
            );
        }
        lock.set_len(0)?;
        write!(lock, "pid {}", std::process::id())?;

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
        if !path.exists() && !sibling(path, ".journal").exists() {
            bail!("there is no state at {}", path.display());
        }
        Self::load(path)
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
        self.state.serial += 1;
        let entry = Entry {
            serial: self.state.serial,
            name: name.to_string(),
            resource,
        };
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        self.journal
            .write_all(&line)
            .with_context(|| format!("appending to the journal of {}", self.path.display()))?;
        match entry.resource {
            Some(r) => self.state.resources.insert(entry.name, r),
            None => self.state.resources.remove(&entry.name),
        };
        Ok(())
    }

    /// Folds the journal into a new snapshot: written beside, synced, renamed over the old one;
    /// then the journal is emptied.
    pub fn compact(&mut self) -> Result<()> {
        let tmp = sibling(&self.path, ".tmp");
        let mut text = serde_json::to_vec_pretty(&self.state)?;
        text.push(b'\n');
        let mut file = File::create(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing the state {}", self.path.display()))?;
        self.journal.set_len(0)?;
        self.journal.sync_all()?;
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
    let lines: Vec<String> = BufReader::new(file).lines().collect::<Result<_, _>>()?;
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
        match entry.resource {
            Some(r) => state.resources.insert(entry.name, r),
            None => state.resources.remove(&entry.name),
        };
    }
    Ok(())
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

    #[test]
    fn a_second_opener_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let _held = StateStore::open(&path).unwrap();
        let err = StateStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("is locked by another rkit (pid "), "{err}");
    }
}
