//! Providers named by reference (`"Source": "localhost:5000/rkit/aws:0.1.0"`): the locked
//! module from the cache (refusing one whose digest is not the lock's), or, for a reference
//! not locked yet, the module fetched from its registry, its signature checked against the
//! spec's trusted keys, its capabilities approved, and the lock written.

use super::lock::{Lock, Locked, beyond, lock_path};
use crate::registry::cache::{Entry, ModuleCache};
use crate::registry::{self, Fetched, ModuleRef, sha256_digest, signing};
use crate::sandbox::{ProviderModule, Sandbox};
use crate::spi::ProviderInfo;
use anyhow::{Result, anyhow, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// What the user allows when providers are resolved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Approve requested capabilities without asking (`--yes`).
    pub yes: bool,
    /// Accept modules with no (or no trusted) signature (`--allow-unsigned`).
    pub allow_unsigned: bool,
}

/// Resolves references for one spec, keeping its lock.
pub struct Resolver<'a> {
    sandbox: &'a Sandbox,
    cache: ModuleCache,
    lock: Lock,
    lock_path: PathBuf,
    policy: Policy,
    /// The spec's directory: relative `file://` references start there.
    dir: PathBuf,
}

impl<'a> Resolver<'a> {
    /// A resolver for a spec in `dir`, with its lock (`dir/rkit.lock`).
    pub fn new(sandbox: &'a Sandbox, dir: &Path, policy: Policy) -> Result<Self> {
        let lock_path = lock_path(dir);
        Ok(Self {
            sandbox,
            cache: ModuleCache::default_location(),
            lock: Lock::load(&lock_path)?,
            lock_path,
            policy,
            dir: dir.to_path_buf(),
        })
    }

    /// The module `plugin`'s `source` names, as locked (or newly locked).
    pub async fn module(
        &mut self,
        plugin: &str,
        source: &str,
        trusted: &[String],
    ) -> Result<ProviderModule> {
        let reference = registry::relative_to(ModuleRef::parse(source)?, &self.dir);
        let locked = self
            .lock
            .providers
            .get(plugin)
            .filter(|l| l.source == source)
            .cloned();
        if let Some(locked) = locked {
            return self.locked(plugin, &reference, &locked).await;
        }
        let fetched = self.cache.fetch(&reference).await?;
        let signer = self.check_signature(plugin, &reference, &fetched, trusted)?;
        let module = self.sandbox.load(&fetched.module, source).await?;
        let info = module.info().clone();
        let approved = self
            .lock
            .providers
            .get(plugin)
            .map(|l| l.capabilities.clone())
            .unwrap_or_default();
        let new = beyond(&approved, &info.capabilities);
        if !new.is_empty() {
            self.approve(
                plugin,
                &reference,
                &info,
                &new,
                self.lock.providers.contains_key(plugin),
            )?;
        }
        let digest = sha256_digest(&fetched.module);
        self.cache.store(
            Entry {
                reference: source.to_string(),
                manifest_digest: fetched.manifest_digest.clone(),
                digest: digest.clone(),
                name: info.name.clone(),
                version: info.version.clone(),
                signature: fetched.signature.clone(),
                capabilities: info.capabilities.clone(),
            },
            &fetched.module,
        )?;
        self.lock.providers.insert(
            plugin.to_string(),
            Locked {
                source: source.to_string(),
                digest,
                manifest_digest: fetched.manifest_digest,
                version: info.version.clone(),
                signer,
                capabilities: info.capabilities.clone(),
            },
        );
        self.lock.save(&self.lock_path)?;
        Ok(module)
    }

    /// The locked module: from the cache, else fetched by its manifest digest; its sha256 must
    /// be the lock's.
    async fn locked(
        &self,
        plugin: &str,
        reference: &ModuleRef,
        locked: &Locked,
    ) -> Result<ProviderModule> {
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
        let module = self.sandbox.load(&bytes, &locked.source).await?;
        if !from_cache {
            let info = module.info();
            self.cache.store(
                Entry {
                    reference: locked.source.clone(),
                    manifest_digest: locked.manifest_digest.clone(),
                    digest: locked.digest.clone(),
                    name: info.name.clone(),
                    version: info.version.clone(),
                    signature: None,
                    capabilities: info.capabilities.clone(),
                },
                &bytes,
            )?;
        }
        let new = beyond(&locked.capabilities, &module.info().capabilities);
        if !new.is_empty() {
            bail!(
                "provider {plugin}: the locked module asks for more than was approved: {}",
                new.join(", ")
            );
        }
        Ok(module)
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
            eprintln!(
                "warning: provider {plugin} ({reference}): {problem}; loaded because of --allow-unsigned"
            );
            return Ok(None);
        }
        bail!(
            "provider {plugin} ({reference}) is refused: {problem}. List its publisher's key in \
             Providers.{plugin}.TrustedKeys (or {}), or pass --allow-unsigned",
            trust_file().display()
        )
    }

    /// Asks the user to approve `new` capabilities (or takes `--yes`).
    fn approve(
        &self,
        plugin: &str,
        reference: &ModuleRef,
        info: &ProviderInfo,
        new: &[String],
        upgrade: bool,
    ) -> Result<()> {
        let what = if upgrade {
            "now also asks for"
        } else {
            "asks for"
        };
        let text = format!(
            "provider {plugin} ({reference}, {} {}) {what}:\n{}",
            info.name,
            info.version,
            new.iter().map(|n| format!("  - {n}\n")).collect::<String>()
        );
        if self.policy.yes {
            eprintln!("{text}approved (--yes)");
            return Ok(());
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("{text}Approve? Only 'yes' will be accepted: ");
            std::io::stderr().flush()?;
            let mut answer = String::new();
            stdin.lock().read_line(&mut answer)?;
            if answer.trim() == "yes" {
                return Ok(());
            }
        }
        Err(anyhow!(
            "{}not approved: nothing was recorded in {}. Approve with `rkit init SPEC --yes` (or --yes)",
            text,
            self.lock_path.display()
        ))
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
fn pin(source: &str, manifest_digest: &str) -> String {
    let base = source.split_once('@').map_or(source, |(b, _)| b);
    format!("{base}@{manifest_digest}")
}
