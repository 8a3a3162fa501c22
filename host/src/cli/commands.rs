//! The commands on specs and states.

use super::{FocusArgs, SpecArgs, StateArgs, StateNames, render};
use crate::engine::interrupt::Interrupt;
use crate::engine::lock::{Lock, lock_path};
use crate::engine::plan::Plan;
use crate::engine::resolve::Policy;
use crate::engine::{PlanFile, Session, default_state_path};
use crate::graph::Graph;
use crate::spec;
use crate::state::State;
use crate::state::{Change, StateStore};
use crate::text::{escape, escape_json};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A session on the spec.
async fn session(args: &SpecArgs) -> Result<Session> {
    Session::open(
        &args.spec,
        args.state.as_deref(),
        &args.providers,
        policy(args),
    )
    .await
}

/// A session that stops starting operations on SIGINT/SIGTERM.
async fn interruptible(args: &SpecArgs, interrupt: &Interrupt) -> Result<Session> {
    Ok(session(args).await?.interruptible(interrupt))
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
        ask: std::io::stdin()
            .is_terminal()
            .then_some(ask_yes as fn(&str) -> bool),
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

/// Asks `question` on the terminal; only `yes` is yes.
fn ask_yes(question: &str) -> bool {
    crate::output::stderr(format_args!("{question} Only 'yes' will be accepted: "));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

pub async fn init(args: &SpecArgs) -> Result<ExitCode> {
    let session = session(args).await?;
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

pub async fn validate(args: &SpecArgs) -> Result<ExitCode> {
    let session = session(args).await?;
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
        crate::errln!(
            "warning: the plan is limited by --target/--exclude: what it leaves out may still differ from the spec"
        );
    }
    Ok(plan)
}

pub async fn plan(
    args: &SpecArgs,
    flags: &PlanFlags<'_>,
    focus: &FocusArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let PlanFlags {
        json,
        out,
        refresh,
        detailed_exitcode,
        orphans,
        destroy: _,
    } = *flags;
    let session = interruptible(args, interrupt).await?;
    let plan = if flags.destroy {
        session.destroy_plan(orphans).await?
    } else {
        session.validate().await?;
        let plan = session
            .plan(refresh, args.parallelism.into(), orphans)
            .await?;
        focused(&session, plan, focus)?
    };
    if json {
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&plan)?));
    } else {
        crate::out!("{}", render::plan(&plan));
        for (plugin, n) in session.ctx.providers.http_requests() {
            crate::outln!("{plugin}: {n} HTTP requests (refresh)");
        }
    }
    if let Some(out) = out {
        let file = PlanFile {
            rkit_plan: 1,
            spec_path: args.spec.clone(),
            spec: session.spec().spec.clone(),
            state_path: args
                .state
                .clone()
                .unwrap_or_else(|| default_state_path(&args.spec)),
            providers: session.ctx.providers.bindings(),
            plan: plan.clone(),
        };
        std::fs::write(out, serde_json::to_vec_pretty(&file)?)
            .with_context(|| format!("saving the plan to {}", out.display()))?;
        if !json {
            crate::outln!(
                "Saved the plan to {}: apply it with `rkit apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks for `yes` on the terminal before `verb` (apply, destroy).
fn confirm(question: &str, verb: &str) -> Result<bool> {
    let stdin = std::io::stdin();
    crate::out!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer)? == 0 && !stdin.is_terminal() {
        bail!("no answer on standard input; pass --yes to {verb} without asking");
    }
    Ok(answer.trim() == "yes")
}

async fn execute(
    session: &Session,
    plan: &Plan,
    yes: bool,
    verb: &str,
    parallelism: u16,
) -> Result<ExitCode> {
    crate::out!("{}", render::plan(plan));
    if !plan.has_changes() {
        session.keep(plan)?;
        return Ok(ExitCode::SUCCESS);
    }
    let question = if verb == "Destroy" {
        "\nDo you really want to destroy these resources?"
    } else {
        "\nDo you want to apply these changes?"
    };
    if !yes && !confirm(question, &verb.to_lowercase())? {
        crate::outln!("{verb} cancelled.");
        return Ok(ExitCode::from(1));
    }
    crate::outln!();
    let report = session.apply(plan, parallelism.into()).await?;
    crate::out!("{}", render::report(verb, &report));
    for (plugin, n) in session.ctx.providers.http_requests() {
        crate::outln!(
            "{plugin}: {n} HTTP requests (refresh and {})",
            verb.to_lowercase()
        );
    }
    let outputs = session.outputs();
    if report.ok() && !outputs.is_empty() && verb == "Apply" {
        crate::outln!("\nOutputs:");
        for (name, value) in outputs {
            crate::outln!("  {name} = {}", escape_json(&value.to_string()));
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else if !report.cancelled.is_empty() {
        crate::errln!("Interrupted: what finished is recorded; run the command again to go on.");
        ExitCode::from(130)
    } else {
        ExitCode::from(1)
    })
}

pub async fn apply(
    args: &SpecArgs,
    yes: bool,
    refresh: bool,
    orphans: bool,
    focus: &FocusArgs,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("{}: cannot read", args.spec.display()))?;
    if PlanFile::sniff(&text) {
        let file: PlanFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid saved plan", args.spec.display()))?;
        let session = file.session(policy(args)).await?.interruptible(interrupt);
        // The saved plan was the review (as with Terraform): it applies without asking.
        return execute(&session, &file.plan, true, "Apply", args.parallelism).await;
    }
    let session = interruptible(args, interrupt).await?;
    session.validate().await?;
    let plan = session
        .plan(refresh, args.parallelism.into(), orphans)
        .await?;
    let plan = focused(&session, plan, focus)?;
    execute(&session, &plan, yes, "Apply", args.parallelism).await
}

pub async fn destroy(
    args: &SpecArgs,
    yes: bool,
    orphans: bool,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let session = interruptible(args, interrupt).await?;
    let plan = session.destroy_plan(orphans).await?;
    execute(&session, &plan, yes, "Destroy", args.parallelism).await
}

pub async fn import(
    args: &SpecArgs,
    name: &str,
    id: &str,
    interrupt: &Interrupt,
) -> Result<ExitCode> {
    let session = interruptible(args, interrupt).await?;
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

pub fn graph(spec_path: &Path) -> Result<ExitCode> {
    let spec = spec::load(spec_path)?;
    crate::out!("{}", Graph::build(&spec)?.dot());
    Ok(ExitCode::SUCCESS)
}

fn read_state(args: &StateArgs) -> Result<State> {
    let path = match (&args.state, &args.spec) {
        (Some(state), _) => state.clone(),
        (None, Some(spec)) => default_state_path(spec),
        (None, None) => unreachable!("clap requires one"),
    };
    // Reading needs no lock: the snapshot is replaced atomically and the journal replayed.
    crate::state::StateStore::read_only(&path)
}

/// `rkit output`: the outputs recorded by the last complete apply.
pub fn output(
    state: Option<PathBuf>,
    args: Vec<String>,
    json: bool,
    raw: bool,
) -> Result<ExitCode> {
    let (path, args) = state_and_names(state.as_ref(), args, 0, "optionally an output's name")?;
    let name = match args.as_slice() {
        [] => None,
        [name] => Some(name.as_str()),
        _ => bail!("output takes at most one name"),
    };
    if raw && name.is_none() {
        bail!("--raw prints one output: give its name");
    }
    let state = crate::state::StateStore::read_only(&path)?;
    match name {
        None if json => crate::outln!(
            "{}",
            escape_json(&serde_json::to_string_pretty(&state.outputs)?)
        ),
        None => {
            for (name, value) in &state.outputs {
                crate::outln!("{} = {}", escape(name), escape_json(&value.to_string()));
            }
        }
        Some(name) => {
            let Some(value) = state.outputs.get(name) else {
                let names: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
                bail!(
                    "no output {name:?} is recorded (recorded: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            };
            match value {
                serde_json::Value::String(text) if raw => crate::out!("{}", escape(text)),
                _ if raw => bail!("output {name:?} is not a string: --raw prints only strings"),
                _ => crate::outln!("{}", escape_json(&value.to_string())),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn state_list(args: &StateArgs) -> Result<ExitCode> {
    let state = read_state(args)?;
    for (name, r) in &state.resources {
        crate::outln!(
            "{}\t{} {}\t{}",
            escape(name),
            escape(&r.plugin),
            escape(&r.type_name),
            escape(&r.id)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The state file and the names that `SPEC NAME…` or `--state FILE NAME…` give (at least
/// `min` names); `what` says what the names are, for the error.
fn state_and_names(
    state: Option<&PathBuf>,
    mut args: Vec<String>,
    min: usize,
    what: &str,
) -> Result<(PathBuf, Vec<String>)> {
    let path = match state {
        Some(state) => state.clone(),
        None if args.len() > min => default_state_path(Path::new(&args.remove(0))),
        None => bail!("give the spec (or --state FILE), then {what}"),
    };
    Ok((path, args))
}

/// The state file and resource names of `state show|rm|mv`.
fn state_names(names: &StateNames) -> Result<(PathBuf, Vec<String>)> {
    state_and_names(
        names.state.as_ref(),
        names.args.clone(),
        1,
        "the resource names",
    )
}

pub fn state_show(names: &StateNames) -> Result<ExitCode> {
    let (path, names) = state_names(names)?;
    let state = crate::state::StateStore::read_only(&path)?;
    for name in names {
        let Some(r) = state.resources.get(&name) else {
            bail!("the state {} records no resource {name:?}", path.display());
        };
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(r)?));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn state_rm(names: &StateNames) -> Result<ExitCode> {
    let (path, names) = state_names(names)?;
    let mut store = StateStore::open_existing(&path)?;
    for name in &names {
        if !store.state.resources.contains_key(name) {
            bail!("the state {} records no resource {name:?}", path.display());
        }
    }
    for name in &names {
        let r = store.state.resources[name].clone();
        let key = crate::state::forgotten_key(&r.plugin, &r.type_name, &r.id);
        store.change(name, Change::Forgotten(key))?;
        crate::outln!(
            "{}: forgotten; its object {} is left as it is",
            escape(name),
            escape(&r.id)
        );
    }
    store.compact()?;
    Ok(ExitCode::SUCCESS)
}

pub fn state_mv(names: &StateNames) -> Result<ExitCode> {
    let (path, names) = state_names(names)?;
    let [from, to] = names.as_slice() else {
        bail!("state mv takes two names: the recorded one and the new one");
    };
    let mut store = StateStore::open_existing(&path)?;
    if !store.state.resources.contains_key(from) {
        bail!("the state {} records no resource {from:?}", path.display());
    }
    if store.state.resources.contains_key(to) {
        bail!(
            "the state {} already records a resource {to:?}",
            path.display()
        );
    }
    store.change(from, Change::MovedTo(to.clone()))?;
    store.compact()?;
    crate::outln!("{} is now recorded as {}", escape(from), escape(to));
    Ok(ExitCode::SUCCESS)
}
