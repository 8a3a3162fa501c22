//! Packing a bundle: the spec, checked as any command checks it, and what it needs on a machine
//! from its directory: `rkit.lock`, the parameter files given, the policies and provider
//! modules it names by a path.
//!
//! Invariant: only regular files under the spec's directory go in (a symlink, or a path that
//! leads out of it, is refused by name); from a policy directory only its `.rego` and `.json`
//! files, never a hidden one (a key, `.git`); a reference (a registry's, `file://`) stays a
//! reference, pinned by the lock.

use super::Bundle;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Who pushes a bundle, when, for which stack, with which serial.
pub struct Push {
    /// The stack's state ([`super::stack_of`]).
    pub stack: String,
    pub serial: u64,
    /// `user@host`.
    pub by: String,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
}

/// The bundle of the spec at `spec` with the parameter files `var_files`.
pub fn pack(spec: &Path, var_files: &[PathBuf], push: Push) -> Result<Bundle> {
    let given = crate::spec::parameters::Given::from_env(Vec::new(), var_files.to_vec());
    let loaded = crate::spec::load_with(spec, &given)?;
    let dir = spec_dir(spec)?;
    let mut files = Files {
        dir: &dir,
        files: BTreeMap::new(),
        total: 0,
    };
    let spec_name = files.add(spec)?;
    let lock = dir.join("rkit.lock");
    if lock.exists() {
        files.add(&lock)?;
    }
    let mut vars = Vec::new();
    for file in var_files {
        vars.push(
            files
                .add(file)
                .with_context(|| format!("--var-file {}", file.display()))?,
        );
    }
    for entry in &loaded.spec.policies {
        let place = entry.source().source;
        files
            .add_local(&place)
            .with_context(|| format!("Policies: {place:?}"))?;
    }
    for (name, provider) in &loaded.spec.providers {
        if let Some(source) = &provider.source {
            files
                .add_local(source)
                .with_context(|| format!("Providers.{name}.Source"))?;
        }
    }
    Ok(Bundle {
        stack: push.stack,
        serial: push.serial,
        spec: spec_name,
        var_files: vars,
        files: files.files,
        pushed_by: push.by,
        pushed_at: push.at,
    })
}

/// The spec's directory, resolved.
fn spec_dir(spec: &Path) -> Result<PathBuf> {
    let parent = match spec.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent
        .canonicalize()
        .with_context(|| format!("{}", parent.display()))
}

/// The files gathered so far, by their path relative to `dir`.
struct Files<'a> {
    dir: &'a Path,
    files: BTreeMap<String, String>,
    total: usize,
}

impl Files<'_> {
    /// Adds what `place` (relative to the spec's directory) names when it is a file or a
    /// directory there; a reference (`registry/repo:tag`, `file://…`) is left to the lock.
    /// An absolute path is left as it is: the machine must have it too.
    fn add_local(&mut self, place: &str) -> Result<()> {
        if place.contains("://") || Path::new(place).is_absolute() {
            return Ok(());
        }
        let path = self.dir.join(place);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => self.add_dir(&path),
            Ok(_) => self.add(&path).map(|_| ()),
            // Not a path here: a reference (`registry/repo:tag`), resolved through the lock.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("{}", path.display())),
        }
    }

    /// Adds the `.rego` and `.json` files under `dir` (not hidden ones), refusing symlinks.
    fn add_dir(&mut self, dir: &Path) -> Result<()> {
        let shown = || format!("{}", dir.display());
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(shown)?
            .collect::<std::io::Result<_>>()
            .with_context(shown)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type().with_context(shown)?.is_dir() {
                self.add_dir(&path)?;
            } else if path.extension().is_some_and(|e| e == "rego" || e == "json") {
                self.add(&path)?;
            }
        }
        Ok(())
    }

    /// Adds the regular file at `path`; its path relative to the spec's directory.
    fn add(&mut self, path: &Path) -> Result<String> {
        let meta =
            std::fs::symlink_metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a regular file (a bundle holds files, never symlinks)",
                path.display()
            );
        }
        let full = path
            .canonicalize()
            .with_context(|| format!("{}", path.display()))?;
        let relative = full.strip_prefix(self.dir).map_err(|_| {
            anyhow!(
                "{} is outside the spec's directory {}: a bundle holds only what is under it",
                path.display(),
                self.dir.display()
            )
        })?;
        let name = super::unpack::checked_name(&relative.to_string_lossy().replace('\\', "/"))?;
        let bytes = std::fs::read(&full).with_context(|| format!("{}", full.display()))?;
        self.total += bytes.len();
        if self.total > super::MAX_BYTES || self.files.len() >= super::MAX_FILES {
            bail!(
                "the bundle would be over its limits ({} bytes, {} files)",
                super::MAX_BYTES,
                super::MAX_FILES
            );
        }
        self.files.insert(name.clone(), B64.encode(bytes));
        Ok(name)
    }
}
