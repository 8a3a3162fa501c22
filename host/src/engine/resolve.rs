//! Providers named by reference (`"Source": "localhost:5000/rkit/aws:0.1.0"`): the locked
//! module from the cache (refusing one whose digest is not the lock's), or, for a reference
//! not locked yet, the module fetched from its registry and its signature checked against the
//! spec's trusted keys. And the approval of every module, files included: its digest, what it
//! declares and what the spec grants it, against `rkit.lock`.
//!
//! Invariant: a module runs (`configure` or any call beyond `describe`) only once approved: in
//! the lock with the same digest and nothing it asks for or is given beyond what was approved,
//! or approved now by the user (at a terminal, or with `--approve`); `--yes` never approves.

use super::events::{Approval, Event, Events};
use super::lock::{Lock, Locked, beyond, lock_path};
use crate::registry::cache::{Entry, ModuleCache};
use crate::registry::{self, Fetched, ModuleRef, sha256_digest, signing};
use crate::sandbox::{Grants, ProviderModule, Sandbox};
use crate::spi::ProviderInfo;
use anyhow::{Result, anyhow, bail};
use std::path::{Path, PathBuf};

/// What the user allows when providers are resolved.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Approve what modules ask for and are given, without asking (`--approve`).
    pub approve: bool,
    /// Accept modules with no (or no trusted) signature (`--allow-unsigned`).
    pub allow_unsigned: bool,
    /// The command that approves, for messages (`rkit init SPEC --approve`).
    pub approve_command: String,
    /// Policies a module must pass before it is approved (`rkit.operation` `approve`).
    pub policies: crate::policy::Policies,
}

/// A module resolved by reference, not cached or locked until approved.
pub struct Pending {
    pub manifest_digest: String,
    pub signer: Option<String>,
    /// What to put in the module cache once approved (none: already there).
    cache: Option<(Entry, Vec<u8>)>,
}

impl Pending {
    /// A module given as a file: no manifest, no signature, nothing to cache.
    pub fn file() -> Self {
        Self {
            manifest_digest: String::new(),
            signer: None,
            cache: None,
        }
    }
}

/// Resolves references for one spec, keeping its lock.
pub struct Resolver<'a> {
    sandbox: &'a Sandbox,
    cache: ModuleCache,
    lock: Lock,
    lock_path: PathBuf,
    policy: Policy,
    /// Where approvals are asked and warnings reported.
    events: Events,
    /// The spec's directory: relative `file://` references start there.
    dir: PathBuf,
}

impl<'a> Resolver<'a> {
    /// A resolver for a spec in `dir`, with its lock (`dir/rkit.lock`).
    pub fn new(sandbox: &'a Sandbox, dir: &Path, policy: Policy, events: Events) -> Result<Self> {
        let lock_path = lock_path(dir);
        Ok(Self {
            sandbox,
            cache: ModuleCache::default_location(),
            lock: Lock::load(&lock_path)?,
            lock_path,
            policy,
            events,
            dir: dir.to_path_buf(),
        })
    }

    /// The module file last approved for `plugin` (given with `--provider`), relative to the
    /// spec's directory; none for a module fetched by reference.
    pub fn remembered_file(&self, plugin: &str) -> Option<String> {
        self.lock
            .providers
            .get(plugin)
            .filter(|l| l.manifest_digest.is_empty() && !ModuleRef::is_reference(&l.source))
            .map(|l| l.source.clone())
    }

    /// The module `plugin`'s `source` names: the locked one, or fetched and its signature
    /// checked; [`Resolver::approve`] decides whether it runs.
    pub async fn module(
        &mut self,
        plugin: &str,
        source: &str,
        trusted: &[String],
        limits: &Grants,
    ) -> Result<(ProviderModule, Pending)> {
        let reference = registry::relative_to(ModuleRef::parse(source)?, &self.dir);
        let locked = self
            .lock
            .providers
            .get(plugin)
            .filter(|l| l.source == source && !l.manifest_digest.is_empty())
            .cloned();
        if let Some(locked) = locked {
            return self.locked(plugin, &reference, &locked, limits).await;
        }
        let fetched = self.cache.fetch(&reference).await?;
        let signer = self.check_signature(plugin, &reference, &fetched, trusted)?;
        let module = self.sandbox.load(&fetched.module, source, limits).await?;
        let entry = Entry::of(source, &fetched, module.info());
        Ok((
            module,
            Pending {
                manifest_digest: fetched.manifest_digest,
                signer,
                cache: Some((entry, fetched.module)),
            },
        ))
    }

    /// Approves `plugin`'s `module` from `source` (its digest, what it declares, and `grants`,
    /// the lines of what the spec gives it) against the lock: nothing new passes; anything
    /// new is listed and asked for (or taken from `--approve`), then recorded.
    pub fn approve(
        &mut self,
        plugin: &str,
        source: &str,
        module: &ProviderModule,
        pending: Pending,
        grants: Vec<String>,
        notes: &[String],
    ) -> Result<()> {
        let info = module.info();
        let digest = format!("sha256:{}", module.digest());
        let previous = self.lock.providers.get(plugin);
        let declared = beyond(&Default::default(), &info.capabilities);
        let new = new_since(previous, info, &declared, &grants);
        let Some(why) = unapproved_because(previous, source, &digest, &new, &self.dir) else {
            // Approved as it is; a locked module fetched again is kept in the cache.
            return self.keep_cached(pending.cache);
        };
        // Lines beyond an earlier approval are marked new (the first time, none is).
        let marked: &[String] = if previous.is_some() { &new } else { &[] };
        let heading = format!(
            "provider {plugin} ({source}, {} {}, {digest}) {why}.\n",
            info.name, info.version
        );
        let text = approval_text(heading, &declared, &grants, marked, notes);
        let entry = super::input::provider_entry(
            source,
            info,
            &digest,
            serde_json::Value::Null,
            serde_json::json!(grants),
        );
        super::input::approve_provider(&self.policy.policies, plugin, entry, &self.events)?;
        self.ask(plugin, text)?;
        self.record(plugin, source, digest, info, pending, grants)
    }

    /// Records an approval: the module in the cache (if fetched), then its entry in the lock,
    /// saved.
    fn record(
        &mut self,
        plugin: &str,
        source: &str,
        digest: String,
        info: &ProviderInfo,
        pending: Pending,
        grants: Vec<String>,
    ) -> Result<()> {
        self.keep_cached(pending.cache)?;
        self.lock.providers.insert(
            plugin.to_string(),
            Locked {
                source: source.to_string(),
                digest,
                manifest_digest: pending.manifest_digest,
                version: info.version.clone(),
                signer: pending.signer,
                capabilities: info.capabilities.clone(),
                grants,
            },
        );
        self.lock.save(&self.lock_path)
    }

    /// Asks for the approval `text` describes about `plugin` (given at once with
    /// `--approve`); an error saying how to approve if it is refused.
    fn ask(&self, plugin: &str, text: String) -> Result<()> {
        let approved = if self.policy.approve {
            self.events.event(Event::Approved {
                plugin: plugin.to_string(),
                text: text.clone(),
            });
            true
        } else {
            self.events.approve(&Approval::Provider {
                plugin: plugin.to_string(),
                text: text.clone(),
            })
        };
        if !approved {
            bail!(
                "{text}Not approved: nothing was run and nothing was recorded in {}. Approve with \
                 `{}` (or pass --approve; at a terminal rkit asks).",
                self.lock_path.display(),
                self.policy.approve_command
            );
        }
        Ok(())
    }

    /// Puts a module fetched by reference (`cache`, if any) in the module cache.
    fn keep_cached(&self, cache: Option<(Entry, Vec<u8>)>) -> Result<()> {
        if let Some((entry, bytes)) = cache {
            self.cache.store(entry, &bytes)?;
        }
        Ok(())
    }

    /// The locked module: from the cache, else fetched by its manifest digest; its sha256 must
    /// be the lock's.
    async fn locked(
        &self,
        plugin: &str,
        reference: &ModuleRef,
        locked: &Locked,
        limits: &Grants,
    ) -> Result<(ProviderModule, Pending)> {
        let cached = self.cache.read(&locked.digest);
        let from_cache = cached.is_some();
        let (bytes, place) = match cached {
            Some(bytes) => (
                bytes,
                self.cache.module_path(&locked.digest).display().to_string(),
            ),
            None => {
                let pinned = ModuleRef::parse(&pin(&locked.source, &locked.manifest_digest))?;
                let pinned = registry::relative_to(pinned, &self.dir);
                let fetched = registry::fetch(&pinned).await?;
                (fetched.module, format!("fetched from {pinned}"))
            }
        };
        let actual = sha256_digest(&bytes);
        if actual != locked.digest {
            bail!(
                "provider {plugin} ({reference}): digest mismatch: {} pins {}, but the module ({place}) \
                 is {actual}; refusing to load it",
                self.lock_path.display(),
                locked.digest
            );
        }
        let module = self.sandbox.load(&bytes, &locked.source, limits).await?;
        let mut pending = Pending {
            manifest_digest: locked.manifest_digest.clone(),
            signer: locked.signer.clone(),
            cache: None,
        };
        if !from_cache {
            let info = module.info();
            pending.cache = Some((
                Entry {
                    reference: locked.source.clone(),
                    manifest_digest: locked.manifest_digest.clone(),
                    digest: locked.digest.clone(),
                    name: info.name.clone(),
                    version: info.version.clone(),
                    signature: None,
                    capabilities: info.capabilities.clone(),
                },
                bytes,
            ));
        }
        Ok((module, pending))
    }

    /// The signer, if the module carries a signature by a trusted key (the spec's or the
    /// user's trust file's); an unsigned or wrongly signed module is refused unless
    /// `--allow-unsigned`.
    fn check_signature(
        &self,
        plugin: &str,
        reference: &ModuleRef,
        fetched: &Fetched,
        trusted: &[String],
    ) -> Result<Option<String>> {
        let mut trusted = trusted.to_vec();
        trusted.extend(user_trusted_keys(plugin)?);
        let problem = match &fetched.signature {
            Some(signature) => {
                match signing::verify(signature, &fetched.manifest_digest, &trusted) {
                    Ok(signer) => return Ok(Some(signer)),
                    Err(err) => err.to_string(),
                }
            }
            None => "it is not signed".to_string(),
        };
        if self.policy.allow_unsigned {
            self.events.event(Event::Warning {
                message: format!(
                    "provider {plugin} ({reference}): {problem}; loaded because of --allow-unsigned"
                ),
            });
            return Ok(None);
        }
        bail!(
            "provider {plugin} ({reference}) is refused: {problem}. List its publisher's key in \
             Providers.{plugin}.TrustedKeys (or {}), or pass --allow-unsigned",
            trust_file().display()
        )
    }
}

/// What goes beyond the last approval (`previous`): capabilities the module now declares
/// and grants the spec now gives; everything (`declared`, then `grants`) the first time.
fn new_since(
    previous: Option<&Locked>,
    info: &ProviderInfo,
    declared: &[String],
    grants: &[String],
) -> Vec<String> {
    match previous {
        Some(locked) => beyond(&locked.capabilities, &info.capabilities)
            .into_iter()
            .chain(
                grants
                    .iter()
                    .filter(|g| !locked.grants.contains(g))
                    .cloned(),
            )
            .collect(),
        None => declared.iter().chain(grants).cloned().collect(),
    }
}

/// Why the module from `source` with `digest` needs approving, given the last approval
/// (`previous`) and what is `new` since; none if it is approved as it is.
fn unapproved_because(
    previous: Option<&Locked>,
    source: &str,
    digest: &str,
    new: &[String],
    dir: &Path,
) -> Option<String> {
    Some(match previous {
        None => "is not approved yet".to_string(),
        Some(l) if !same_place(dir, &l.source, source) => {
            format!("now comes from {source} (approved: {})", l.source)
        }
        Some(l) if l.digest != digest => {
            format!("is a module rkit has not approved (approved: {})", l.digest)
        }
        Some(_) if new.is_empty() => return None,
        Some(_) => "now asks for or is given more than was approved".to_string(),
    })
}

/// Whether the module sources `a` and `b` name one place: the same text, or (files) the same
/// path once resolved against the spec's directory `dir` (a lock written before absolute
/// sources were kept as written says `../x.wasm` for `/x.wasm`).
fn same_place(dir: &Path, a: &str, b: &str) -> bool {
    a == b
        || (!ModuleRef::is_reference(a)
            && !ModuleRef::is_reference(b)
            && lexical(&dir.join(a)) == lexical(&dir.join(b)))
}

/// `path` with `.` and `..` resolved by their names (no file system lookup).
pub(super) fn lexical(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The approval's text: `heading`, then what the module asks for and what the spec gives it
/// (two lists: a host the module declares is reached only where the spec or its credentials
/// grant it), the lines in `marked` marked new, then the `notes`.
fn approval_text(
    heading: String,
    declared: &[String],
    grants: &[String],
    marked: &[String],
    notes: &[String],
) -> String {
    let mut text = heading;
    listed(&mut text, "It asks for:\n", declared, marked);
    listed(&mut text, "The spec gives it:\n", grants, marked);
    if declared.is_empty() && grants.is_empty() {
        text.push_str("It gets nothing beyond the sandbox's defaults.\n");
    }
    for note in notes {
        text.push_str(&format!("  ({note})\n"));
    }
    text
}

/// Appends `lines` under `heading` to `text` (nothing if there are none), each in `marked`
/// marked new.
fn listed(text: &mut String, heading: &str, lines: &[String], marked: &[String]) {
    if lines.is_empty() {
        return;
    }
    text.push_str(heading);
    for line in lines {
        let mark = if marked.contains(line) { "  (new)" } else { "" };
        text.push_str(&format!("  - {line}{mark}\n"));
    }
}

/// The user's trust file: `$RKIT_TRUST_FILE`, else `~/.config/rkit/trust.json`
/// (`{"TrustedKeys": {"PLUGIN": ["ed25519:…"], "*": [...]}}`, `*` for every provider).
fn trust_file() -> PathBuf {
    if let Some(path) = std::env::var_os("RKIT_TRUST_FILE") {
        return path.into();
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_default();
    config.join("rkit/trust.json")
}

/// The keys the user's trust file lists for `plugin` (and for every provider).
fn user_trusted_keys(plugin: &str) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct TrustFile {
        trusted_keys: std::collections::BTreeMap<String, Vec<String>>,
    }
    let path = trust_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => bail!("{}: {err}", path.display()),
    };
    let mut file: TrustFile =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut keys = file.trusted_keys.remove(plugin).unwrap_or_default();
    keys.extend(file.trusted_keys.remove("*").unwrap_or_default());
    Ok(keys)
}

/// `source` pinned to `manifest_digest` (`REPO[:TAG]@DIGEST`).
pub(super) fn pin(source: &str, manifest_digest: &str) -> String {
    let base = source.split_once('@').map_or(source, |(b, _)| b);
    format!("{base}@{manifest_digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_file_is_one_place_however_it_is_spelled() {
        let dir = Path::new("/srv/ops");
        assert!(same_place(dir, "../x/local.wasm", "/srv/x/local.wasm"));
        assert!(same_place(dir, "local.wasm", "./local.wasm"));
        assert!(!same_place(dir, "../y/local.wasm", "/srv/x/local.wasm"));
        assert!(!same_place(
            dir,
            "localhost:5000/p/local:1",
            "localhost:5000/p/local:2"
        ));
    }
}
