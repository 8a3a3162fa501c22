//! `rkit state …`: read the recorded state, change it without a text editor, move it between
//! places (a file, S3), copy it out and back in, and change the key it is sealed with. One
//! file per subcommand; here the dispatch and what they share.
//!
//! Invariants: every command that writes takes the state's lock (both states' for a
//! migration) and writes through the store (journal or snapshot, sealed when the state is
//! encrypted); a state moved away is replaced by a marker naming where it went, so that the
//! old place is never used again by mistake; a push never replaces a state by an older one of
//! its history or by another history without `--force`. Reading needs no lock.

mod list;
mod migrate;
mod mv;
mod new_key;
mod pull;
mod push;
mod rekey;
mod rm;
mod show;

use crate::cli::args::{StateFlags, state_and_names};
use crate::engine::Interrupt;
use crate::state::{State, StateRef, StateStore};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Read the recorded state, or change it without a text editor.
#[derive(Subcommand)]
pub enum StateCommand {
    /// List the recorded resources.
    List(list::ListArgs),
    /// Show one recorded resource.
    Show(show::ShowArgs),
    /// Forget resources: the state stops recording them and their objects are left as they
    /// are (kept out of the orphan scan).
    Rm(rm::RmArgs),
    /// Rename a recorded resource (after renaming it in the spec).
    Mv(mv::MvArgs),
    /// Print the whole state as JSON (decrypted), e.g. to keep a copy or edit it and push it.
    Pull(pull::PullArgs),
    /// Replace the state with a JSON file (from `state pull`): refused if it is of another
    /// lineage, older, or of the same serial with other contents.
    Push(push::PushArgs),
    /// Move the state to another place (a file or `s3://BUCKET/KEY`); the old place keeps
    /// only where it went, so that it is never used again by mistake.
    Migrate(migrate::MigrateArgs),
    /// Seal the state again with its current key (the spec's `State.Encryption.KeyFrom` or
    /// --state-key-from; none: decrypt it), reading it with the old one.
    Rekey(rekey::RekeyArgs),
    /// Make a new random key for encrypting a state (32 bytes, base64).
    NewKey(new_key::NewKeyArgs),
}

/// Runs the subcommand.
pub async fn exec(command: StateCommand, interrupt: &Interrupt) -> Result<ExitCode> {
    match command {
        StateCommand::List(args) => list::exec(args, interrupt).await,
        StateCommand::Show(args) => show::exec(args, interrupt).await,
        StateCommand::Rm(args) => rm::exec(args, interrupt).await,
        StateCommand::Mv(args) => mv::exec(args, interrupt).await,
        StateCommand::Pull(args) => pull::exec(args, interrupt).await,
        StateCommand::Push(args) => push::exec(args, interrupt).await,
        StateCommand::Migrate(args) => migrate::exec(args, interrupt).await,
        StateCommand::Rekey(args) => rekey::exec(args, interrupt).await,
        StateCommand::NewKey(args) => new_key::exec(args, interrupt).await,
    }
}

/// `SPEC NAME…`, or `--state FILE NAME…`.
#[derive(Args)]
pub struct StateNames {
    #[command(flatten)]
    pub state: StateFlags,
    /// The spec (unless --state is given), then the resource names.
    #[arg(value_name = "[SPEC] NAME", required = true)]
    pub args: Vec<String>,
}

/// Which state to read: the spec's default, or `--state`.
#[derive(Args)]
pub struct StateArgs {
    /// The spec whose state to read.
    #[arg(required_unless_present = "state")]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateFlags,
}

/// The state `args` name, read without its lock (the snapshot is replaced atomically and
/// the journal replayed).
fn read(args: &StateArgs) -> Result<(StateRef, State)> {
    let state_ref = args.state.resolve(args.spec.as_deref())?;
    let state = StateStore::read_only(&state_ref.location, &state_ref.keys)?;
    Ok((state_ref, state))
}

/// The state and resource names of `state show|rm|mv`.
fn names(names: &StateNames) -> Result<(StateRef, Vec<String>)> {
    state_and_names(&names.state, names.args.clone(), 1, "the resource names")
}
