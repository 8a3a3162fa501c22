//! `rkit state show`: one recorded resource as JSON (sensitive values masked unless
//! `--show-sensitive`).

use super::{StateNames, names};
use crate::engine::{Interrupt, shown_resource};
use crate::state::StateStore;
use crate::text::escape_json;
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Show one recorded resource.
#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub names: StateNames,
    /// Show sensitive values instead of `(sensitive)`.
    #[arg(long)]
    pub show_sensitive: bool,
}

/// `rkit state show`.
pub async fn exec(args: ShowArgs, _: &Interrupt) -> Result<ExitCode> {
    let reveal = args.show_sensitive;
    let (state_ref, names) = names(&args.names)?;
    let state = StateStore::read_only(&state_ref.location, &state_ref.keys)?;
    for name in names {
        let Some(r) = state.resources.get(&name) else {
            bail!(
                "the state {} records no resource {name:?}",
                state_ref.location
            );
        };
        let shown = shown_resource(r, reveal);
        // Through a tree: what the state holds as compact text is indented too.
        let shown = serde_json::to_value(&shown)?;
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&shown)?));
    }
    Ok(ExitCode::SUCCESS)
}
