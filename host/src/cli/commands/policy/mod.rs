//! `rkit policy …`: check a spec or a saved plan against the policies alone, run the
//! policies' own tests, publish a signed bundle. One file per subcommand; here the dispatch.
//!
//! Invariant: what a policy says is escaped before it is shown (its messages may carry what
//! a provider read).

mod check;
mod publish;
mod test;

use crate::engine::Interrupt;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// Work with Rego policies.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a spec's plan, or a plan saved with `plan --out`, against the policies (the
    /// spec's, --policy, RKIT_POLICIES); exit 1 when one blocks.
    Check(Box<check::CheckArgs>),
    /// Run the policies' own `test_` rules, as `opa test` does.
    Test(test::TestArgs),
    /// Publish a directory of policies as a bundle to an OCI registry or a directory
    /// registry, signed when a key is given.
    Publish(publish::PublishArgs),
}

/// Runs the subcommand.
pub async fn exec(command: PolicyCommand, interrupt: &Interrupt) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check(args) => check::exec(*args, interrupt).await,
        PolicyCommand::Test(args) => test::exec(args, interrupt).await,
        PolicyCommand::Publish(args) => publish::exec(args, interrupt).await,
    }
}
