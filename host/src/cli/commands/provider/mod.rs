//! `rkit provider …`: inspect, publish, fetch, list and start provider modules. One file per
//! subcommand; here the dispatch and what they share (the sandbox they load modules in, how
//! a cached module is shown).
//!
//! Invariant: every module these commands load is loaded granted nothing; what a provider
//! says about itself is escaped before it is shown.

mod inspect;
mod keygen;
mod list;
mod new;
mod publish;
mod pull;

use crate::engine::Interrupt;
use crate::registry::cache::{Entry, ModuleCache};
use crate::sandbox::{ComponentCache, Sandbox};
use crate::spi::Capabilities;
use crate::text::escape;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// Work with provider modules.
#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Print a provider's name, version, resource types with their property schemas, and the
    /// capabilities it asks for.
    Inspect(inspect::InspectArgs),
    /// Publish a provider module to an OCI registry (`host[:port]/repo:tag`) or a directory
    /// registry (`file://DIR:tag`, or `repo:tag` in the default one).
    Publish(publish::PublishArgs),
    /// Fetch a provider into the local cache (by digest: from the cache, offline).
    Pull(pull::PullArgs),
    /// Make an ed25519 key pair for signing: writes NAME.key (secret) and NAME.pub.
    Keygen(keygen::KeygenArgs),
    /// List the cached providers: reference, digests, signer, capabilities.
    List(list::ListArgs),
    /// Write a new provider to start from (one resource type, a test, the build command, a
    /// spec using it) into a new directory NAME.
    New(new::NewArgs),
}

/// Runs the subcommand.
pub async fn exec(command: ProviderCommand, interrupt: &Interrupt) -> Result<ExitCode> {
    match command {
        ProviderCommand::Inspect(args) => inspect::exec(args, interrupt).await,
        ProviderCommand::Publish(args) => publish::exec(args, interrupt).await,
        ProviderCommand::Pull(args) => pull::exec(args, interrupt).await,
        ProviderCommand::Keygen(args) => keygen::exec(args, interrupt).await,
        ProviderCommand::List(args) => list::exec(args, interrupt).await,
        ProviderCommand::New(args) => new::exec(args, interrupt).await,
    }
}

/// The sandbox modules are loaded in (its compiled-component cache in the default place).
fn sandbox() -> Result<Sandbox> {
    Sandbox::new(ComponentCache::default_dir().as_deref())
}

/// Shows a cached module: provider, digests, signer, capabilities.
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
fn capabilities(c: &Capabilities) -> String {
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
    if !c.resource_types.is_empty() {
        parts.push(format!(
            "Cloud Control resource types {}",
            c.resource_types.join(", ")
        ));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}
