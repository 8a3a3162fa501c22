//! `rkit bundle pull DIR --state LOCATION --trust KEY`: the stack's bundle, its signature
//! checked, unpacked under DIR (as `converge --follow-bundle` does); prints the spec's path.

use crate::bundle::Followed;
use crate::cli::args::StateFlags;
use crate::engine::Interrupt;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Fetch, check and unpack the stack's bundle.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit bundle pull /var/lib/rkit --state s3://acme-rkit/web.json --trust ops.pub"
)]
pub struct PullArgs {
    /// Where to unpack it (each version in a directory of its own below).
    pub dir: PathBuf,
    #[command(flatten)]
    pub state: StateFlags,
    /// A key whose signature is trusted: `ed25519:BASE64` or a `.pub` file (repeatable).
    #[arg(long, required = true, value_name = "KEY")]
    pub trust: Vec<String>,
}

/// Fetches, checks and unpacks the bundle.
pub async fn exec(args: PullArgs, _: &Interrupt) -> Result<ExitCode> {
    let trusted = super::trusted_keys(&args.trust)?;
    let (location, _) = args.state.choose(None)?;
    let found = crate::bundle::follow(&location, &trusted, &args.dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let unpacked = match found {
        Followed::Missing => {
            bail!("no bundle beside the state {location} (push one with rkit bundle push)")
        }
        Followed::Same(unpacked) => unpacked,
        Followed::New(opened, unpacked) => {
            crate::bundle::commit(&opened, &unpacked, &args.dir, None)?;
            unpacked
        }
    };
    if let Some(mark) = crate::bundle::fetch(&location)
        .ok()
        .flatten()
        .and_then(|stored| crate::bundle::destroyed_mark(&stored))
    {
        crate::errln!(
            "warning: the stack was destroyed ({}): the machines only observe until someone \
             applies it again",
            crate::text::escape(&mark)
        );
    }
    crate::outln!(
        "{}",
        crate::text::escape(&unpacked.spec.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}
