//! `rkit show`: what the state records (resources and outputs), or a plan saved with
//! `plan --out`; sensitive values as `(sensitive)` unless `--show-sensitive`.

use crate::cli::args::StateFlags;
use crate::engine::{Interrupt, PlanFile, shown_outputs, shown_resource};
use crate::state::StateStore;
use crate::text::{escape, escape_json};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Show what the state records (resources and outputs), or a plan saved with
/// `plan --out`; sensitive values as `(sensitive)`.
#[derive(Args)]
pub struct ShowArgs {
    /// A spec (its state is shown) or a saved plan.
    pub file: PathBuf,
    #[command(flatten)]
    pub state: StateFlags,
    /// One JSON document.
    #[arg(long)]
    pub json: bool,
    /// Show sensitive values.
    #[arg(long)]
    pub show_sensitive: bool,
}

/// `rkit show`: a saved plan, or what the state of a spec records.
pub async fn exec(args: ShowArgs, _: &Interrupt) -> Result<ExitCode> {
    let ShowArgs {
        file,
        state,
        json,
        show_sensitive: reveal,
    } = args;
    let file = file.as_path();
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    if PlanFile::sniff(&text) {
        let saved = PlanFile::parse(file, &text)?;
        let plan = if reveal {
            saved.plan
        } else {
            saved.plan.redacted()
        };
        if json {
            crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&plan)?));
        } else {
            crate::outln!(
                "Saved plan of stack {} (from {}, for {}):",
                escape(&plan.stack),
                file.display(),
                saved.state_path
            );
            crate::cli::render::write_plan(&plan, reveal, &mut |text| crate::out!("{text}"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let state_ref = state.resolve(Some(file))?;
    let path = &state_ref.location;
    let state = StateStore::read_only(path, &state_ref.keys)?;
    let resources: std::collections::BTreeMap<&String, crate::state::ResourceState> = state
        .resources
        .iter()
        .map(|(n, r)| (n, shown_resource(r, reveal)))
        .collect();
    let outputs = shown_outputs(&state, reveal);
    if json {
        let doc = serde_json::json!({
            "Lineage": state.lineage,
            "Serial": state.serial,
            "Resources": resources,
            "Outputs": outputs,
            "PolicyOverrides": state.policy_overrides,
        });
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&doc)?));
        return Ok(ExitCode::SUCCESS);
    }
    if resources.is_empty() {
        crate::outln!("The state {} records no resource.", path);
    }
    for (name, r) in &resources {
        crate::out!("{}", crate::cli::render::resource(name, r));
    }
    if !outputs.is_empty() {
        crate::outln!("Outputs:");
        for (name, value) in &outputs {
            crate::outln!(
                "  {} = {}",
                escape(name),
                crate::cli::render::json_value(value)
            );
        }
    }
    show_overrides(&state.policy_overrides);
    Ok(ExitCode::SUCCESS)
}

/// The state's history of policy overrides: which, why, who and when.
fn show_overrides(overrides: &[crate::policy::Override]) {
    if overrides.is_empty() {
        return;
    }
    crate::outln!("Policy overrides:");
    for o in overrides {
        crate::outln!(
            "  {} overridden by {} at {} (serial {}): {}",
            escape(&o.policy),
            escape(&o.who),
            escape(&o.at),
            o.serial,
            escape(&o.reason)
        );
        for message in &o.messages {
            crate::outln!("    - {}", escape(message));
        }
    }
}
