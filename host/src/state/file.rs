//! The default backend: a snapshot file beside the spec, an append-only journal file
//! (`.journal`, one line per change) and a lock file held with an OS lock (`.lock`, naming
//! the holder: pid, command, since when).
//!
//! Invariants: a journal write is in the file before `append` returns, so it survives the
//! process being killed; one that holds an intent is also on disk (`fdatasync`ed, with every
//! line before it) before the effect it announces, so it survives the machine losing power
//! too. A record written after an effect and lost with the power is found again by the
//! intent before it (its object is looked for by its tags and token), a lost delete by the
//! next refresh (the object is gone), a lost update by the next read. A write that fails
//! part way (a full disk) is cut off again, and a write cut short by a crash (a last line
//! without its newline) is cut off when the state is next locked, so a later line never
//! joins a broken one; a failed sync is an error (what it wrote is not trusted to be on
//! disk, and nothing later is written). The snapshot is replaced by writing beside it,
//! syncing, renaming and syncing the directory, and only then is the journal emptied, so a
//! crash or a failure anywhere between leaves either the old snapshot and the whole journal,
//! or the new snapshot and entries it already holds (skipped by serial on load); the lock is
//! released when the backend is dropped.

use super::backend::{self, Backend, Loaded, Open, Part};
use super::snapshot::Snapshot;
use super::{Location, Locked};
use anyhow::{Context, Result, anyhow};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A state in a file.
pub struct FileBackend {
    path: PathBuf,
    journal: Option<File>,
    _lock: Option<File>,
}

pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl FileBackend {
    /// The state at `path`, not locked (for reading).
    pub fn reader(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            journal: None,
            _lock: None,
        }
    }

    /// The state at `path`, locked until dropped.
    pub fn locked(path: &Path) -> Result<Self> {
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
        let started = std::time::Instant::now();
        let mut told = false;
        while lock.try_lock().is_err() {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            if started.elapsed() < super::lock_timeout() {
                if !std::mem::replace(&mut told, true) {
                    super::waiting_for(&Location::File(path.to_path_buf()), holder.trim());
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
                continue;
            }
            return Err(Locked {
                location: Location::File(path.to_path_buf()),
                holder: holder.trim().to_string(),
                lock_id: None,
            }
            .into());
        }
        lock.set_len(0)
            .and_then(|()| write!(lock, "{}", super::holder()))
            .with_context(|| format!("writing {}", lock_path.display()))?;
        let journal_path = sibling(path, ".journal");
        let new = !journal_path.exists();
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .with_context(|| format!("opening {}", journal_path.display()))?;
        // A journal just made is on disk with its name before anything synced in it counts.
        if new {
            sync_dir(&journal_path)
                .with_context(|| format!("syncing the directory of {}", journal_path.display()))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            journal: Some(journal),
            _lock: Some(lock),
        })
    }
}

impl Backend for FileBackend {
    fn exists(&mut self) -> Result<bool> {
        Ok(self.path.exists() || sibling(&self.path, ".journal").exists())
    }

    /// The snapshot file is opened before the journal is read and read from after it, the
    /// order an unlocked read racing a compaction relies on (see `StateStore::read_only`).
    fn load(&mut self, open: Open<'_>) -> Result<Loaded> {
        let snapshot = match File::open(&self.path) {
            Ok(file) => Some(file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                return Err(err).context(format!("reading the state {}", self.path.display()));
            }
        };
        let journal_path = sibling(&self.path, ".journal");
        let journal = match std::fs::read(&journal_path) {
            Ok(bytes) => {
                self.cut_torn_write(&bytes)?;
                vec![Part {
                    name: journal_path.display().to_string(),
                    bytes,
                    may_be_torn: true,
                }]
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => {
                return Err(err).context(format!("reading {}", journal_path.display()));
            }
        };
        let snapshot = snapshot
            .map(|file| open(Snapshot::File(file)))
            .transpose()?;
        Ok(Loaded { snapshot, journal })
    }

    fn append(&mut self, line: &[u8], sync: bool) -> Result<()> {
        let name = sibling(&self.path, ".journal").display().to_string();
        let journal = self.journal.as_mut().expect("a locked state writes");
        let before = journal
            .metadata()
            .with_context(|| format!("reading the journal {name}"))?
            .len();
        if let Err(err) = journal.write_all(line) {
            // Whatever part of it landed is cut off again, so the journal stays whole lines.
            let cut = journal.set_len(before).and_then(|()| journal.sync_data());
            return Err(anyhow!(
                "appending to the journal {name} failed: {err}; the change was not written{}",
                match cut {
                    Ok(()) => String::new(),
                    Err(_) =>
                        " (its partial line is dropped when the state is next opened)".to_string(),
                }
            ));
        }
        if !sync {
            return Ok(());
        }
        journal.sync_data().map_err(|err| {
            anyhow!(
                "syncing the journal {name} failed: {err}; the change may not be on disk, so \
                 this run stops writing (the next run reads what is there)"
            )
        })
    }

    fn compact(&mut self, write: backend::Write<'_>, _serial: u64) -> Result<String> {
        let unchanged = |step: String, err: std::io::Error| {
            anyhow!(
                "{step} failed: {err}; the state {} is as it was (its journal holds every \
                 change)",
                self.path.display()
            )
        };
        let tmp = sibling(&self.path, ".tmp");
        let written = File::create(&tmp).and_then(|mut file| {
            let digest = write(&mut file)?;
            file.sync_all().map(|()| digest)
        });
        let digest = match written {
            Ok(digest) => digest,
            Err(err) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(unchanged(format!("writing {}", tmp.display()), err));
            }
        };
        if let Err(err) = std::fs::rename(&tmp, &self.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(unchanged(
                format!("replacing the snapshot {}", self.path.display()),
                err,
            ));
        }
        // The rename on disk before the journal is emptied: never an empty journal beside
        // the old snapshot.
        sync_dir(&self.path).with_context(|| {
            format!(
                "syncing the directory of the state {} after replacing its snapshot (the \
                 journal is kept; the next run reads the state whole)",
                self.path.display()
            )
        })?;
        let journal = self.journal.as_mut().expect("a locked state writes");
        journal
            .set_len(0)
            .and_then(|()| journal.sync_all())
            .with_context(|| {
                format!(
                    "emptying the journal {} (the snapshot holds all of it; the next run skips \
                     what it holds)",
                    sibling(&self.path, ".journal").display()
                )
            })?;
        Ok(digest)
    }
}

impl FileBackend {
    /// Cuts off a write a crash left without its newline (it never completed; loading drops
    /// it too), so that the next append starts a line of its own. Only with the lock held.
    fn cut_torn_write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        if bytes.is_empty() || bytes.ends_with(b"\n") {
            return Ok(());
        }
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        journal
            .set_len(whole as u64)
            .and_then(|()| journal.sync_data())
            .with_context(|| {
                format!(
                    "cutting off the torn last write of the journal {}",
                    sibling(&self.path, ".journal").display()
                )
            })
    }
}

/// Syncs the directory holding `path`, so that a rename in it is on disk.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}
