//! `rkit provider publish`: push a provider module to an OCI registry or a directory
//! registry, its manifest signed when a key is given. The module is loaded (granted
//! nothing) first, so what is published is a provider and its name and version are its own.

use crate::engine::Interrupt;
use crate::registry::{self, ModuleRef, sha256_digest, signing};
use anyhow::Context as _;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Publish a provider module to an OCI registry (`host[:port]/repo:tag`) or a directory
/// registry (`file://DIR:tag`, or `repo:tag` in the default one).
#[derive(Args)]
pub struct PublishArgs {
    /// The provider component (.wasm).
    pub module: PathBuf,
    /// Where to publish it.
    pub reference: String,
    /// Sign the manifest with this secret key (from `rkit provider keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// Publishes `module` at `reference`, signed with `key` if given.
pub async fn exec(args: PublishArgs, _: &Interrupt) -> Result<ExitCode> {
    let (module, reference, key) = (&args.module, &args.reference, args.sign.as_deref());
    let bytes = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let loaded = super::sandbox()?
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
