//! The commands that run providers on a spec: init, validate, plan, apply, destroy, import.
//! They open a session whose events go to the chosen view ([`Mode`]), show the plan, ask (the
//! one prompt), apply, and show the report and outputs.

use super::ui::{self, Mode};
use super::{FocusArgs, SpecArgs, prompt, render};
use crate::engine::Session;
use crate::engine::apply::Report;
use crate::engine::interrupt::Interrupt;
use crate::engine::lock::{Lock, lock_path};
use crate::engine::plan::{Action, Plan};
use crate::engine::resolve::Policy;
use crate::engine::saved::PlanFile;
use crate::text::escape;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// A session on the spec, reporting to `mode`'s view and stopping new operations once
/// `interrupt` is raised.
async fn session(args: &SpecArgs, mode: Mode, interrupt: &Interrupt) -> Result<Session> {
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
    let state = args.state_ref()?;
    let session = Session::with_spec(
        spec,
        state.as_ref(),
        &args.providers,
        policy(args),
        mode.events(),
        &[],
    )
    .await?;
    Ok(paced(session.interruptible(interrupt)))
}

/// `RKIT_PROGRESS_SECONDS` (default 10): how often a running operation says it still runs.
fn paced(session: Session) -> Session {
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
fn policy(args: &SpecArgs) -> Policy {
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

pub async fn init(args: &SpecArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let session = session(args, Mode::Human, interrupt).await?;
    let path = lock_path(session.spec().dir());
    let lock = Lock::load(&path)?;
    if lock.providers.is_empty() {
        crate::outln!("the spec uses no provider: nothing to lock");
        return Ok(ExitCode::SUCCESS);
    }
    for (plugin, locked) in &lock.providers {
        crate::outln!(
            "{plugin}: {} {} ({}), {}",
            locked.source,
            escape(&locked.version),
            locked.digest,
            match (&locked.signer, locked.manifest_digest.is_empty()) {
                (Some(s), _) => format!("signed by {s}"),
                (None, true) => "a module file".to_string(),
                (None, false) => "unsigned".to_string(),
            }
        );
    }
    crate::outln!(
        "{}: providers resolved, approved and locked",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn validate(args: &SpecArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let session = session(args, Mode::Human, interrupt).await?;
    session.validate().await?;
    crate::outln!(
        "{}: valid ({} resources)",
        args.spec.display(),
        session.spec().spec.resources.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `plan`'s options.
pub struct PlanFlags<'a> {
    pub json: bool,
    /// Show sensitive values (`--show-sensitive`).
    pub reveal: bool,
    pub out: Option<&'a Path>,
    pub refresh: bool,
    pub detailed_exitcode: bool,
    pub orphans: bool,
    /// Plan deleting everything instead (`plan --destroy`).
    pub destroy: bool,
}

/// Limits `plan` as `--target`, `--exclude` and `--replace` ask.
fn focused(session: &Session, mut plan: Plan, args: &FocusArgs) -> Result<Plan> {
    let focus = crate::engine::plan::Focus {
        targets: args.targets.clone(),
        excludes: args.excludes.clone(),
        replace: args.replace.clone(),
    };
    if focus.is_empty() {
        return Ok(plan);
    }
    session.focus(&mut plan, &focus)?;
    if !focus.targets.is_empty() || !focus.excludes.is_empty() {
        session
            .events()
            .event(crate::engine::events::Event::Warning {
                message: "the plan is limited by --target/--exclude: what it leaves out may \
                          still differ from the spec"
                    .into(),
            });
    }
    Ok(plan)
}

/// Shows `plan`: the readable diff, or (JSON) a `planned_change` line per change and a
/// `change_summary`.
fn show_plan(mode: Mode, plan: &Plan, operation: &str, reveal: bool) {
    match mode {
        Mode::Human => crate::out!("{}", render::plan(plan, reveal)),
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
        }
    }
}

pub async fn plan(
    args: &SpecArgs,
    flags: &PlanFlags<'_>,
    focus: &FocusArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let mode = Mode::of(flags.json);
    let mut session = session(args, mode, interrupt).await?;
    let plan = if flags.destroy {
        session.destroy_plan(flags.orphans).await?
    } else {
        session.validate().await?;
        let plan = session
            .plan_replacing(
                flags.refresh,
                args.parallelism.into(),
                flags.orphans,
                &focus.replace,
            )
            .await?;
        focused(&session, plan, focus)?
    };
    show_plan(mode, &plan, "plan", flags.reveal);
    match mode {
        Mode::Json => ui::line(
            "info",
            "the plan",
            &serde_json::json!({"type": "plan", "plan": plan.shown(flags.reveal)}),
        ),
        Mode::Human => {
            for (plugin, n) in session.ctx.providers.http_requests() {
                crate::outln!("{plugin}: {n} HTTP requests (refresh)");
            }
        }
    }
    if let Some(out) = flags.out {
        let file = PlanFile::new(&session, &plan);
        std::fs::write(out, file.to_bytes()?)
            .with_context(|| format!("saving the plan to {}", out.display()))?;
        if mode == Mode::Human {
            crate::outln!(
                "Saved the plan to {}: apply it with `rkit apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if flags.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `apply` and `destroy` share.
struct Run<'a> {
    verb: &'a str,
    yes: bool,
    mode: Mode,
    parallelism: u16,
}

async fn execute(session: &Session, plan: Plan, run: &Run<'_>) -> Result<ExitCode> {
    show_plan(run.mode, &plan, &run.verb.to_lowercase(), false);
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
    let report = session.apply(plan, run.parallelism.into()).await?;
    let outputs = session.outputs(false);
    match run.mode {
        Mode::Human => {
            crate::out!("{}", render::report(run.verb, &report));
            for (plugin, n) in session.ctx.providers.http_requests() {
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
    Ok(exit_code(&report))
}

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
fn check_json(json: bool, yes: bool, verb: &str) -> Result<()> {
    if json && !yes {
        bail!("--json cannot ask for confirmation: pass --yes to {verb} without asking");
    }
    Ok(())
}

pub async fn apply(
    args: &SpecArgs,
    flags: &super::ApplyFlags,
    focus: &FocusArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let mode = Mode::of(flags.json);
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("{}: cannot read", args.spec.display()))?;
    if PlanFile::sniff(&text) {
        let file = PlanFile::parse(&args.spec, &text)?;
        let session = paced(
            file.session(policy(args), mode.events())
                .await?
                .interruptible(interrupt),
        );
        // The saved plan was the review (as with Terraform): it applies without asking.
        let run = Run {
            verb: "Apply",
            yes: true,
            mode,
            parallelism: args.parallelism,
        };
        return execute(&session, file.plan, &run).await;
    }
    check_json(flags.json, flags.yes, "apply")?;
    let mut session = session(args, mode, interrupt).await?;
    session.validate().await?;
    let plan = session
        .plan_replacing(
            flags.refresh,
            args.parallelism.into(),
            flags.orphans,
            &focus.replace,
        )
        .await?;
    let plan = focused(&session, plan, focus)?;
    let run = Run {
        verb: "Apply",
        yes: flags.yes,
        mode,
        parallelism: args.parallelism,
    };
    execute(&session, plan, &run).await
}

pub async fn destroy(
    args: &SpecArgs,
    yes: bool,
    orphans: bool,
    json: bool,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    check_json(json, yes, "destroy")?;
    let mode = Mode::of(json);
    let session = session(args, mode, interrupt).await?;
    let plan = session.destroy_plan(orphans).await?;
    let run = Run {
        verb: "Destroy",
        yes,
        mode,
        parallelism: args.parallelism,
    };
    execute(&session, plan, &run).await
}

pub async fn import(
    args: &SpecArgs,
    name: &str,
    id: &str,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let session = session(args, Mode::Human, interrupt).await?;
    let record = session.import(name, id).await?;
    crate::outln!(
        "{}: imported {} ({} {}); `rkit plan` shows how it differs from the spec",
        escape(name),
        escape(&record.id),
        escape(&record.plugin),
        escape(&record.type_name)
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens a session per converge tick, as `apply` would.
struct Opener<'a> {
    args: &'a SpecArgs,
}

impl crate::engine::converge::Opener for Opener<'_> {
    async fn open(
        &self,
        spec: crate::spec::LoadedSpec,
        events: crate::engine::events::Events,
        interrupt: Interrupt,
    ) -> Result<Session> {
        let state = self.args.state_ref()?;
        let session = Session::with_spec(
            spec,
            state.as_ref(),
            &self.args.providers,
            policy(self.args),
            events,
            &[],
        )
        .await?;
        Ok(paced(session.interruptible(&interrupt)))
    }

    fn load(&self) -> Result<crate::spec::LoadedSpec> {
        crate::spec::load_with(&self.args.spec, &self.args.given())
    }
}

/// `rkit converge`.
pub async fn converge(
    args: &SpecArgs,
    options: &crate::engine::converge::Options,
    listen: Option<std::net::SocketAddr>,
    json: bool,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    use crate::engine::converge::{self, Metrics, Opener as _};
    let mode = Mode::of(json);
    let events = mode.events();
    let opener = Opener { args };
    let first = opener.load()?;
    let metrics = std::sync::Arc::new(Metrics::new());
    if let Some(addr) = listen {
        let bound = super::serve::serve(addr, metrics.clone()).await?;
        events.event(crate::engine::events::Event::Listening {
            address: bound.to_string(),
        });
    }
    let summary = converge::run(options, first, &opener, &events, interrupt, &metrics).await?;
    Ok(if options.once && options.observe_only && summary.drift {
        ExitCode::from(2)
    } else if options.once && summary.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
