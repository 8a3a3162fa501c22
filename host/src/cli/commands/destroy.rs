//! `rkit destroy`: delete everything the state records, dependents first, and every other
//! object carrying this stack's tags (found even with the state lost), unless
//! `--no-orphans`.

use crate::cli::args::SpecArgs;
use crate::cli::session::{Run, check_json, execute, session};
use crate::cli::ui::Mode;
use crate::engine::{DestroyOptions, Interrupt};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Delete everything the state records, dependents first, and every other object carrying
/// this stack's tags (even with the state lost).
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit destroy stack.json\n  rkit destroy stack.json --yes --no-orphans   # only what the state records"
)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Destroy without asking (capabilities still need approval: --approve).
    #[arg(long)]
    pub yes: bool,
    /// Leave alone the objects carrying this stack's tags that the state does not record
    /// (by default they are looked for, one `list` per type in use, and deleted too).
    #[arg(long)]
    pub no_orphans: bool,
    /// Look for those objects too (the default; as `plan --orphans`).
    #[arg(long, overrides_with = "no_orphans")]
    pub orphans: bool,
    /// Report as JSON, one object per line (needs --yes: rkit cannot ask).
    #[arg(long)]
    pub json: bool,
}

/// Plans the deletion, shows it, asks unless `--yes`, and destroys.
pub async fn exec(args: DestroyArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    check_json(args.json, args.yes, "destroy")?;
    let mode = Mode::of(args.json);
    let mut session = session(&args.spec, mode, interrupt).await?;
    let options = DestroyOptions {
        orphans: !args.no_orphans,
    };
    let plan = session.destroy_plan(&options).await?;
    let run = Run {
        verb: "Destroy",
        yes: args.yes,
        mode,
        parallelism: args.spec.parallelism,
    };
    let code = execute(&mut session, plan, &run).await?;
    if code == ExitCode::SUCCESS {
        mark_the_bundle(&session, mode);
    }
    Ok(code)
}

/// Marks the stack's bundle, if one is stored beside the state, as destroyed (the state is
/// marked by the destroy itself); a failure to is a warning: the stack is destroyed.
fn mark_the_bundle(session: &crate::engine::Session, mode: Mode) {
    let location = session.state_location();
    let note = format!(
        "by {}, {}",
        crate::engine::who(),
        crate::duration::rfc3339(crate::state::now())
    );
    match crate::bundle::mark_destroyed(&location, &note) {
        Ok(true) if mode == Mode::Human => {
            crate::outln!(
                "the bundle beside {location} is marked destroyed ({})",
                crate::text::escape(&note)
            )
        }
        Ok(_) => {}
        Err(e) => {
            crate::errln!("warning: could not mark the bundle beside {location} destroyed: {e:#}")
        }
    }
}
