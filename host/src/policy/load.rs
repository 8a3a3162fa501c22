//! Loading policies: the Rego files a source names (a file, a directory's `.rego` files
//! recursively, or a bundle fetched by reference), parsed into one engine per view (masked,
//! and granted sensitive values), each package with its enforcement level.
//!
//! Invariants: files load in a stable order (sorted by path) and the policies' digest covers
//! every evaluated file's name and text, so the same policies always have the same digest;
//! `_test.rego` files are left to `rkit policy test`; a file that does not parse is refused
//! naming `file:line:col`; symlinked directories are not entered.

use super::verdict::Level;
use anyhow::{Context as _, Result, anyhow, bail};
use regorus::Engine;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where policies come from, as a spec's `Policies` entry or `--policy` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Source {
    /// A `.rego` file or a directory (relative to the spec's directory), or a bundle's
    /// reference (`registry/repository:tag`, `file://dir:tag`).
    pub source: String,
    /// Its policies see sensitive values (others see `(sensitive)`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Publisher keys (`ed25519:BASE64`) whose signature a bundle fetched by reference must
    /// carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<String>,
}

impl Source {
    /// A source given by its place alone.
    pub fn at(place: &str) -> Self {
        Self {
            source: place.to_string(),
            sensitive: false,
            trusted_keys: Vec::new(),
        }
    }
}

/// One policy file: the name it is shown by, and its text.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub text: String,
    pub sensitive: bool,
    /// The source it came from (a package may come from one source only).
    pub origin: String,
}

/// One package: its name (without `data.`), its level, and the view it sees.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub level: Level,
    pub sensitive: bool,
}

/// Loaded policies, ready to evaluate.
#[derive(Clone, Default)]
pub struct Policies {
    pub(super) masked: Option<Engine>,
    pub(super) revealed: Option<Engine>,
    pub(super) packages: Vec<Package>,
    pub(super) files: Vec<String>,
    digest: String,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("files", &self.files)
            .field("digest", &self.digest)
            .finish()
    }
}

impl Policies {
    /// Policies from `files` (test files left out).
    pub fn new(mut files: Vec<File>) -> Result<Self> {
        files.retain(|f| !f.name.ends_with("_test.rego"));
        files.sort_by(|a, b| a.name.cmp(&b.name));
        // The same file given twice (a directory in the spec and in --policy) loads once;
        // two different files under one name are refused.
        files.dedup_by(|a, b| a.name == b.name && a.text == b.text && a.sensitive == b.sensitive);
        if let Some(pair) = files.windows(2).find(|w| w[0].name == w[1].name) {
            bail!(
                "policy {}: given twice, differently (from {} and {})",
                pair[0].name,
                crate::text::escaped(&pair[0].origin),
                crate::text::escaped(&pair[1].origin)
            );
        }
        check_one_origin(&files)?;
        let digest = digest(&files);
        let mut policies = Policies {
            files: files.iter().map(|f| f.name.clone()).collect(),
            digest,
            ..Policies::default()
        };
        for sensitive in [false, true] {
            let view: Vec<&File> = files.iter().filter(|f| f.sensitive == sensitive).collect();
            if view.is_empty() {
                continue;
            }
            let (engine, names) = parse(&view)?;
            let mut engine = engine;
            for name in names {
                let level = level_of(&mut engine, &name)?;
                if policies.packages.iter().any(|p| p.name == name) {
                    bail!(
                        "policy {name}: declared both by files granted sensitive values and by \
                         files that are not: a package is granted them whole, or not at all"
                    );
                }
                policies.packages.push(Package {
                    name,
                    level,
                    sensitive,
                });
            }
            *if sensitive {
                &mut policies.revealed
            } else {
                &mut policies.masked
            } = Some(engine);
        }
        Ok(policies)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The digest of every evaluated file's name and text (empty when there are none).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The packages' names.
    pub fn names(&self) -> Vec<String> {
        self.packages.iter().map(|p| p.name.clone()).collect()
    }

    /// Whether some policy is granted sensitive values.
    pub fn wants_sensitive(&self) -> bool {
        self.revealed.is_some()
    }

    /// The packages with their levels.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }
}

/// One engine holding `files`, and the packages they declare.
pub(super) fn parse(files: &[&File]) -> Result<(Engine, Vec<String>)> {
    let mut engine = super::rego::engine();
    let mut names = Vec::new();
    for file in files {
        let package = engine
            .add_policy(file.name.clone(), file.text.clone())
            .map_err(|e| {
                anyhow!(
                    "{}: not a valid Rego policy: {}",
                    file.name,
                    super::rego::located(&e)
                )
            })?;
        let name = package
            .strip_prefix("data.")
            .unwrap_or(&package)
            .to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok((engine, names))
}

/// Refuses a package declared by files of two sources: a spec's file could otherwise lower
/// a team policy's level, or add to the data its rules read.
fn check_one_origin(files: &[File]) -> Result<()> {
    let mut seen: std::collections::BTreeMap<String, &str> = Default::default();
    for file in files {
        let Some(package) = package_of(&file.text) else {
            continue;
        };
        match seen.get(&package) {
            Some(origin) if *origin != file.origin => bail!(
                "policy {package}: declared by two sources ({} and {}): a package comes from \
                 one place",
                crate::text::escaped(origin),
                crate::text::escaped(&file.origin)
            ),
            _ => {
                seen.insert(package, &file.origin);
            }
        }
    }
    Ok(())
}

/// The package a file declares (its first `package` line).
pub(super) fn package_of(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix("package "))
        .map(|p| p.trim().to_string())
}

/// The level package `name` declares with its `enforcement` rule (default: mandatory).
fn level_of(engine: &mut Engine, name: &str) -> Result<Level> {
    engine.set_input(regorus::Value::new_object());
    let value = super::rego::query(engine, name, "enforcement")
        .with_context(|| format!("policy {name}: evaluating its enforcement rule"))?;
    match value {
        None => Ok(Level::Mandatory),
        Some(serde_json::Value::String(text)) => Level::parse(&text).ok_or_else(|| {
            anyhow!(
                "policy {name}: enforcement is {}: it must be \"advisory\", \"overridable\" or \"mandatory\"",
                crate::text::escaped(&serde_json::Value::String(text.clone()).to_string())
            )
        }),
        Some(other) => bail!(
            "policy {name}: enforcement is {other}: it must be \"advisory\", \"overridable\" or \"mandatory\""
        ),
    }
}

/// `sha256:…` of the files' names and texts.
fn digest(files: &[File]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let mut all = Vec::new();
    for file in files {
        for part in [&file.name, &file.text] {
            all.extend((part.len() as u64).to_le_bytes());
            all.extend(part.as_bytes());
        }
        all.push(file.sensitive as u8);
    }
    crate::registry::sha256_digest(&all)
}

/// The `.rego` files at `path` (a file, or a directory searched recursively, symlinked
/// directories left alone), named as `shown` joined with their path below it.
pub fn read_files(path: &Path, shown: &str, sensitive: bool) -> Result<Vec<File>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("policy {shown}: cannot read it"))?;
    if meta.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("policy {shown}: cannot read it"))?;
        return Ok(vec![File {
            name: shown.to_string(),
            text,
            sensitive,
            origin: shown.to_string(),
        }]);
    }
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("policy {shown}: cannot list it"))?;
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let child = entry.path();
            if kind.is_dir() {
                dirs.push(child);
            } else if child.extension().is_some_and(|e| e == "rego") && !kind.is_dir() {
                let rel = child.strip_prefix(path).unwrap_or(&child);
                let name = Path::new(shown).join(rel).display().to_string();
                let text = std::fs::read_to_string(&child)
                    .with_context(|| format!("policy {name}: cannot read it"))?;
                files.push(File {
                    name,
                    text,
                    sensitive,
                    origin: shown.to_string(),
                });
            }
        }
    }
    if files.is_empty() {
        bail!("policy {shown}: no .rego file in it");
    }
    Ok(files)
}
