//! `rkit force-unlock`: release the lease of a shared state (in S3) that its holder left
//! behind. The holder is fenced first, so its next write fails instead of landing.

use crate::cli::args::{StateFlags, spec_and_names};
use crate::engine::Interrupt;
use crate::state::Location;
use crate::text::escape;
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Release the lock of a shared state (in S3) that its holder left behind; its holder's
/// next write fails instead of landing.
#[derive(Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub state: StateFlags,
    /// The spec (unless --state is given), then the lock ID the lock error showed.
    #[arg(value_name = "[SPEC] LOCK_ID", required = true)]
    pub args: Vec<String>,
}

/// `rkit force-unlock`: releases a shared state's lease left behind (and fences its holder).
pub async fn exec(args: ForceUnlockArgs, _: &Interrupt) -> Result<ExitCode> {
    let ForceUnlockArgs { state, args } = args;
    let (spec, ids) = spec_and_names(&state, args, 1, "the lock ID")?;
    let (location, _) = state.choose(spec.as_deref())?;
    let [id] = ids.as_slice() else {
        bail!("force-unlock takes one lock ID");
    };
    match &location {
        Location::S3(s3) => {
            let lease = crate::state::s3::force_unlock(s3, id)?;
            crate::outln!(
                "unlocked {location}: lock {} was held by {}; a write by that run now fails",
                escape(&lease.id),
                escape(&lease.holder)
            );
            Ok(ExitCode::SUCCESS)
        }
        Location::File(_) => bail!(
            "the state {location} is a file, locked with an OS lock that is released when its \
             holder exits: there is nothing to force"
        ),
    }
}
