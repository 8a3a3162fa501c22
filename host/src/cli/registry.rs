//! `rkit provider publish | pull | keygen | list`.

use crate::registry::cache::{Entry, ModuleCache};
use crate::registry::{self, ModuleRef, sha256_digest, signing};
use crate::sandbox::{ComponentCache, Sandbox};
use crate::spi::Capabilities;
use crate::text::escape;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;

fn sandbox() -> Result<Sandbox> {
    Sandbox::new(ComponentCache::default_dir().as_deref())
}

/// Publishes `module` at `reference`, signed with `key` if given.
pub async fn publish(module: &Path, reference: &str, key: Option<&Path>) -> Result<ExitCode> {
    let bytes = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let loaded = sandbox()?
        .load(
            &bytes,
            &module.display().to_string(),
            &crate::sandbox::Grants::default(),
        )
        .await?;
    let info = loaded.info();
    let key = key.map(signing::read_secret).transpose()?;
    let reference = ModuleRef::parse(reference)?;
    let manifest =
        registry::publish(&bytes, &info.name, &info.version, &reference, key.as_ref()).await?;
    crate::outln!("published {} {} to {reference}", info.name, info.version);
    crate::outln!("  manifest: {manifest}");
    crate::outln!("  module:   {}", sha256_digest(&bytes));
    if let Some(key) = &key {
        crate::outln!("  signed by {}", signing::public_text(&key.verifying_key()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Fetches `reference` into the cache (a digest the cache holds needs no network).
pub async fn pull(reference: &str) -> Result<ExitCode> {
    let parsed = ModuleRef::parse(reference)?;
    let cache = ModuleCache::default_location();
    let fetched = cache.fetch(&parsed).await?;
    let module = sandbox()?
        .load(
            &fetched.module,
            reference,
            &crate::sandbox::Grants::default(),
        )
        .await?;
    let entry = Entry::of(reference, &fetched, module.info());
    cache.store(entry.clone(), &fetched.module)?;
    let from = if fetched.from_cache {
        " (from the cache, offline)"
    } else {
        ""
    };
    crate::outln!("pulled {reference}{from}");
    print_entry(&entry, &cache);
    Ok(ExitCode::SUCCESS)
}

/// Makes a key pair at `name`.key / `name`.pub.
pub fn keygen(name: &Path) -> Result<ExitCode> {
    let public = signing::keygen(name)?;
    crate::outln!(
        "secret key: {} (keep it private)",
        name.with_extension("key").display()
    );
    crate::outln!(
        "public key: {} = {public}",
        name.with_extension("pub").display()
    );
    crate::outln!("trust it in a spec with \"TrustedKeys\": [\"{public}\"]");
    Ok(ExitCode::SUCCESS)
}

/// Lists the cached providers.
pub fn list() -> Result<ExitCode> {
    let cache = ModuleCache::default_location();
    let entries = cache.entries();
    if entries.is_empty() {
        crate::outln!("no providers cached");
    }
    for entry in &entries {
        crate::outln!("{}", entry.reference);
        print_entry(entry, &cache);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_entry(entry: &Entry, cache: &ModuleCache) {
    crate::outln!(
        "  provider:     {} {}",
        escape(&entry.name),
        escape(&entry.version)
    );
    crate::outln!("  manifest:     {}", entry.manifest_digest);
    crate::outln!(
        "  module:       {} ({})",
        entry.digest,
        cache.module_path(&entry.digest).display()
    );
    let signer = match &entry.signature {
        Some(s) => format!(
            "{} (checked against TrustedKeys when a spec uses it)",
            s.public_key
        ),
        None => "unsigned".to_string(),
    };
    crate::outln!("  signer:       {signer}");
    crate::outln!(
        "  capabilities: {}",
        escape(&capabilities(&entry.capabilities))
    );
}

/// One line for what a provider asks for.
pub fn capabilities(c: &Capabilities) -> String {
    let mut parts = Vec::new();
    if !c.http_hosts.is_empty() {
        parts.push(format!("HTTP to {}", c.http_hosts.join(", ")));
    }
    if c.filesystem {
        parts.push("a host directory".into());
    }
    if c.memory_mib > 0 {
        parts.push(format!("{} MiB", c.memory_mib));
    }
    if !c.credentials.is_empty() {
        parts.push(format!("{} credentials", c.credentials.join(", ")));
    }
    if !c.api_actions.is_empty() {
        parts.push(format!("API actions {}", c.api_actions.join(", ")));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}
