//! Unpacking a checked bundle on a machine: each version into a directory of its own,
//! `BASE/.rkit-bundles/HEX` (HEX: the bundle's whole digest), written under a temporary name
//! and renamed whole; `BASE/.rkit-bundle.json` records the last one followed (its digest and
//! serial: a lower serial is a replay), written only once its spec loaded ([`commit`]), with
//! the bundle as stored beside its version (`HEX.sealed`), checked again before it is used
//! when the store cannot be reached ([`super::recorded`]).
//!
//! Invariants: every path is checked ([`checked_name`]) before anything is written; every
//! directory written to was made here, owner-only (0700), so nothing is written through a
//! symlink or outside, and no other user reads a parameter file; a version directory found
//! already there is used only when it holds exactly the bundle's files, byte for byte
//! (else it is written again); an unreadable record refuses every bundle (it would turn
//! replay protection off) until it is removed.

use super::Opened;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The record of the last bundle followed, in the base directory.
pub const LAST: &str = ".rkit-bundle.json";
/// Where versions are unpacked, in the base directory.
const VERSIONS: &str = ".rkit-bundles";

/// A bundle unpacked: its directory, where its spec and parameter files are.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub dir: PathBuf,
    pub spec: PathBuf,
    pub var_files: Vec<PathBuf>,
}

/// The last bundle followed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Last {
    pub digest: String,
    pub serial: u64,
    pub signer: String,
}

/// The record of the last bundle followed under `base`: none yet, or refused when it cannot
/// be read (a damaged record must not turn replay protection off).
pub fn last(base: &Path) -> Result<Option<Last>> {
    let path = base.join(LAST);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            anyhow!(
                "{} cannot be read ({e}); remove it to follow the stored bundle again",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}", path.display())),
    }
}

/// `name` if it is a path a bundle may hold: relative, `/`-separated, without empty, `.` or
/// `..` parts, without control characters or backslash.
pub fn checked_name(name: &str) -> Result<String> {
    let bad = name.is_empty()
        || name.len() > 1024
        || name.starts_with('/')
        || name.contains(|c: char| c == '\\' || c.is_control())
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        bail!(
            "{:?} is not a path a bundle may hold (relative, no `..`)",
            crate::text::escape(name)
        );
    }
    Ok(name.to_string())
}

/// Unpacks `opened` under `base` (made if missing; it must be a directory, not a symlink),
/// unless the same version is there intact. Nothing is recorded: see [`commit`].
pub fn unpack(opened: &Opened, base: &Path) -> Result<Unpacked> {
    let bundle = &opened.bundle;
    for name in bundle.files.keys() {
        checked_name(name)?;
    }
    real_dir(base)?;
    let versions = real_dir(&base.join(VERSIONS))?.canonicalize()?;
    let version = versions.join(opened.digest.trim_start_matches("sha256:"));
    if !holds_exactly(&version, &bundle.files)? {
        if std::fs::symlink_metadata(&version).is_ok() {
            remove(&version)?;
        }
        write_version(opened, &versions, &version)?;
    }
    Ok(Unpacked {
        spec: version.join(&bundle.spec),
        var_files: bundle.var_files.iter().map(|v| version.join(v)).collect(),
        dir: version,
    })
}

/// Records `opened` (unpacked at `unpacked`) as the last bundle followed under `base`, and
/// removes every other version but `keep` (the one still running, if another).
pub fn commit(
    opened: &Opened,
    unpacked: &Unpacked,
    base: &Path,
    keep: Option<&Path>,
) -> Result<()> {
    let last = Last {
        digest: opened.digest.clone(),
        serial: opened.bundle.serial,
        signer: opened.signer.clone(),
    };
    super::store::replace_file(&sealed_path(base, &opened.digest), &opened.sealed)?;
    super::store::replace_file(&base.join(LAST), &serde_json::to_vec_pretty(&last)?)?;
    // Told apart by name: `base` may be given relative, the versions' paths are resolved.
    let mut kept = Vec::new();
    for dir in std::iter::once(unpacked.dir.as_path()).chain(keep) {
        if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
            kept.push(name.to_string());
            kept.push(format!("{name}.sealed"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(base.join(VERSIONS)) {
        for entry in entries.flatten() {
            if !kept.iter().any(|k| entry.file_name().to_str() == Some(k)) {
                let _ = remove(&entry.path());
            }
        }
    }
    Ok(())
}

/// Where the bundle whose digest is `digest` is kept as stored, under `base`.
pub fn sealed_path(base: &Path, digest: &str) -> PathBuf {
    let hex: String = digest
        .trim_start_matches("sha256:")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    base.join(VERSIONS).join(format!("{hex}.sealed"))
}

/// `dir`, made owner-only if missing; refused if it is not a real directory.
fn real_dir(dir: &Path) -> Result<PathBuf> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!(
            "{} is not a directory (a symlink is not followed)",
            dir.display()
        ),
        Err(_) => {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("{}", dir.display()))?
        }
    }
    Ok(dir.to_path_buf())
}

/// Removes `path`: a directory with what it holds (never following a symlink), or a file.
fn remove(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Whether `version` is a real directory holding exactly `files` (no more, no symlink), each
/// with its content.
fn holds_exactly(version: &Path, files: &BTreeMap<String, String>) -> Result<bool> {
    match std::fs::symlink_metadata(version) {
        Ok(meta) if meta.is_dir() => {}
        _ => return Ok(false),
    }
    let mut found = BTreeMap::new();
    let mut dirs = vec![version.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let name = path.strip_prefix(version)?.to_string_lossy().into_owned();
                found.insert(name, std::fs::read(&path)?);
            } else {
                return Ok(false);
            }
        }
    }
    Ok(found.len() == files.len()
        && files.iter().all(|(name, content)| {
            let bytes = B64.decode(content).unwrap_or_default();
            found.get(name) == Some(&bytes)
        }))
}

/// Writes every file of `opened` into a fresh temporary directory, then renames it `version`.
fn write_version(opened: &Opened, versions: &Path, version: &Path) -> Result<()> {
    let temporary = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(versions)
        .with_context(|| format!("{}", versions.display()))?;
    let mut total = 0usize;
    for (name, content) in &opened.bundle.files {
        let shown = crate::text::escape(name);
        let bytes = B64
            .decode(content)
            .map_err(|e| anyhow!("{shown}: not base64: {e}"))?;
        total += bytes.len();
        if total > super::MAX_BYTES {
            bail!("its files are over {} bytes", super::MAX_BYTES);
        }
        let path = temporary.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{shown}"))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("{shown}"))?;
    }
    let made = temporary.keep();
    std::fs::rename(&made, version).with_context(|| format!("{}", version.display()))
}
