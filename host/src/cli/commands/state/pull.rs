//! `rkit state pull`: the whole state as JSON (decrypted; sensitive values included, as in
//! the state itself), to keep a copy or to edit and push back.

use super::{StateArgs, read};
use crate::engine::Interrupt;
use crate::text::escape_json;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Print the whole state as JSON (decrypted), e.g. to keep a copy or edit it and push it.
#[derive(Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub which: StateArgs,
}

/// `rkit state pull`: the whole state as JSON (decrypted; sensitive values included, as in
/// the state itself).
pub async fn exec(args: PullArgs, _: &Interrupt) -> Result<ExitCode> {
    let (_, state) = read(&args.which)?;
    crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&state)?));
    Ok(ExitCode::SUCCESS)
}
