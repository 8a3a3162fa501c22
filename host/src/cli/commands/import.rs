//! `rkit import`: record an existing object as a resource of the spec (read through its
//! provider, recorded, tagged as the stack's); the next plan shows how it differs.

use crate::cli::args::SpecArgs;
use crate::cli::session::session;
use crate::cli::ui::Mode;
use crate::engine::Interrupt;
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Record an existing object as a resource of the spec: read through its provider,
/// recorded, and tagged as the stack's. The next plan shows how it differs from the spec.
#[derive(Args)]
#[command(after_help = "Example:\n  rkit import stack.json Network vpc-0abc1234")]
pub struct ImportArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The resource's name in the spec.
    pub name: String,
    /// The object's ID (as its provider spells it: `vpc-0abc…`, a path, …).
    pub id: String,
}

/// Imports the object and says what was recorded.
pub async fn exec(args: ImportArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let session = session(&args.spec, Mode::Human, interrupt).await?;
    let record = session.import(&args.name, &args.id).await?;
    crate::outln!(
        "{}: imported {} ({} {}); `rkit plan` shows how it differs from the spec",
        escape(&args.name),
        escape(record.id()),
        escape(&record.plugin),
        escape(&record.type_name)
    );
    Ok(ExitCode::SUCCESS)
}
