//! `rkit bundle …`: the spec of record beside the stack's state, signed by the operator; the
//! machines that converge the stack follow it (`rkit converge --follow-bundle`). One file per
//! subcommand; here the dispatch.

mod publish_rkit;
mod pull;
pub mod push;

use crate::engine::Interrupt;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// Work with the stack's bundle: its spec of record, kept beside its state.
#[derive(Subcommand)]
pub enum BundleCommand {
    /// Sign the spec with what it needs (rkit.lock, parameter files, local policies and
    /// modules) and store it beside the stack's state, replacing the bundle there.
    Push(push::PushArgs),
    /// Fetch the stack's bundle, check its signature, and unpack it into a directory.
    Pull(pull::PullArgs),
    /// Publish rkit's own binary to a registry, for the stack's machines to install (prints
    /// the pinned reference for the spec's `Bootstrap.Rkit`).
    PublishRkit(publish_rkit::PublishRkitArgs),
}

/// Runs the subcommand.
pub async fn exec(command: BundleCommand, interrupt: &Interrupt) -> Result<ExitCode> {
    match command {
        BundleCommand::Push(args) => push::exec(args, interrupt).await,
        BundleCommand::Pull(args) => pull::exec(args, interrupt).await,
        BundleCommand::PublishRkit(args) => publish_rkit::exec(args, interrupt).await,
    }
}

/// The keys `--trust` gives: each `ed25519:BASE64`, or a file holding one (`.pub`).
pub fn trusted_keys(given: &[String]) -> Result<Vec<String>> {
    given
        .iter()
        .map(|t| {
            if t.starts_with("ed25519:") {
                crate::registry::signing::parse_public(t)
                    .map_err(|e| anyhow::anyhow!("--trust: {e}"))?;
                return Ok(t.clone());
            }
            let text = std::fs::read_to_string(t).map_err(|e| {
                anyhow::anyhow!(
                    "--trust {t}: neither a key (ed25519:…) nor a readable key file: {e}"
                )
            })?;
            crate::registry::signing::parse_public(text.trim())
                .map_err(|e| anyhow::anyhow!("--trust {t}: {e}"))?;
            Ok(text.trim().to_string())
        })
        .collect()
}
