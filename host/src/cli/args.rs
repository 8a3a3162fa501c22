//! The argument groups several commands share: a spec with its state, providers and
//! parameters ([`SpecArgs`]); which state and its key ([`StateFlags`]); what a plan is limited
//! to ([`FocusArgs`]); and `[SPEC] NAME…` positional lists.
//!
//! Invariant: a group means the same on every command that flattens it (a command hides what
//! it does not use rather than reading it differently).

use crate::engine::ProviderArg;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;

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
    #[command(flatten)]
    pub policy: PolicyFlags,
}

/// Which policies check a run besides the spec's, and which of them it overrides.
#[derive(Args, Clone, Default)]
pub struct PolicyFlags {
    /// Check plans against these Rego policies too: a `.rego` file, a directory, or a
    /// signed bundle's reference (repeatable; also `RKIT_POLICIES`, comma-separated).
    #[arg(long = "policy", value_name = "PATH|REFERENCE")]
    pub policies: Vec<String>,
    /// Let an overridable policy's denials through (repeatable; needs --reason; recorded
    /// in the state's history with who and when).
    #[arg(long = "override", value_name = "PACKAGE")]
    pub overrides: Vec<String>,
    /// Why the overridden policies are let through.
    #[arg(long, value_name = "TEXT", requires = "overrides")]
    pub reason: Option<String>,
}

impl PolicyFlags {
    /// The sources `--policy` names.
    pub fn sources(&self) -> Vec<crate::policy::Source> {
        self.policies
            .iter()
            .map(|p| crate::policy::Source::at(p))
            .collect()
    }

    /// The run's checks: `policies`, with the overrides asked for.
    pub fn run(&self, policies: crate::policy::Policies) -> crate::engine::PolicyRun {
        crate::engine::PolicyRun {
            policies,
            overrides: self.overrides.clone(),
            reason: self.reason.clone(),
            who: crate::engine::who(),
        }
    }
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
            (None, None) => bail!("give the spec or --state"),
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

impl FocusArgs {
    /// The engine's focus.
    pub fn focus(&self) -> crate::engine::Focus {
        crate::engine::Focus {
            targets: self.targets.clone(),
            excludes: self.excludes.clone(),
            replace: self.replace.clone(),
        }
    }
}

/// The spec and the names that `SPEC NAME…` or `--state LOCATION NAME…` give (at least
/// `min` names); `what` says what the names are, for the error.
pub fn spec_and_names(
    state: &StateFlags,
    mut args: Vec<String>,
    min: usize,
    what: &str,
) -> Result<(Option<PathBuf>, Vec<String>)> {
    let spec = match &state.state {
        Some(_) => None,
        None if args.len() > min => Some(PathBuf::from(args.remove(0))),
        None => bail!("give the spec (or --state LOCATION), then {what}"),
    };
    Ok((spec, args))
}

/// The state and the names that `SPEC NAME…` or `--state LOCATION NAME…` give.
pub fn state_and_names(
    state: &StateFlags,
    args: Vec<String>,
    min: usize,
    what: &str,
) -> Result<(crate::state::StateRef, Vec<String>)> {
    let (spec, names) = spec_and_names(state, args, min, what)?;
    Ok((state.resolve(spec.as_deref())?, names))
}
