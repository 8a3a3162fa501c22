//! `rkit state mv`: rename a recorded resource (after renaming it in the spec), in one
//! journaled change.

use super::{StateNames, names};
use crate::engine::Interrupt;
use crate::state::{Change, StateStore};
use crate::text::escape;
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Rename a recorded resource (after renaming it in the spec).
#[derive(Args)]
pub struct MvArgs {
    #[command(flatten)]
    pub names: StateNames,
}

/// `rkit state mv`.
pub async fn exec(args: MvArgs, _: &Interrupt) -> Result<ExitCode> {
    let (state_ref, names) = names(&args.names)?;
    let path = &state_ref.location;
    let [from, to] = names.as_slice() else {
        bail!("state mv takes two names: the recorded one and the new one");
    };
    let mut store = StateStore::open_existing(path, &state_ref.keys)?;
    if !store.state.resources.contains_key(from) {
        bail!("the state {path} records no resource {from:?}");
    }
    if store.state.resources.contains_key(to) {
        bail!("the state {path} already records a resource {to:?}");
    }
    store.change(from, Change::MovedTo(to.clone()))?;
    store.compact()?;
    crate::outln!("{} is now recorded as {}", escape(from), escape(to));
    Ok(ExitCode::SUCCESS)
}
