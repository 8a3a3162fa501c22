//! `rkit validate`: check a spec (syntax, references, cycles) and every resource through its
//! provider. Changes nothing: no state is written, no object touched.

use crate::cli::args::SpecArgs;
use crate::cli::session::session;
use crate::cli::ui::Mode;
use crate::engine::Interrupt;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Check a spec: syntax, references, cycles, and every resource through its provider.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit validate stack.json\n  rkit validate stack.json --var-file prod.json",
    mut_arg("state", |a| a.hide(true)),
    mut_arg("state_key_from", |a| a.hide(true)),
    mut_arg("lock_timeout", |a| a.hide(true)),
    mut_arg("parallelism", |a| a.hide(true))
)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// Validates the spec through its providers.
pub async fn exec(args: ValidateArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let args = &args.spec;
    let session = session(args, Mode::Human, interrupt).await?;
    session.validate().await?;
    crate::outln!(
        "{}: valid ({} resources)",
        args.spec.display(),
        session.spec().spec.resources.len()
    );
    Ok(ExitCode::SUCCESS)
}
