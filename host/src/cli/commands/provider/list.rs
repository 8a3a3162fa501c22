//! `rkit provider list`: the cached providers with their reference, digests, signer and
//! capabilities.

use crate::engine::Interrupt;
use crate::registry::cache::ModuleCache;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// List the cached providers: reference, digests, signer, capabilities.
#[derive(Args)]
pub struct ListArgs {}

/// Lists the cached providers.
pub async fn exec(_: ListArgs, _: &Interrupt) -> Result<ExitCode> {
    let cache = ModuleCache::default_location();
    let entries = cache.entries();
    if entries.is_empty() {
        crate::outln!("no providers cached");
    }
    for entry in &entries {
        crate::outln!("{}", entry.reference);
        super::print_entry(entry, &cache);
    }
    Ok(ExitCode::SUCCESS)
}
