//! `rkit state rekey`: seal the state again with its current key (the spec's
//! `State.Encryption.KeyFrom` or `--state-key-from`; none: decrypt it), reading it with the
//! old one. One compaction under the lock: the journal is folded into a snapshot sealed anew.

use crate::cli::args::StateFlags;
use crate::engine::Interrupt;
use crate::state::StateStore;
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Seal the state again with its current key (the spec's `State.Encryption.KeyFrom` or
/// --state-key-from; none: decrypt it), reading it with the old one.
#[derive(Args)]
pub struct RekeyArgs {
    /// The spec whose state to rekey.
    #[arg(required_unless_present = "state")]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateFlags,
    /// The key the state is sealed with now: `env:NAME`, `file:PATH`, or `none` (a state
    /// in the clear, to encrypt).
    #[arg(long, value_name = "env:NAME|file:PATH|none")]
    pub old_key_from: String,
}

/// `rkit state rekey`.
pub async fn exec(args: RekeyArgs, _: &Interrupt) -> Result<ExitCode> {
    let state_ref = args.state.resolve(args.spec.as_deref())?;
    let keys = state_ref.keys.clone().with_old(&args.old_key_from)?;
    let mut store = StateStore::open_existing(&state_ref.location, &keys)?;
    store.compact()?;
    match &keys.current {
        Some(key) => crate::outln!(
            "The state {} is sealed with the key from {} (key {}).",
            state_ref.location,
            escape(&key.from),
            key.id
        ),
        None => crate::outln!("The state {} is now in the clear.", state_ref.location),
    }
    Ok(ExitCode::SUCCESS)
}
