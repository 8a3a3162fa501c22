//! `rkit plan`: show what `apply` would do; optionally save it (`--out`) for `rkit apply
//! FILE`, or exit 2 when changes are pending (`--detailed-exitcode`); exit 1 when a policy
//! blocks it. Changes nothing but
//! settling intents an earlier run left open.

use crate::cli::args::{FocusArgs, SpecArgs};
use crate::cli::session::{session, show_plan};
use crate::cli::ui::{self, Mode};
use crate::engine::{DestroyOptions, Interrupt, Plan, PlanFile, PlanOptions, Session};
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Show what apply would do.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit plan stack.json\n  rkit plan stack.json --out plan.json && rkit apply plan.json\n  rkit plan stack.json --target Web --replace 'Web[0]'\n  rkit plan stack.json --detailed-exitcode   # exit 2 when changes are pending"
)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Report as JSON, one object per line: a `planned_change` per change, a
    /// `change_summary`, and the whole `plan`.
    #[arg(long)]
    pub json: bool,
    /// Save the plan, for `rkit apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Read every recorded resource back first, to see drift.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Exit 2 when changes are pending (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Look for objects carrying this stack's tags that the state does not record (one
    /// `list` per type in use) and plan to delete them.
    #[arg(long)]
    pub orphans: bool,
    /// Plan deleting everything the state records (what `destroy` would do).
    #[arg(long)]
    pub destroy: bool,
    /// Show sensitive values instead of `(sensitive)`.
    #[arg(long)]
    pub show_sensitive: bool,
    #[command(flatten)]
    pub focus: FocusArgs,
}

/// Plans, shows the plan, and saves it when asked.
pub async fn exec(args: PlanArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let mode = Mode::of(args.json);
    let mut session = session(&args.spec, mode, interrupt).await?;
    let plan = if args.destroy {
        let options = DestroyOptions {
            orphans: args.orphans,
        };
        session.destroy_plan(&options).await?
    } else {
        session.validate().await?;
        let options = plan_options(&args.spec, args.refresh, args.orphans, &args.focus, "plan");
        session.plan(&options).await?
    };
    show_plan(mode, &plan, "plan", args.show_sensitive);
    show_whole(&session, mode, &plan, args.show_sensitive);
    if let Some(out) = &args.out {
        save(&session, &plan, out, mode)?;
    }
    if plan.policy.as_ref().is_some_and(|c| !c.verdict.passed()) {
        // A plan that cannot be applied fails the step that made it (as a CI check).
        return Ok(ExitCode::from(1));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The engine's options for planning the spec as the flags ask (`plan` and `apply`).
pub fn plan_options(
    spec: &SpecArgs,
    refresh: bool,
    orphans: bool,
    focus: &FocusArgs,
    operation: &'static str,
) -> PlanOptions {
    PlanOptions {
        refresh,
        parallelism: spec.parallelism.into(),
        orphans,
        focus: focus.focus(),
        operation,
    }
}

/// With `--json` the whole plan as one line; else how many HTTP requests refreshing made.
fn show_whole(session: &Session, mode: Mode, plan: &Plan, reveal: bool) {
    match mode {
        Mode::Json => ui::line(
            "info",
            "the plan",
            &serde_json::json!({"type": "plan", "plan": plan.shown(reveal)}),
        ),
        Mode::Human => {
            for (plugin, n) in session.http_requests() {
                crate::outln!("{plugin}: {n} HTTP requests (refresh)");
            }
        }
    }
}

/// Saves `plan` to `out` for `rkit apply FILE`.
fn save(session: &Session, plan: &Plan, out: &std::path::Path, mode: Mode) -> Result<()> {
    let file = PlanFile::new(session, plan);
    std::fs::write(out, file.to_bytes()?)
        .with_context(|| format!("saving the plan to {}", out.display()))?;
    if mode == Mode::Human {
        crate::outln!(
            "Saved the plan to {}: apply it with `rkit apply {}`.",
            out.display(),
            out.display()
        );
    }
    Ok(())
}
