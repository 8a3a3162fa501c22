//! `rkit state rm`: forget resources. The state stops recording them; their objects are left
//! as they are and kept out of the orphan scan (their keys are recorded as forgotten).

use super::{StateNames, names};
use crate::engine::Interrupt;
use crate::state::{Change, StateStore};
use crate::text::escape;
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Forget resources: the state stops recording them and their objects are left as they
/// are (kept out of the orphan scan).
#[derive(Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub names: StateNames,
}

/// `rkit state rm`.
pub async fn exec(args: RmArgs, _: &Interrupt) -> Result<ExitCode> {
    let (state_ref, names) = names(&args.names)?;
    let path = &state_ref.location;
    let mut store = StateStore::open_existing(path, &state_ref.keys)?;
    for name in &names {
        if !store.state.resources.contains_key(name) {
            bail!("the state {path} records no resource {name:?}");
        }
    }
    for name in &names {
        let r = store.state.resources[name].clone();
        let key = crate::state::forgotten_key(&r.plugin, &r.type_name, r.id());
        store.change(name, Change::Forgotten(key))?;
        crate::outln!(
            "{}: forgotten; its object {} is left as it is",
            escape(name),
            escape(r.id())
        );
    }
    store.compact()?;
    Ok(ExitCode::SUCCESS)
}
