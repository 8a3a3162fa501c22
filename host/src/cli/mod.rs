//! The `rkit` command line: argument parsing (clap) and dispatch to subcommands.
//! Exit codes: 0 success, 1 error, 2 usage (and, for `plan --detailed-exitcode`, changes
//! pending), 130 interrupted (SIGINT/SIGTERM).
//!
//! Interruption: the first SIGINT or SIGTERM during an apply or destroy stops new operations
//! from starting, lets those in flight finish and be recorded, writes the state and releases
//! the lock; a second one exits at once (what was in flight has its intent journaled, and the
//! next run resolves it). Outside an apply the first signal exits at once: nothing is in
//! flight that a later run could not redo.

mod commands;
mod inspect;
mod picture;
mod prompt;
mod registry;
mod render;
mod run;
mod scaffold;
mod serve;
mod state;
mod ui;

use crate::engine::interrupt::Interrupt;
use crate::engine::providers::ProviderArg;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
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

/// `apply`'s options.
#[derive(Args, Clone)]
pub struct ApplyFlags {
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
}

/// Options every command on a spec takes.
#[derive(Args, Clone)]
pub struct SpecArgs {
    /// The spec (JSON; comments and trailing commas allowed).
    pub spec: PathBuf,
    #[command(flatten)]
    pub state: StateFlags,
    /// How long to wait for a state another rkit holds (default: fail at once, naming it).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Bind a provider module: `NAME=PATH`, or `PATH` for the name the module declares.
    /// Repeatable.
    #[arg(long = "provider", value_name = "[NAME=]PATH")]
    pub providers: Vec<ProviderArg>,
    /// How many provider calls may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Load providers fetched by reference even when unsigned or signed by an untrusted key.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Approve what each provider module asks for and is given (credentials, API actions,
    /// HTTP, a directory, limits), recording it in rkit.lock. Without it rkit asks at a
    /// terminal and refuses elsewhere; `--yes` never approves capabilities.
    #[arg(long)]
    pub approve: bool,
    /// A parameter's value (repeatable; also `RKIT_VAR_NAME` and --var-file).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = crate::spec::parameters::parse_var)]
    pub vars: Vec<(String, String)>,
    /// A JSON object of parameter values (repeatable; later files and --var win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl SpecArgs {
    /// The parameter values given: `--var`, `--var-file` and `RKIT_VAR_*`.
    pub fn given(&self) -> crate::spec::parameters::Given {
        crate::spec::parameters::Given::from_env(self.vars.clone(), self.var_files.clone())
    }

    /// The state the flags choose (`None`: the spec's, as its loaded `State` says).
    pub fn state_ref(&self) -> Result<Option<crate::state::StateRef>> {
        if self.state.state.is_none() && self.state.state_key_from.is_none() {
            return Ok(None);
        }
        self.state.resolve(Some(&self.spec)).map(Some)
    }
}

/// Which state: the spec's, or another; and where its key comes from.
#[derive(Args, Clone, Default)]
pub struct StateFlags {
    /// The state: a file, or `s3://BUCKET/KEY` (default: the spec's `State`, else
    /// `<spec stem>.rkit-state.json` beside the spec).
    #[arg(long)]
    pub state: Option<crate::state::Location>,
    /// The state's key (`env:NAME` or `file:PATH`), instead of the spec's
    /// `State.Encryption.KeyFrom`.
    #[arg(long, value_name = "env:NAME|file:PATH")]
    pub state_key_from: Option<String>,
}

impl StateFlags {
    /// The state of the spec at `spec` (its `State` section, else beside it), or `--state`;
    /// its key from `--state-key-from`, else the spec's.
    pub fn resolve(&self, spec: Option<&std::path::Path>) -> Result<crate::state::StateRef> {
        let (location, key_from) = self.choose(spec)?;
        crate::state::StateRef::new(location, key_from.as_deref())
    }

    /// Where the state is and where its key comes from (not read yet).
    pub fn choose(
        &self,
        spec: Option<&std::path::Path>,
    ) -> Result<(crate::state::Location, Option<String>)> {
        let (location, key_from) = match (&self.state, spec) {
            (Some(location), Some(spec)) => (location.clone(), crate::spec::state_of(spec)?.1),
            (Some(location), None) => (location.clone(), None),
            (None, Some(spec)) => crate::spec::state_of(spec)?,
            (None, None) => anyhow::bail!("give the spec or --state"),
        };
        Ok((location, self.state_key_from.clone().or(key_from)))
    }
}

/// Limiting a run to some resources, or forcing replacements.
#[derive(Args, Clone, Default)]
pub struct FocusArgs {
    /// Only this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Not this resource, nor what depends on it (repeatable).
    #[arg(long = "exclude", value_name = "NAME")]
    pub excludes: Vec<String>,
    /// Replace this resource even though no change forces it (repeatable).
    #[arg(long = "replace", value_name = "NAME")]
    pub replace: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spec: syntax, references, cycles, and every resource through its provider.
    #[command(
        after_help = "Examples:\n  rkit validate stack.json\n  rkit validate stack.json --var-file prod.json",
        mut_arg("state", |a| a.hide(true)),
        mut_arg("state_key_from", |a| a.hide(true)),
        mut_arg("lock_timeout", |a| a.hide(true)),
        mut_arg("parallelism", |a| a.hide(true))
    )]
    Validate(SpecArgs),
    /// Show what apply would do.
    #[command(
        after_help = "Examples:\n  rkit plan stack.json\n  rkit plan stack.json --out plan.json && rkit apply plan.json\n  rkit plan stack.json --target Web --replace 'Web[0]'\n  rkit plan stack.json --detailed-exitcode   # exit 2 when changes are pending"
    )]
    Plan {
        #[command(flatten)]
        args: SpecArgs,
        /// Report as JSON, one object per line: a `planned_change` per change, a
        /// `change_summary`, and the whole `plan`.
        #[arg(long)]
        json: bool,
        /// Save the plan, for `rkit apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read every recorded resource back first, to see drift.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        refresh: bool,
        /// Exit 2 when changes are pending (0: none, 1: error).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Look for objects carrying this stack's tags that the state does not record (one
        /// `list` per type in use) and plan to delete them.
        #[arg(long)]
        orphans: bool,
        /// Plan deleting everything the state records (what `destroy` would do).
        #[arg(long)]
        destroy: bool,
        /// Show sensitive values instead of `(sensitive)`.
        #[arg(long)]
        show_sensitive: bool,
        #[command(flatten)]
        focus: FocusArgs,
    },
    /// Converge resources to a spec, or execute a plan saved with `plan --out`.
    #[command(
        after_help = "Examples:\n  rkit apply stack.json                 # shows the plan, then asks\n  rkit apply stack.json --yes --approve # no questions (CI)\n  rkit apply plan.json                  # a plan saved with plan --out\n  rkit apply stack.json --replace Gateway"
    )]
    Apply {
        #[command(flatten)]
        args: SpecArgs,
        #[command(flatten)]
        flags: ApplyFlags,
        #[command(flatten)]
        focus: FocusArgs,
    },
    /// Delete everything the state records, dependents first, and every other object
    /// carrying this stack's tags (even with the state lost).
    #[command(
        after_help = "Examples:\n  rkit destroy stack.json\n  rkit destroy stack.json --yes --no-orphans   # only what the state records"
    )]
    Destroy {
        #[command(flatten)]
        args: SpecArgs,
        /// Destroy without asking (capabilities still need approval: --approve).
        #[arg(long)]
        yes: bool,
        /// Leave alone the objects carrying this stack's tags that the state does not record
        /// (by default they are looked for, one `list` per type in use, and deleted too).
        #[arg(long)]
        no_orphans: bool,
        /// Look for those objects too (the default; as `plan --orphans`).
        #[arg(long, overrides_with = "no_orphans")]
        orphans: bool,
        /// Report as JSON, one object per line (needs --yes: rkit cannot ask).
        #[arg(long)]
        json: bool,
    },
    /// Keep reality converged to the spec: each tick refresh, plan and apply what differs
    /// (deleted outside rkit, drifted, dependents to update), then sleep.
    #[command(
        after_help = "Examples:\n  rkit converge stack.json --interval 1m --listen :9100\n  rkit converge stack.json --once --observe-only   # exit 2 when drift is found\n  rkit converge stack.json --follow-spec           # apply edits to the spec as they land"
    )]
    Converge {
        #[command(flatten)]
        args: SpecArgs,
        /// Time between ticks (jittered ±10%; doubled up to 8× while providers throttle).
        #[arg(long, default_value = "30s", value_parser = crate::duration::positive)]
        interval: std::time::Duration,
        /// One tick, then exit (for cron and CI).
        #[arg(long)]
        once: bool,
        /// Report drift and change nothing (with --once: exit 2 when drift was found).
        #[arg(long)]
        observe_only: bool,
        /// Apply a changed spec file at the next tick (else it is reported as pending).
        #[arg(long)]
        follow_spec: bool,
        /// At most this many operations start per tick; the rest wait for the next one.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        max_operations: u32,
        /// Serve /healthz and /metrics (Prometheus) on HOST:PORT, or :PORT for loopback.
        #[arg(long, value_name = "ADDR", value_parser = serve::parse_listen)]
        listen: Option<std::net::SocketAddr>,
        /// Report as JSON, one object per line.
        #[arg(long)]
        json: bool,
    },
    /// Record an existing object as a resource of the spec: read through its provider,
    /// recorded, and tagged as the stack's. The next plan shows how it differs from the spec.
    #[command(after_help = "Example:\n  rkit import stack.json Network vpc-0abc1234")]
    Import {
        #[command(flatten)]
        args: SpecArgs,
        /// The resource's name in the spec.
        name: String,
        /// The object's ID (as its provider spells it: `vpc-0abc…`, a path, …).
        id: String,
    },
    /// Resolve the spec's providers: fetch those named by reference, check signatures,
    /// approve what every module asks for and is given, and write `rkit.lock`.
    #[command(
        after_help = "Example:\n  rkit init stack.json --approve   # fetch, verify and approve the providers once",
        mut_arg("state", |a| a.hide(true)),
        mut_arg("state_key_from", |a| a.hide(true)),
        mut_arg("lock_timeout", |a| a.hide(true)),
        mut_arg("parallelism", |a| a.hide(true))
    )]
    Init {
        #[command(flatten)]
        args: SpecArgs,
    },
    /// Release the lock of a shared state (in S3) that its holder left behind; its
    /// holder's next write fails instead of landing.
    ForceUnlock {
        #[command(flatten)]
        state: StateFlags,
        /// The spec (unless --state is given), then the lock ID the lock error showed.
        #[arg(value_name = "[SPEC] LOCK_ID", required = true)]
        args: Vec<String>,
    },
    /// Print the outputs recorded by the last complete apply.
    #[command(
        after_help = "Examples:\n  rkit output stack.json\n  rkit output stack.json Token --raw > token.txt\n  rkit output stack.json --json"
    )]
    Output {
        #[command(flatten)]
        state: StateFlags,
        /// The spec (unless --state is given), then optionally one output's name.
        #[arg(value_name = "[SPEC] [NAME]")]
        args: Vec<String>,
        /// As JSON: all outputs as one object, each `{"Value": …, "Sensitive": bool}` (a
        /// sensitive one without `Value` unless --show-sensitive); with NAME, that value (shown
        /// even if sensitive: asking for one output is asking to see it).
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// With NAME: a string output as it is, without quotes (for scripts); a sensitive
        /// output is shown (asking for one output raw is asking to see it).
        #[arg(long)]
        raw: bool,
        /// Show sensitive outputs instead of `(sensitive)`.
        #[arg(long)]
        show_sensitive: bool,
    },
    /// Show what the state records (resources and outputs), or a plan saved with
    /// `plan --out`; sensitive values as `(sensitive)`.
    Show {
        /// A spec (its state is shown) or a saved plan.
        file: PathBuf,
        #[command(flatten)]
        state: StateFlags,
        /// One JSON document.
        #[arg(long)]
        json: bool,
        /// Show sensitive values.
        #[arg(long)]
        show_sensitive: bool,
    },
    /// Print the dependency graph: Graphviz DOT, or an SVG picture.
    #[command(
        after_help = "Examples:\n  rkit graph stack.json | dot -Tpng > graph.png\n  rkit graph stack.json --format svg --plan plan.json > plan.svg"
    )]
    Graph {
        /// The spec.
        spec: PathBuf,
        /// `dot` or `svg`.
        #[arg(long, default_value = "dot", value_parser = ["dot", "svg"])]
        format: String,
        /// Colour each resource by what this saved plan (`plan --out`) does to it.
        #[arg(long, value_name = "PLANFILE")]
        plan: Option<PathBuf>,
    },
    /// Read the recorded state, or change it without a text editor.
    #[command(subcommand)]
    State(StateCommand),
    /// Work with provider modules.
    #[command(subcommand)]
    Provider(ProviderCommand),
}

#[derive(Subcommand)]
enum StateCommand {
    /// List the recorded resources.
    List(StateArgs),
    /// Show one recorded resource.
    Show(StateNames),
    /// Forget resources: the state stops recording them and their objects are left as they
    /// are (kept out of the orphan scan).
    Rm(StateNames),
    /// Rename a recorded resource (after renaming it in the spec).
    Mv(StateNames),
    /// Print the whole state as JSON (decrypted), e.g. to keep a copy or edit it and push it.
    Pull(StateArgs),
    /// Replace the state with a JSON file (from `state pull`): refused if it is of another
    /// lineage, older, or of the same serial with other contents.
    Push {
        #[command(flatten)]
        state: StateFlags,
        /// The spec (unless --state is given), then the state file to push.
        #[arg(value_name = "[SPEC] FILE", required = true)]
        args: Vec<String>,
        /// Push even another lineage, an older serial, or other contents under the state's
        /// own serial.
        #[arg(long)]
        force: bool,
    },
    /// Move the state to another place (a file or `s3://BUCKET/KEY`); the old place keeps
    /// only where it went, so that it is never used again by mistake.
    Migrate {
        /// The spec whose state to move.
        #[arg(required_unless_present = "state")]
        spec: Option<PathBuf>,
        #[command(flatten)]
        state: StateFlags,
        /// Where to move it.
        #[arg(long)]
        to: crate::state::Location,
    },
    /// Seal the state again with its current key (the spec's `State.Encryption.KeyFrom` or
    /// --state-key-from; none: decrypt it), reading it with the old one.
    Rekey {
        /// The spec whose state to rekey.
        #[arg(required_unless_present = "state")]
        spec: Option<PathBuf>,
        #[command(flatten)]
        state: StateFlags,
        /// The key the state is sealed with now: `env:NAME`, `file:PATH`, or `none` (a state
        /// in the clear, to encrypt).
        #[arg(long, value_name = "env:NAME|file:PATH|none")]
        old_key_from: String,
    },
    /// Make a new random key for encrypting a state (32 bytes, base64).
    NewKey {
        /// Write it to this new file (readable by you only) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `SPEC NAME…`, or `--state FILE NAME…`.
#[derive(Args)]
pub struct StateNames {
    #[command(flatten)]
    pub state: StateFlags,
    /// The spec (unless --state is given), then the resource names.
    #[arg(value_name = "[SPEC] NAME", required = true)]
    pub args: Vec<String>,
    /// Show sensitive values instead of `(sensitive)` (state show).
    #[arg(long)]
    pub show_sensitive: bool,
}

/// Which state to read: the spec's default, or `--state`.
#[derive(Args)]
pub struct StateArgs {
    /// The spec whose state to read.
    #[arg(required_unless_present = "state")]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateFlags,
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// Print a provider's name, version, resource types with their property schemas, and the
    /// capabilities it asks for.
    Inspect {
        /// The provider component (.wasm).
        module: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Publish a provider module to an OCI registry (`host[:port]/repo:tag`) or a directory
    /// registry (`file://DIR:tag`, or `repo:tag` in the default one).
    Publish {
        /// The provider component (.wasm).
        module: PathBuf,
        /// Where to publish it.
        reference: String,
        /// Sign the manifest with this secret key (from `rkit provider keygen`).
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
    },
    /// Fetch a provider into the local cache (by digest: from the cache, offline).
    Pull {
        /// `host[:port]/repo:tag`, `…@sha256:HEX`, `file://DIR:tag`.
        reference: String,
    },
    /// Make an ed25519 key pair for signing: writes NAME.key (secret) and NAME.pub.
    Keygen {
        /// The files' path without extension.
        name: PathBuf,
    },
    /// List the cached providers: reference, digests, signer, capabilities.
    List,
    /// Write a new provider to start from (one resource type, a test, the build command, a
    /// spec using it) into a new directory NAME.
    New {
        /// Its language.
        #[arg(long, value_parser = ["rust", "python", "js"])]
        lang: String,
        /// The provider's name (lowercase letters, digits and -).
        name: String,
        /// Where to write it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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
    let interrupt = &interrupt;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate(args) => run::validate(&args, interrupt).await,
            Command::Init { args } => run::init(&args, interrupt).await,
            Command::Plan {
                args,
                json,
                out,
                refresh,
                detailed_exitcode,
                orphans,
                destroy,
                show_sensitive,
                focus,
            } => {
                let flags = run::PlanFlags {
                    json,
                    reveal: show_sensitive,
                    out: out.as_deref(),
                    refresh,
                    detailed_exitcode,
                    orphans,
                    destroy,
                };
                run::plan(&args, &flags, &focus, interrupt).await
            }
            Command::Apply { args, flags, focus } => {
                run::apply(&args, &flags, &focus, interrupt).await
            }
            Command::Destroy {
                args,
                yes,
                no_orphans,
                orphans: _,
                json,
            } => run::destroy(&args, yes, !no_orphans, json, interrupt).await,
            Command::Import { args, name, id } => run::import(&args, &name, &id, interrupt).await,
            Command::Converge {
                args,
                interval,
                once,
                observe_only,
                follow_spec,
                max_operations,
                listen,
                json,
            } => {
                let options = crate::engine::converge::Options {
                    interval,
                    once,
                    observe_only,
                    follow_spec,
                    max_operations: max_operations as usize,
                    parallelism: args.parallelism.into(),
                };
                run::converge(&args, &options, listen, json, interrupt).await
            }
            Command::ForceUnlock { state, args } => commands::force_unlock(state, args),
            Command::Output {
                state,
                args,
                json,
                raw,
                show_sensitive,
            } => commands::output(state, args, json, raw, show_sensitive),
            Command::Show {
                file,
                state,
                json,
                show_sensitive,
            } => commands::show(&file, state, json, show_sensitive),
            Command::Graph { spec, format, plan } => {
                commands::graph(&spec, &format, plan.as_deref())
            }
            Command::State(StateCommand::List(args)) => state::list(&args),
            Command::State(StateCommand::Show(names)) => state::show(&names),
            Command::State(StateCommand::Rm(names)) => state::rm(&names),
            Command::State(StateCommand::Mv(names)) => state::mv(&names),
            Command::State(StateCommand::Pull(args)) => state::pull(&args),
            Command::State(StateCommand::Push { state, args, force }) => {
                state::push(&state, args, force)
            }
            Command::State(StateCommand::Migrate { spec, state, to }) => {
                state::migrate(spec.as_deref(), &state, &to)
            }
            Command::State(StateCommand::Rekey {
                spec,
                state,
                old_key_from,
            }) => state::rekey(spec.as_deref(), &state, &old_key_from),
            Command::State(StateCommand::NewKey { out }) => state::new_key(out.as_deref()),
            Command::Provider(ProviderCommand::Inspect { module, json }) => {
                inspect::run(&module, json)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Provider(ProviderCommand::Publish {
                module,
                reference,
                sign,
            }) => registry::publish(&module, &reference, sign.as_deref()).await,
            Command::Provider(ProviderCommand::Pull { reference }) => {
                registry::pull(&reference).await
            }
            Command::Provider(ProviderCommand::Keygen { name }) => registry::keygen(&name),
            Command::Provider(ProviderCommand::List) => registry::list(),
            Command::Provider(ProviderCommand::New { lang, name, dir }) => {
                scaffold::run(&lang, &name, dir.as_deref())
            }
        }
    });
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
