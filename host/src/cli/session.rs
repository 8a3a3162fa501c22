//! What the commands that run providers on a spec share (`validate`, `init`, `plan`,
//! `apply`, `destroy`, `import`, `converge`): opening a [`Session`] whose events go to the
//! chosen view ([`Mode`]), the approval policy, showing a plan, asking (the one prompt),
//! applying, and showing the report and outputs.
//!
//! Invariants: `--json` never asks (it needs `--yes`); a saved plan applies without asking
//! (it was the review) but capabilities still need approval; the exit code says what happened
//! (0 done, 1 failed or not started, 130 interrupted).

use super::args::SpecArgs;
use super::ui::{self, Mode};
use super::{prompt, render};
use crate::engine::{Action, ApplyOptions, Interrupt, Plan, Policy, Report, Session};
use crate::text::escape;
use anyhow::{Result, bail};
use std::process::ExitCode;
use std::time::Duration;

/// A session on the spec, reporting to `mode`'s view and stopping new operations once
/// `interrupt` is raised.
pub async fn session(args: &SpecArgs, mode: Mode, interrupt: &Interrupt) -> Result<Session> {
    if let Some(wait) = args.lock_timeout {
        crate::state::set_lock_timeout(wait);
        crate::state::on_lock_wait(Box::new(|location, holder, most| {
            crate::errln!(
                "{location} is locked by {}: waiting for it, at most {} (--lock-timeout)",
                crate::text::escape(holder),
                format!("{most:?}")
            );
        }));
    }
    let spec = crate::spec::load_with(&args.spec, &args.given())?;
    open(args, spec, mode.events(), interrupt).await
}

/// A session on `spec` (loaded), as the flags say, reporting to `events`.
pub async fn open(
    args: &SpecArgs,
    spec: impl Into<std::sync::Arc<crate::spec::LoadedSpec>>,
    events: crate::engine::Events,
    interrupt: &Interrupt,
) -> Result<Session> {
    let spec = spec.into();
    let state = args.state_ref()?;
    let policies =
        crate::engine::load_policies(&spec, &args.policy.sources(), args.allow_unsigned, &events)
            .await?;
    let mut approval = policy(args);
    approval.policies = policies.clone();
    let session = Session::with_spec(spec, state.as_ref(), &args.providers, approval, events, &[])
        .await?
        .with_policies(args.policy.run(policies));
    Ok(paced(session.interruptible(interrupt)))
}

/// `RKIT_PROGRESS_SECONDS` (default 10): how often a running operation says it still runs.
pub fn paced(session: Session) -> Session {
    match std::env::var("RKIT_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
    {
        Some(seconds) => session.progress_every(Duration::from_secs_f64(seconds)),
        None => session,
    }
}

/// How providers are approved: `--approve`, else asking at a terminal, else refusing with
/// the command that approves.
pub fn policy(args: &SpecArgs) -> Policy {
    let mut command = format!("rkit init {}", shell_word(&args.spec.display().to_string()));
    for p in &args.providers {
        let arg = match &p.name {
            Some(name) => format!("{name}={}", p.path.display()),
            None => p.path.display().to_string(),
        };
        command.push_str(&format!(" --provider {}", shell_word(&arg)));
    }
    if args.allow_unsigned {
        command.push_str(" --allow-unsigned");
    }
    command.push_str(" --approve");
    Policy {
        approve: args.approve,
        allow_unsigned: args.allow_unsigned,
        approve_command: command,
        policies: Default::default(),
    }
}

/// `word` quoted for a POSIX shell if it needs to be.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:@+,".contains(&b))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Shows `plan`: the readable diff, or (JSON) a `planned_change` line per change and a
/// `change_summary`.
pub fn show_plan(mode: Mode, plan: &Plan, operation: &str, reveal: bool) {
    match mode {
        Mode::Human => render::write_plan(plan, reveal, &mut |text| crate::out!("{text}")),
        Mode::Json => {
            let plan = plan.shown(reveal);
            for step in plan.steps.iter().filter(|s| s.action != Action::NoOp) {
                ui::line(
                    "info",
                    &format!("{}: plan to {}", step.name, render::verb(step.action)),
                    &serde_json::json!({"type": "planned_change", "change": step}),
                );
            }
            for (change, line) in plan.groups.iter().filter_map(|g| g.line().map(|l| (g, l))) {
                ui::line(
                    "info",
                    &line,
                    &serde_json::json!({"type": "group_change", "group": change}),
                );
            }
            let counts = plan.counts();
            ui::line(
                "info",
                &render::summary(&plan),
                &serde_json::json!({"type": "change_summary", "operation": operation, "changes": counts}),
            );
            if let Some(checked) = &plan.policy {
                policy_lines(checked);
            }
        }
    }
}

/// `--json`: a `policy_finding` line per finding, and a `policy_summary`.
fn policy_lines(checked: &crate::engine::Checked) {
    let verdict = &checked.verdict;
    for finding in &verdict.findings {
        ui::line(
            if finding.blocks() { "error" } else { "warn" },
            &escape(&finding.line()),
            &serde_json::json!({"type": "policy_finding", "finding": finding}),
        );
    }
    let blocking = verdict.blocking().count();
    ui::line(
        if blocking > 0 { "error" } else { "info" },
        &format!(
            "Policies: {} checked, {blocking} blocking",
            verdict.policies
        ),
        &serde_json::json!({"type": "policy_summary", "policies": verdict.policies,
            "blocking": blocking, "findings": verdict.findings.len(),
            "digest": verdict.digest, "overrides": checked.overrides, "passed": blocking == 0}),
    );
}

/// What `apply` and `destroy` share.
pub struct Run<'a> {
    /// `Apply` or `Destroy`.
    pub verb: &'a str,
    /// Without asking.
    pub yes: bool,
    /// The view.
    pub mode: Mode,
    /// How many operations run at once.
    pub parallelism: u16,
}

/// Shows `plan`, asks unless `run.yes`, applies it and shows the report. The spec's resources
/// are let go while the plan runs (the session plans no more).
pub async fn execute(session: &mut Session, plan: Plan, run: &Run<'_>) -> Result<ExitCode> {
    show_plan(run.mode, &plan, &run.verb.to_lowercase(), false);
    if let Some(refusal) = plan.policy.as_ref().and_then(|c| {
        c.verdict
            .refusal(&format!("this {}", run.verb.to_lowercase()))
    }) {
        bail!("{refusal}\nNothing was changed.");
    }
    if !plan.has_changes() {
        session.keep(&plan)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !run.yes {
        let question = if run.verb == "Destroy" {
            "\nDo you really want to destroy these resources?"
        } else {
            "\nDo you want to apply these changes?"
        };
        let how = format!("pass --yes to {} without asking", run.verb.to_lowercase());
        if !prompt::yes(question, &how)? {
            crate::outln!("{} cancelled.", run.verb);
            return Ok(ExitCode::from(1));
        }
    }
    if run.mode == Mode::Human {
        crate::outln!();
    }
    let options = ApplyOptions {
        parallelism: run.parallelism.into(),
    };
    session.release_spec();
    let report = session.apply(plan, &options).await?;
    show_report(session, &report, run);
    Ok(exit_code(&report))
}

/// The report of an apply or destroy, and (after a complete apply) the outputs.
fn show_report(session: &Session, report: &Report, run: &Run<'_>) {
    let outputs = session.outputs(false);
    match run.mode {
        Mode::Human => {
            crate::out!("{}", render::report(run.verb, report));
            for (plugin, n) in session.http_requests() {
                crate::outln!(
                    "{plugin}: {n} HTTP requests (refresh and {})",
                    run.verb.to_lowercase()
                );
            }
            if report.ok() && !outputs.is_empty() && run.verb == "Apply" {
                crate::outln!("\nOutputs:");
                for (name, value) in &outputs {
                    crate::outln!("  {} = {}", escape(name), render::json_value(value));
                }
            }
        }
        Mode::Json => {
            ui::line(
                if report.ok() { "info" } else { "error" },
                &format!(
                    "{} {}: {}",
                    run.verb,
                    if report.ok() {
                        "complete"
                    } else {
                        "incomplete"
                    },
                    report.summary()
                ),
                &serde_json::json!({"type": "report", "operation": run.verb.to_lowercase(), "ok": report.ok(), "report": report}),
            );
            if report.ok() && run.verb == "Apply" {
                ui::line(
                    "info",
                    "Outputs",
                    &serde_json::json!({"type": "outputs", "outputs": outputs}),
                );
            }
        }
    }
}

/// What the report says to the shell (and, when operations were not started, why).
fn exit_code(report: &Report) -> ExitCode {
    if report.ok() {
        ExitCode::SUCCESS
    } else if let Some((_, why)) = report.not_started.first()
        && report.cancelled.is_empty()
    {
        crate::errln!(
            "error: {}\nSo {} operations were not started; what finished is recorded: run the \
             command again to go on.",
            escape(why),
            report.not_started.len()
        );
        ExitCode::from(1)
    } else if !report.cancelled.is_empty() {
        crate::errln!("Interrupted: what finished is recorded; run the command again to go on.");
        ExitCode::from(130)
    } else {
        ExitCode::from(1)
    }
}

/// `--json` cannot ask: it needs `--yes`.
pub fn check_json(json: bool, yes: bool, verb: &str) -> Result<()> {
    if json && !yes {
        bail!("--json cannot ask for confirmation: pass --yes to {verb} without asking");
    }
    Ok(())
}
