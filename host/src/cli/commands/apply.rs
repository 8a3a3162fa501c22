//! `rkit apply`: converge resources to a spec (plan, show, ask, apply), or execute a plan
//! saved with `plan --out` (which was the review: it applies without asking, and only to the
//! state it was made from).

use super::plan::plan_options;
use crate::cli::args::{FocusArgs, SpecArgs};
use crate::cli::session::{Run, check_json, execute, paced, policy, session};
use crate::cli::ui::Mode;
use crate::engine::{Interrupt, PlanFile};
use anyhow::{Context as _, Result};
use clap::Args;
use std::process::ExitCode;

/// Converge resources to a spec, or execute a plan saved with `plan --out`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit apply stack.json                 # shows the plan, then asks\n  rkit apply stack.json --yes --approve # no questions (CI)\n  rkit apply plan.json                  # a plan saved with plan --out\n  rkit apply stack.json --replace Gateway"
)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Apply the plan without asking (a saved plan never asks: it was the review;
    /// capabilities still need approval: --approve).
    #[arg(long)]
    pub yes: bool,
    /// Read every recorded resource back first, to see drift.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Also delete objects carrying this stack's tags that the state does not record.
    #[arg(long)]
    pub orphans: bool,
    /// Report as JSON, one object per line (needs --yes: rkit cannot ask).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub focus: FocusArgs,
}

/// Applies the spec, or the saved plan the file holds.
pub async fn exec(args: ApplyArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let spec = &args.spec;
    let text = std::fs::read_to_string(&spec.spec)
        .with_context(|| format!("{}: cannot read", spec.spec.display()))?;
    if PlanFile::sniff(&text) {
        return saved(&args, &text, interrupt).await;
    }
    // Not held while the spec is read again and applied (it may be megabytes).
    drop(text);
    check_json(args.json, args.yes, "apply")?;
    let mode = Mode::of(args.json);
    let mut session = session(spec, mode, interrupt).await?;
    session.validate().await?;
    let options = plan_options(spec, args.refresh, args.orphans, &args.focus, "apply");
    let plan = session.plan(&options).await?;
    let run = Run {
        verb: "Apply",
        yes: args.yes,
        mode,
        parallelism: spec.parallelism,
    };
    execute(&mut session, plan, &run).await
}

/// Executes a plan saved with `plan --out`, without asking (as with Terraform).
async fn saved(args: &ApplyArgs, text: &str, interrupt: &Interrupt) -> Result<ExitCode> {
    let mode = Mode::of(args.json);
    let file = PlanFile::parse(&args.spec.spec, text)?;
    let mut session = saved_session(&file, &args.spec, mode, interrupt).await?;
    let mut plan = file.plan;
    // The policies in force now, not those the plan was made under.
    let operation = plan.applied_as();
    session.check(&mut plan, operation)?;
    let run = Run {
        verb: "Apply",
        yes: true,
        mode,
        parallelism: args.spec.parallelism,
    };
    execute(&mut session, plan, &run).await
}

/// A session for a saved plan: its providers and the policies in force now (those its spec
/// listed then and lists now, `--policy`, `RKIT_POLICIES`).
pub async fn saved_session(
    file: &PlanFile,
    args: &SpecArgs,
    mode: Mode,
    interrupt: &Interrupt,
) -> Result<crate::engine::Session> {
    let events = mode.events();
    let mut spec = file.spec();
    // The policies its spec lists now, besides those it listed then.
    for entry in crate::spec::policies_of(&file.spec_path) {
        if !spec.spec.policies.contains(&entry) {
            spec.spec.policies.push(entry);
        }
    }
    let policies =
        crate::engine::load_policies(&spec, &args.policy.sources(), args.allow_unsigned, &events)
            .await?;
    let mut approval = policy(args);
    approval.policies = policies.clone();
    let session = file.session_on(spec, approval, events).await?;
    Ok(paced(
        session
            .with_policies(args.policy.run(policies))
            .interruptible(interrupt),
    ))
}
