//! `rkit state push`: replace the state with a JSON file (from `state pull`). Refused when
//! it is of another lineage, older, or of the same serial with other contents (unless
//! `--force`); a push of what is there already writes nothing.

use crate::cli::args::{StateFlags, spec_and_names};
use crate::engine::Interrupt;
use crate::state::{State, StateStore};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use std::process::ExitCode;

/// Replace the state with a JSON file (from `state pull`): refused if it is of another
/// lineage, older, or of the same serial with other contents.
#[derive(Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub state: StateFlags,
    /// The spec (unless --state is given), then the state file to push.
    #[arg(value_name = "[SPEC] FILE", required = true)]
    pub args: Vec<String>,
    /// Push even another lineage, an older serial, or other contents under the state's
    /// own serial.
    #[arg(long)]
    pub force: bool,
}

/// `rkit state push`.
pub async fn exec(args: PushArgs, _: &Interrupt) -> Result<ExitCode> {
    let PushArgs {
        state: flags,
        args,
        force,
    } = args;
    let flags = &flags;
    let (spec, files) = spec_and_names(flags, args, 1, "the state file to push")?;
    let [file] = files.as_slice() else {
        bail!("state push takes one file");
    };
    let state_ref = flags.resolve(spec.as_deref())?;
    let bytes = std::fs::read(file).map_err(|e| anyhow!("{file}: cannot read it ({e})"))?;
    let pushed: State =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{file}: not an rkit state: {e}"))?;
    let mut store = StateStore::open_destination(&state_ref.location, &state_ref.keys)?;
    crate::state::check_push(&store.state, &pushed, file, force)
        .map_err(|e| anyhow!("{e} (the state {})", state_ref.location))?;
    if store.state.moved_to.is_none() && store.state == pushed {
        crate::outln!(
            "The state {} already is what {file} holds: nothing to push.",
            state_ref.location
        );
        return Ok(ExitCode::SUCCESS);
    }
    let count = pushed.resources.len();
    store.replace(pushed)?;
    crate::outln!(
        "Pushed {file} to the state {} ({count} resources, serial {}).",
        state_ref.location,
        store.state.serial
    );
    Ok(ExitCode::SUCCESS)
}
