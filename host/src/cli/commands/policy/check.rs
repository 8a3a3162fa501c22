//! `rkit policy check SPEC|PLANFILE`: plans the spec (or reads the saved plan) and shows what
//! the policies say of it, changing nothing but settling intents an earlier run left open.

use crate::cli::args::SpecArgs;
use crate::cli::commands::apply::saved_session;
use crate::cli::commands::plan::plan_options;
use crate::cli::session::{session, show_plan};
use crate::cli::ui::Mode;
use crate::engine::{Interrupt, PlanFile};
use anyhow::{Context as _, Result};
use clap::Args;
use std::process::ExitCode;

/// Check a spec's plan, or a saved plan, against the policies.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit policy check stack.json --policy policies/\n  rkit policy check plan.json   # a plan saved with plan --out"
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Report as JSON, one object per line.
    #[arg(long)]
    pub json: bool,
    /// Read every recorded resource back first, to see drift.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
}

/// Plans (or reads the plan), checks it, shows it; exit 1 when a policy blocks it.
pub async fn exec(args: CheckArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let mode = Mode::of(args.json);
    let text = std::fs::read_to_string(&args.spec.spec)
        .with_context(|| format!("{}: cannot read", args.spec.spec.display()))?;
    let plan = if PlanFile::sniff(&text) {
        let file = PlanFile::parse(&args.spec.spec, &text)?;
        let session = saved_session(&file, &args.spec, mode, interrupt).await?;
        let mut plan = file.plan;
        session.check(&mut plan, "check")?;
        plan
    } else {
        let mut session = session(&args.spec, mode, interrupt).await?;
        session.validate().await?;
        let focus = Default::default();
        let options = plan_options(&args.spec, args.refresh, false, &focus, "check");
        session.plan(&options).await?
    };
    show_plan(mode, &plan, "check", false);
    let passed = plan.policy.as_ref().is_none_or(|c| c.verdict.passed());
    if plan.policy.is_none() && mode == Mode::Human {
        crate::errln!(
            "warning: no policy is loaded (give --policy, the spec's Policies or RKIT_POLICIES)"
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
