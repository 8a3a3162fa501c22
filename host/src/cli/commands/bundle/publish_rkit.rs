//! `rkit bundle publish-rkit REF`: rkit's own binary (this one, or `--binary`) published to an
//! OCI registry, for the machines of a bootstrapped stack to install with curl. It prints the
//! reference pinned by digest, for the spec's `Bootstrap.Rkit` (so the signed bundle pins it).

use crate::engine::Interrupt;
use crate::registry::ModuleRef;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Publish rkit's binary for the stack's machines to install.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit bundle publish-rkit registry.example.com/ops/rkit:0.4\n  # prints registry.example.com/ops/rkit@sha256:…, for the spec's Bootstrap.Rkit"
)]
pub struct PublishRkitArgs {
    /// Where: HOST[:PORT]/REPO:TAG (a registry; a loopback one is spoken to over HTTP).
    pub reference: String,
    /// The binary to publish (default: this rkit). It must run on the machines.
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
}

/// Publishes the binary and prints its pinned reference.
pub async fn exec(args: PublishRkitArgs, _: &Interrupt) -> Result<ExitCode> {
    let reference = ModuleRef::parse(&args.reference)?;
    let path = match args.binary {
        Some(path) => path,
        None => std::env::current_exe().context("finding this rkit's binary")?,
    };
    let executable =
        std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let pinned = crate::registry::publish_rkit(
        &executable,
        std::env::consts::OS,
        std::env::consts::ARCH,
        &reference,
    )
    .await?;
    crate::outln!(
        "published {} ({} bytes, {}/{}) to {reference}",
        path.display(),
        executable.len(),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    crate::outln!("{pinned}");
    Ok(ExitCode::SUCCESS)
}
