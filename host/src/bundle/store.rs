//! Where a bundle is kept: beside the stack's state, `KEY.bundle` in its bucket for a state in
//! S3, `PATH.bundle` beside a state file; read and written with the state's own credentials.
//!
//! Invariants: a push is one write of the whole object (one PUT, or a file created new and
//! renamed into place, never written through a symlink), so a reader sees the previous
//! bundle or the new one; a stored bundle larger than the limit is refused before it is read,
//! and a file one is read only when it is a regular file (not a symlink, a FIFO, a device).

use crate::state::Location;
use crate::state::s3::S3Backend;
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What follows the state's key or path.
const SUFFIX: &str = ".bundle";
/// The most a stored bundle may be.
const MAX_STORED: u64 = 2 * super::MAX_BYTES as u64;

/// The stack a bundle belongs to: its state's place (`s3://BUCKET/KEY`, or the state file's
/// absolute path).
pub fn stack_of(location: &Location) -> String {
    match location {
        Location::S3(s3) => format!("s3://{}/{}", s3.bucket, s3.key),
        Location::File(path) => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            absolute.display().to_string()
        }
    }
}

/// Stores `sealed` as the bundle of the stack whose state is at `location`.
pub fn push(location: &Location, sealed: Vec<u8>) -> Result<()> {
    match location {
        Location::S3(s3) => S3Backend::open(s3, false)?.write_beside(SUFFIX, sealed),
        Location::File(path) => replace_file(&beside(path), &sealed),
    }
}

/// The stored bundle of the stack whose state is at `location`, if there is one.
pub fn fetch(location: &Location) -> Result<Option<Vec<u8>>> {
    match location {
        Location::S3(s3) => S3Backend::open(s3, false)?.read_beside(SUFFIX, MAX_STORED),
        Location::File(path) => read_file(&beside(path)),
    }
}

/// The regular file at `path`, if there is one, at most [`MAX_STORED`] bytes.
pub(super) fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > MAX_STORED {
        bail!(
            "{} is {} bytes, over {MAX_STORED}",
            path.display(),
            meta.len()
        );
    }
    let file = open_no_follow(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_STORED + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STORED {
        bail!("{} grew over {MAX_STORED} bytes", path.display());
    }
    Ok(Some(bytes))
}

/// Opens `path` for reading, refusing a symlink.
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Replaces `target` with `bytes`: written to a file created new beside it (never through a
/// symlink, never over another file), then renamed over it.
pub(super) fn replace_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".rkit-")
        .tempfile_in(dir)
        .with_context(|| format!("{}", dir.display()))?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary
        .persist(target)
        .with_context(|| format!("{}", target.display()))?;
    Ok(())
}

/// Where the bundle of the state file at `path` is.
fn beside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(SUFFIX);
    PathBuf::from(name)
}
