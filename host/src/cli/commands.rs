//! The commands on specs and states.

use super::{SpecArgs, StateArgs, render};
use crate::engine::lock::{Lock, lock_path};
use crate::engine::plan::Plan;
use crate::engine::resolve::Policy;
use crate::engine::{PlanFile, Session, default_state_path};
use crate::graph::Graph;
use crate::spec;
use crate::state::State;
use crate::text::{escape, escape_json};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
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
    eprint!("{question} Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

pub async fn init(args: &SpecArgs) -> Result<ExitCode> {
    let session = session(args).await?;
    let path = lock_path(session.spec().dir());
    let lock = Lock::load(&path)?;
    if lock.providers.is_empty() {
        println!("the spec uses no provider: nothing to lock");
        return Ok(ExitCode::SUCCESS);
    }
    for (plugin, locked) in &lock.providers {
        println!(
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
    println!(
        "{}: providers resolved, approved and locked",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn validate(args: &SpecArgs) -> Result<ExitCode> {
    let session = session(args).await?;
    session.validate().await?;
    println!(
        "{}: valid ({} resources)",
        args.spec.display(),
        session.spec().spec.resources.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn plan(
    args: &SpecArgs,
    json: bool,
    out: Option<&Path>,
    refresh: bool,
    detailed_exitcode: bool,
) -> Result<ExitCode> {
    let session = session(args).await?;
    session.validate().await?;
    let plan = session.plan(refresh, args.parallelism.into()).await?;
    if json {
        println!("{}", escape_json(&serde_json::to_string_pretty(&plan)?));
    } else {
        print!("{}", render::plan(&plan));
        for (plugin, n) in session.ctx.providers.http_requests() {
            println!("{plugin}: {n} HTTP requests (refresh)");
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
            println!(
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

/// Asks for `yes` on the terminal.
fn confirm(question: &str) -> Result<bool> {
    let stdin = std::io::stdin();
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer)? == 0 && !stdin.is_terminal() {
        bail!("no answer on standard input; pass --yes to apply without asking");
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
    print!("{}", render::plan(plan));
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !yes
        && !confirm(&format!(
            "\nDo you want to {} these changes?",
            verb.to_lowercase()
        ))?
    {
        println!("{verb} cancelled.");
        return Ok(ExitCode::from(1));
    }
    println!();
    let report = session.apply(plan, parallelism.into()).await?;
    print!("{}", render::report(verb, &report));
    for (plugin, n) in session.ctx.providers.http_requests() {
        println!(
            "{plugin}: {n} HTTP requests (refresh and {})",
            verb.to_lowercase()
        );
    }
    let outputs = session.outputs();
    if report.ok() && !outputs.is_empty() && verb == "Apply" {
        println!("\nOutputs:");
        for (name, value) in outputs {
            println!("  {name} = {}", escape_json(&value.to_string()));
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn apply(args: &SpecArgs, yes: bool, refresh: bool) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("{}: cannot read", args.spec.display()))?;
    if PlanFile::sniff(&text) {
        let file: PlanFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid saved plan", args.spec.display()))?;
        let session = file.session(policy(args)).await?;
        return execute(&session, &file.plan, yes, "Apply", args.parallelism).await;
    }
    let session = session(args).await?;
    session.validate().await?;
    let plan = session.plan(refresh, args.parallelism.into()).await?;
    execute(&session, &plan, yes, "Apply", args.parallelism).await
}

pub async fn destroy(args: &SpecArgs, yes: bool) -> Result<ExitCode> {
    let session = session(args).await?;
    let plan = session.destroy_plan();
    execute(&session, &plan, yes, "Destroy", args.parallelism).await
}

pub fn graph(spec_path: &Path) -> Result<ExitCode> {
    let spec = spec::load(spec_path)?;
    print!("{}", Graph::build(&spec)?.dot());
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

pub fn state_list(args: &StateArgs) -> Result<ExitCode> {
    let state = read_state(args)?;
    for (name, r) in &state.resources {
        println!(
            "{}\t{} {}\t{}",
            escape(name),
            escape(&r.plugin),
            escape(&r.type_name),
            escape(&r.id)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn state_show(args: &StateArgs, name: &str) -> Result<ExitCode> {
    let state = read_state(args)?;
    let Some(r) = state.resources.get(name) else {
        bail!("the state records no resource {name:?}");
    };
    println!("{}", escape_json(&serde_json::to_string_pretty(r)?));
    Ok(ExitCode::SUCCESS)
}
