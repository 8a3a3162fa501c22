//! The commands that read or edit a state, and the spec's graph.

use super::render;
use super::{StateArgs, StateNames};
use crate::engine::saved::PlanFile;
use crate::engine::sensitive;
use crate::graph::Graph;
use crate::spec;
use crate::state::Location;
use crate::state::State;
use crate::state::{Change, StateStore};
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
        "svg" => crate::outln!("{}", graph.svg(actions.as_ref())),
        _ => crate::out!("{}", graph.dot(actions.as_ref())),
    }
    Ok(ExitCode::SUCCESS)
}

fn read_state(args: &StateArgs) -> Result<State> {
    let path = match (&args.state, &args.spec) {
        (Some(state), _) => state.clone(),
        (None, Some(spec)) => crate::spec::state_location(spec)?,
        (None, None) => unreachable!("clap requires one"),
    };
    // Reading needs no lock: the snapshot is replaced atomically and the journal replayed.
    crate::state::StateStore::read_only(&path)
}

/// `rkit output`: the outputs recorded by the last complete apply.
pub fn output(
    state: Option<Location>,
    args: Vec<String>,
    json: bool,
    raw: bool,
    reveal: bool,
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
    // `--raw NAME` asks to see that one value.
    let shown = sensitive::shown_outputs(&state, reveal || raw);
    match name {
        None if json => crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&shown)?)),
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

/// `rkit force-unlock`: releases a shared state's lease left behind (and fences its holder).
pub fn force_unlock(state: Option<Location>, args: Vec<String>) -> Result<ExitCode> {
    let (location, ids) = state_and_names(state.as_ref(), args, 1, "the lock ID")?;
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
    state: Option<&Location>,
    mut args: Vec<String>,
    min: usize,
    what: &str,
) -> Result<(Location, Vec<String>)> {
    let path = match state {
        Some(state) => state.clone(),
        None if args.len() > min => crate::spec::state_location(Path::new(&args.remove(0)))?,
        None => bail!("give the spec (or --state FILE), then {what}"),
    };
    Ok((path, args))
}

/// The state file and resource names of `state show|rm|mv`.
fn state_names(names: &StateNames) -> Result<(Location, Vec<String>)> {
    state_and_names(
        names.state.as_ref(),
        names.args.clone(),
        1,
        "the resource names",
    )
}

pub fn state_show(names: &StateNames) -> Result<ExitCode> {
    let reveal = names.show_sensitive;
    let (path, names) = state_names(names)?;
    let state = crate::state::StateStore::read_only(&path)?;
    for name in names {
        let Some(r) = state.resources.get(&name) else {
            bail!("the state {} records no resource {name:?}", path);
        };
        let shown = sensitive::shown_resource(r, reveal);
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&shown)?));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn state_rm(names: &StateNames) -> Result<ExitCode> {
    let (path, names) = state_names(names)?;
    let mut store = StateStore::open_existing(&path)?;
    for name in &names {
        if !store.state.resources.contains_key(name) {
            bail!("the state {} records no resource {name:?}", path);
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
        bail!("the state {} records no resource {from:?}", path);
    }
    if store.state.resources.contains_key(to) {
        bail!("the state {} already records a resource {to:?}", path);
    }
    store.change(from, Change::MovedTo(to.clone()))?;
    store.compact()?;
    crate::outln!("{} is now recorded as {}", escape(from), escape(to));
    Ok(ExitCode::SUCCESS)
}

/// `rkit show`: a saved plan, or what the state of a spec records.
pub fn show(file: &Path, state: Option<Location>, json: bool, reveal: bool) -> Result<ExitCode> {
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
    let path = match state {
        Some(state) => state,
        None => crate::spec::state_location(file)?,
    };
    let state = crate::state::StateStore::read_only(&path)?;
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
