//! `rkit provider pull`: fetch a provider into the local cache (by digest: from the cache,
//! offline), loading it (granted nothing) before it is stored.

use crate::engine::Interrupt;
use crate::registry::ModuleRef;
use crate::registry::cache::{Entry, ModuleCache};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Fetch a provider into the local cache (by digest: from the cache, offline).
#[derive(Args)]
pub struct PullArgs {
    /// `host[:port]/repo:tag`, `…@sha256:HEX`, `file://DIR:tag`.
    pub reference: String,
}

/// Fetches `reference` into the cache (a digest the cache holds needs no network).
pub async fn exec(args: PullArgs, _: &Interrupt) -> Result<ExitCode> {
    let reference = args.reference.as_str();
    let parsed = ModuleRef::parse(reference)?;
    let cache = ModuleCache::default_location();
    let fetched = cache.fetch(&parsed).await?;
    let module = super::sandbox()?
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
    super::print_entry(&entry, &cache);
    Ok(ExitCode::SUCCESS)
}
