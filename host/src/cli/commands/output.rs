//! `rkit output`: the outputs recorded by the last complete apply; one by name (`--raw` for
//! scripts), or all as JSON. Sensitive outputs are masked unless asked for by name or with
//! `--show-sensitive`. Reads the state without locking it.

use crate::cli::args::{StateFlags, state_and_names};
use crate::engine::{Interrupt, shown_outputs};
use crate::state::StateStore;
use crate::text::{escape, escape_json};
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

/// Print the outputs recorded by the last complete apply.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit output stack.json\n  rkit output stack.json Token --raw > token.txt\n  rkit output stack.json --json"
)]
pub struct OutputArgs {
    #[command(flatten)]
    pub state: StateFlags,
    /// The spec (unless --state is given), then optionally one output's name.
    #[arg(value_name = "[SPEC] [NAME]")]
    pub args: Vec<String>,
    /// As JSON: all outputs as one object, each `{"Value": …, "Sensitive": bool}` (a
    /// sensitive one without `Value` unless --show-sensitive); with NAME, that value (shown
    /// even if sensitive: asking for one output is asking to see it).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// With NAME: a string output as it is, without quotes (for scripts); a sensitive
    /// output is shown (asking for one output raw is asking to see it).
    #[arg(long)]
    pub raw: bool,
    /// Show sensitive outputs instead of `(sensitive)`.
    #[arg(long)]
    pub show_sensitive: bool,
}

/// `rkit output`: the outputs recorded by the last complete apply.
pub async fn exec(args: OutputArgs, _: &Interrupt) -> Result<ExitCode> {
    let OutputArgs {
        state,
        args,
        json,
        raw,
        show_sensitive: reveal,
    } = args;
    let (state_ref, args) = state_and_names(&state, args, 0, "optionally an output's name")?;
    let name = match args.as_slice() {
        [] => None,
        [name] => Some(name.as_str()),
        _ => bail!("output takes at most one name"),
    };
    if raw && name.is_none() {
        bail!("--raw prints one output: give its name");
    }
    let state = StateStore::read_only(&state_ref.location, &state_ref.keys)?;
    // `--raw NAME` and `--json NAME` ask to see that one value (for a script).
    let one = name.is_some() && (raw || json);
    let shown = shown_outputs(&state, reveal || one);
    match name {
        None if json => {
            let all = json_outputs(&state, reveal);
            crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&all)?))
        }
        None => {
            for (name, value) in &shown {
                crate::outln!(
                    "{} = {}",
                    escape(name),
                    crate::cli::render::json_value(value)
                );
            }
        }
        Some(name) => {
            let Some(value) = shown.get(name) else {
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
                _ => crate::outln!("{}", crate::cli::render::json_value(value)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every output as `{"Value": …, "Sensitive": bool}` (as Terraform's `output -json`); a
/// sensitive one has no `Value` unless `reveal`, so no placeholder passes for a value.
fn json_outputs(
    state: &crate::state::State,
    reveal: bool,
) -> serde_json::Map<String, serde_json::Value> {
    state
        .outputs
        .iter()
        .map(|(name, value)| {
            let sensitive = state.sensitive_outputs.contains(name);
            let mut entry = serde_json::Map::new();
            if reveal || !sensitive {
                entry.insert("Value".into(), value.clone());
            }
            entry.insert("Sensitive".into(), sensitive.into());
            (name.clone(), entry.into())
        })
        .collect()
}
