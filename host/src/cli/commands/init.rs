//! `rkit init`: resolve the spec's providers (fetch those named by reference, check
//! signatures), approve what every module asks for and is given, and write `rkit.lock`.

use crate::cli::args::SpecArgs;
use crate::cli::session::session;
use crate::cli::ui::Mode;
use crate::engine::{Interrupt, Lock, lock_path};
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Resolve the spec's providers: fetch those named by reference, check signatures, approve
/// what every module asks for and is given, and write `rkit.lock`.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit init stack.json --approve   # fetch, verify and approve the providers once",
    mut_arg("state", |a| a.hide(true)),
    mut_arg("state_key_from", |a| a.hide(true)),
    mut_arg("lock_timeout", |a| a.hide(true)),
    mut_arg("parallelism", |a| a.hide(true))
)]
pub struct InitArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// Opens a session (which resolves and approves the providers) and prints the lock.
pub async fn exec(args: InitArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let session = session(&args.spec, Mode::Human, interrupt).await?;
    let path = lock_path(session.spec().dir());
    let lock = Lock::load(&path)?;
    if lock.providers.is_empty() {
        crate::outln!("the spec uses no provider: nothing to lock");
        return Ok(ExitCode::SUCCESS);
    }
    for (plugin, locked) in &lock.providers {
        crate::outln!(
            "{plugin}: {} {} ({}), {}",
            locked.source,
            escape(&locked.version),
            locked.digest,
            match (&locked.signer, locked.manifest_digest.is_empty()) {
                (Some(s), _) => format!("signed by {s}"),
                (None, true) => "a module file".to_string(),
                (None, false) => "unsigned".to_string(),
            }
        );
    }
    crate::outln!(
        "{}: providers resolved, approved and locked",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
