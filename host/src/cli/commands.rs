//! The commands that show what a state records (outputs, `show`), release its lock, and draw
//! the spec's graph.

use super::StateFlags;
use super::render;
use crate::engine::saved::PlanFile;
use crate::engine::sensitive;
use crate::graph::Graph;
use crate::spec;
use crate::state::{Location, StateRef, StateStore};
use crate::text::{escape, escape_json};
use anyhow::{Result, bail};
use std::path::Path;
use std::process::ExitCode;

/// `rkit graph`: DOT or SVG, coloured by a saved plan's actions when given one.
pub fn graph(spec_path: &Path, format: &str, plan: Option<&Path>) -> Result<ExitCode> {
    let given = crate::spec::parameters::Given {
        lenient: true,
        ..crate::spec::parameters::Given::from_env(Vec::new(), Vec::new())
    };
    let spec = spec::load_with(spec_path, &given)?;
    let actions: Option<std::collections::HashMap<String, crate::engine::plan::Action>> = match plan
    {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
            let saved = PlanFile::parse(path, &text)?;
            Some(
                saved
                    .plan
                    .steps
                    .iter()
                    .filter(|s| s.orphan.is_none())
                    .map(|s| (s.name.clone(), s.action))
                    .collect(),
            )
        }
        None => None,
    };
    let graph = Graph::build(&spec)?;
    match format {
        "svg" => crate::outln!("{}", super::picture::svg(&graph, actions.as_ref())),
        _ => crate::out!("{}", super::picture::dot(&graph, actions.as_ref())),
    }
    Ok(ExitCode::SUCCESS)
}

/// `rkit output`: the outputs recorded by the last complete apply.
pub fn output(
    state: StateFlags,
    args: Vec<String>,
    json: bool,
    raw: bool,
    reveal: bool,
) -> Result<ExitCode> {
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
    let shown = sensitive::shown_outputs(&state, reveal || one);
    match name {
        None if json => {
            let all = json_outputs(&state, reveal);
            crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&all)?))
        }
        None => {
            for (name, value) in &shown {
                crate::outln!("{} = {}", escape(name), render::json_value(value));
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
                _ => crate::outln!("{}", render::json_value(value)),
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

/// `rkit force-unlock`: releases a shared state's lease left behind (and fences its holder).
pub fn force_unlock(state: StateFlags, args: Vec<String>) -> Result<ExitCode> {
    let (spec, ids) = spec_and_names(&state, args, 1, "the lock ID")?;
    let (location, _) = state.choose(spec.as_deref())?;
    let [id] = ids.as_slice() else {
        bail!("force-unlock takes one lock ID");
    };
    match &location {
        Location::S3(s3) => {
            let lease = crate::state::s3::force_unlock(s3, id)?;
            crate::outln!(
                "unlocked {location}: lock {} was held by {}; a write by that run now fails",
                escape(&lease.id),
                escape(&lease.holder)
            );
            Ok(ExitCode::SUCCESS)
        }
        Location::File(_) => bail!(
            "the state {location} is a file, locked with an OS lock that is released when its \
             holder exits: there is nothing to force"
        ),
    }
}

/// The spec and the names that `SPEC NAME…` or `--state LOCATION NAME…` give (at least
/// `min` names); `what` says what the names are, for the error.
pub fn spec_and_names(
    state: &StateFlags,
    mut args: Vec<String>,
    min: usize,
    what: &str,
) -> Result<(Option<std::path::PathBuf>, Vec<String>)> {
    let spec = match &state.state {
        Some(_) => None,
        None if args.len() > min => Some(std::path::PathBuf::from(args.remove(0))),
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
) -> Result<(StateRef, Vec<String>)> {
    let (spec, names) = spec_and_names(state, args, min, what)?;
    Ok((state.resolve(spec.as_deref())?, names))
}

/// `rkit show`: a saved plan, or what the state of a spec records.
pub fn show(file: &Path, state: StateFlags, json: bool, reveal: bool) -> Result<ExitCode> {
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
            crate::out!("{}", render::plan(&plan, reveal));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let state_ref = state.resolve(Some(file))?;
    let path = &state_ref.location;
    let state = StateStore::read_only(path, &state_ref.keys)?;
    let resources: std::collections::BTreeMap<&String, crate::state::ResourceState> = state
        .resources
        .iter()
        .map(|(n, r)| (n, sensitive::shown_resource(r, reveal)))
        .collect();
    let outputs = sensitive::shown_outputs(&state, reveal);
    if json {
        let doc = serde_json::json!({
            "Lineage": state.lineage,
            "Serial": state.serial,
            "Resources": resources,
            "Outputs": outputs,
        });
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&doc)?));
        return Ok(ExitCode::SUCCESS);
    }
    if resources.is_empty() {
        crate::outln!("The state {} records no resource.", path);
    }
    for (name, r) in &resources {
        crate::out!("{}", render::resource(name, r));
    }
    if !outputs.is_empty() {
        crate::outln!("Outputs:");
        for (name, value) in &outputs {
            crate::outln!("  {} = {}", escape(name), render::json_value(value));
        }
    }
    Ok(ExitCode::SUCCESS)
}
