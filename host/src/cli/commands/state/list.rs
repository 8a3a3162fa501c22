//! `rkit state list`: the recorded resources, one per line (name, provider and type, ID).

use super::{StateArgs, read};
use crate::engine::Interrupt;
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// List the recorded resources.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub which: StateArgs,
}

/// `rkit state list`.
pub async fn exec(args: ListArgs, _: &Interrupt) -> Result<ExitCode> {
    let (_, state) = read(&args.which)?;
    for (name, r) in &state.resources {
        crate::outln!(
            "{}\t{} {}\t{}",
            escape(name),
            escape(&r.plugin),
            escape(&r.type_name),
            escape(r.id())
        );
    }
    Ok(ExitCode::SUCCESS)
}
