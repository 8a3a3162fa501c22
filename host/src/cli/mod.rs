//! The `rkit` command line: argument parsing (clap), the dispatch table, and how a run ends
//! (errors, signals, exit codes). Each command is a file under `commands/` (its arguments and
//! its `exec`); what they share is in `args` (argument groups) and `session` (running
//! providers); pictures, prompts and rendering are in `picture`, `prompt`, `render`, `ui`.
//! Exit codes: 0 success, 1 error, 2 usage (and, for `plan --detailed-exitcode`, changes
//! pending), 130 interrupted (SIGINT/SIGTERM).
//!
//! Interruption: the first SIGINT or SIGTERM during an apply or destroy stops new operations
//! from starting, lets those in flight finish and be recorded, writes the state and releases
//! the lock; a second one exits at once (what was in flight has its intent journaled, and the
//! next run resolves it). Outside an apply the first signal exits at once: nothing is in
//! flight that a later run could not redo.

mod args;
mod commands;
mod picture;
mod prompt;
mod render;
mod scaffold;
mod serve;
mod session;
mod ui;

use crate::engine::Interrupt;
use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::*;
use std::process::ExitCode;

/// Infrastructure as code with providers sandboxed as WebAssembly components.
#[derive(Parser)]
#[command(name = "rkit", version, about)]
struct Cli {
    /// No colour, even on a terminal (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

/// Every command; each variant's help is its arguments' doc comment (in its file).
#[derive(Subcommand)]
enum Command {
    Validate(validate::ValidateArgs),
    Bootstrap(bootstrap::BootstrapArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Destroy(destroy::DestroyArgs),
    Converge(converge::ConvergeArgs),
    Import(import::ImportArgs),
    Init(init::InitArgs),
    ForceUnlock(force_unlock::ForceUnlockArgs),
    Output(output::OutputArgs),
    Show(show::ShowArgs),
    Graph(graph::GraphArgs),
    #[command(subcommand)]
    State(state::StateCommand),
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
}

/// The dispatch table: each command to its `exec`.
async fn exec(command: Command, interrupt: &Interrupt) -> Result<ExitCode> {
    match command {
        Command::Validate(args) => validate::exec(args, interrupt).await,
        Command::Bootstrap(args) => bootstrap::exec(args, interrupt).await,
        Command::Plan(args) => plan::exec(args, interrupt).await,
        Command::Apply(args) => apply::exec(args, interrupt).await,
        Command::Destroy(args) => destroy::exec(args, interrupt).await,
        Command::Converge(args) => converge::exec(args, interrupt).await,
        Command::Import(args) => import::exec(args, interrupt).await,
        Command::Init(args) => init::exec(args, interrupt).await,
        Command::ForceUnlock(args) => force_unlock::exec(args, interrupt).await,
        Command::Output(args) => output::exec(args, interrupt).await,
        Command::Show(args) => show::exec(args, interrupt).await,
        Command::Graph(args) => graph::exec(args, interrupt).await,
        Command::State(command) => state::exec(command, interrupt).await,
        Command::Provider(command) => provider::exec(command, interrupt).await,
        Command::Policy(command) => policy::exec(command, interrupt).await,
        Command::Bundle(command) => bundle::exec(command, interrupt).await,
    }
}

/// Terraform's single-dash spellings of options rkit spells with two dashes (clap would read
/// `-out` as `-o -u -t` and suggest something else).
const TERRAFORM_SPELLINGS: [&str; 9] = [
    "out",
    "var",
    "var-file",
    "target",
    "replace",
    "exclude",
    "json",
    "parallelism",
    "refresh",
];

/// The usage error for a Terraform spelling among `args`, if one is there.
fn terraform_spelling(args: &[std::ffi::OsString]) -> Option<String> {
    args.iter().skip(1).find_map(|arg| {
        let arg = arg.to_str()?;
        let name = arg.strip_prefix('-').filter(|a| !a.starts_with('-'))?;
        let name = name.split('=').next()?;
        TERRAFORM_SPELLINGS
            .contains(&name)
            .then(|| format!("error: rkit spells Terraform's {arg} as --{}", &arg[1..]))
    })
}

/// Parses the arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(message) = terraform_spelling(&args) {
        crate::errln!("{message}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse_from(args);
    if cli.no_color {
        crate::output::no_color();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            crate::errln!("error: starting the runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let interrupt = Interrupt::default();
    runtime.spawn(listen(interrupt.clone()));
    let result = runtime.block_on(exec(cli.command, &interrupt));
    // Work a provider left behind (a host thread blocked on its behalf after a timeout) must
    // not keep rkit from exiting.
    runtime.shutdown_background();
    match result {
        Ok(_) if interrupt.raised() => ExitCode::from(130),
        Ok(code) => code,
        Err(err) => {
            report_error(&err);
            ExitCode::from(if interrupt.raised() { 130 } else { 1 })
        }
    }
}

/// Prints an error: a spec error with its source line, underlined; others on one line.
fn report_error(err: &anyhow::Error) {
    use crate::spec::diagnostic::{SpecError, SpecErrors};
    if let Some(e) = err.downcast_ref::<SpecError>() {
        crate::errln!("{}", e.render());
    } else if let Some(SpecErrors(all)) = err.downcast_ref::<SpecErrors>() {
        for e in all {
            crate::errln!("{}\n", e.render());
        }
        if all.len() > 1 {
            crate::errln!("error: {} problems in the spec", all.len());
        }
    } else {
        // Line by line: a message may span lines (what a provider asks for), and each line
        // is escaped like any text that may come from a provider.
        let text = format!("{err:#}");
        let lines: Vec<String> = text.lines().map(crate::text::escaped).collect();
        crate::errln!("error: {}", lines.join("\n"));
    }
}

/// Raises `interrupt` on SIGINT/SIGTERM (see the module's header for what follows).
async fn listen(interrupt: Interrupt) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let busy = interrupt.busy();
        if interrupt.raise() == 1 && busy {
            crate::errln!(
                "\nInterrupted: no new operation starts; those in flight finish and are \
                 recorded. Interrupt again to abandon them (their intents are journaled: the \
                 next run resolves them)."
            );
        } else {
            if busy {
                crate::errln!(
                    "Abandoned the operations in flight; their intents are journaled and the \
                     next run resolves them."
                );
            }
            std::process::exit(130);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_spellings_are_named() {
        let args = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
        assert_eq!(
            terraform_spelling(&args(&["rkit", "plan", "s.json", "-out", "p"])).as_deref(),
            Some("error: rkit spells Terraform's -out as --out")
        );
        assert_eq!(
            terraform_spelling(&args(&["rkit", "plan", "s.json", "-var=A=1"])).as_deref(),
            Some("error: rkit spells Terraform's -var=A=1 as --var=A=1")
        );
        assert_eq!(
            terraform_spelling(&args(&["rkit", "plan", "s.json", "--out", "p"])),
            None
        );
        assert_eq!(terraform_spelling(&args(&["rkit", "graph", "-"])), None);
    }
}
