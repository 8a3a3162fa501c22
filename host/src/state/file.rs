//! The default backend: a snapshot file beside the spec, an append-only journal file
//! (`.journal`, one line per change) and a lock file held with an OS lock (`.lock`, naming
//! the holder: pid, command, since when).
//!
//! Invariants: a journal line is written before `append` returns (it survives the process
//! being killed); the snapshot is replaced by writing beside it, syncing and renaming, and
//! only then is the journal emptied, so a crash between leaves entries the snapshot already
//! holds (skipped by serial on load); the lock is released when the backend is dropped.

use super::backend::{Backend, Loaded, Part};
use super::{Location, Locked};
use anyhow::{Context, Result};
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
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .with_context(|| format!("opening {}", journal_path.display()))?;
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

    fn load(&mut self) -> Result<Loaded> {
        let snapshot = match std::fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                return Err(err).context(format!("reading the state {}", self.path.display()));
            }
        };
        let journal_path = sibling(&self.path, ".journal");
        let journal = match std::fs::read(&journal_path) {
            Ok(bytes) => vec![Part {
                name: journal_path.display().to_string(),
                bytes,
            }],
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => {
                return Err(err).context(format!("reading {}", journal_path.display()));
            }
        };
        Ok(Loaded { snapshot, journal })
    }

    fn append(&mut self, line: &[u8]) -> Result<()> {
        let journal = self.journal.as_mut().expect("a locked state writes");
        journal.write_all(line).with_context(|| {
            format!(
                "appending to the journal {}",
                sibling(&self.path, ".journal").display()
            )
        })
    }

    fn compact(&mut self, snapshot: &[u8], _serial: u64) -> Result<()> {
        let tmp = sibling(&self.path, ".tmp");
        File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(snapshot)?;
                file.sync_all()
            })
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing the state {}", self.path.display()))?;
        let journal = self.journal.as_mut().expect("a locked state writes");
        journal
            .set_len(0)
            .and_then(|()| journal.sync_all())
            .with_context(|| {
                format!(
                    "emptying the journal {}",
                    sibling(&self.path, ".journal").display()
                )
            })
    }
}
