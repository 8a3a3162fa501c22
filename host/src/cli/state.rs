//! `rkit state …`: read the recorded state, change it without a text editor, move it between
//! places (a file, S3), copy it out and back in, and change the key it is sealed with.
//!
//! Invariants: every command that writes takes the state's lock (both states' for a
//! migration) and writes through the store (journal or snapshot, sealed when the state is
//! encrypted); a state moved away is replaced by a marker naming where it went, so that the
//! old place is never used again by mistake; a push never replaces a state by an older one of
//! its history or by another history without `--force`.

use super::commands::{spec_and_names, state_and_names};
use super::{StateArgs, StateFlags, StateNames};
use crate::engine::sensitive;
use crate::state::{Change, Location, State, StateRef, StateStore};
use crate::text::{escape, escape_json};
use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;
use std::process::ExitCode;

fn read(args: &StateArgs) -> Result<(StateRef, State)> {
    let state_ref = args.state.resolve(args.spec.as_deref())?;
    // Reading needs no lock: the snapshot is replaced atomically and the journal replayed.
    let state = StateStore::read_only(&state_ref.location, &state_ref.keys)?;
    Ok((state_ref, state))
}

/// `rkit state list`.
pub fn list(args: &StateArgs) -> Result<ExitCode> {
    let (_, state) = read(args)?;
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

/// The state and resource names of `state show|rm|mv`.
fn names(names: &StateNames) -> Result<(StateRef, Vec<String>)> {
    state_and_names(&names.state, names.args.clone(), 1, "the resource names")
}

/// `rkit state show`.
pub fn show(args: &StateNames) -> Result<ExitCode> {
    let reveal = args.show_sensitive;
    let (state_ref, names) = names(args)?;
    let state = StateStore::read_only(&state_ref.location, &state_ref.keys)?;
    for name in names {
        let Some(r) = state.resources.get(&name) else {
            bail!(
                "the state {} records no resource {name:?}",
                state_ref.location
            );
        };
        let shown = sensitive::shown_resource(r, reveal);
        crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&shown)?));
    }
    Ok(ExitCode::SUCCESS)
}

/// `rkit state rm`.
pub fn rm(args: &StateNames) -> Result<ExitCode> {
    let (state_ref, names) = names(args)?;
    let path = &state_ref.location;
    let mut store = StateStore::open_existing(path, &state_ref.keys)?;
    for name in &names {
        if !store.state.resources.contains_key(name) {
            bail!("the state {path} records no resource {name:?}");
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

/// `rkit state mv`.
pub fn mv(args: &StateNames) -> Result<ExitCode> {
    let (state_ref, names) = names(args)?;
    let path = &state_ref.location;
    let [from, to] = names.as_slice() else {
        bail!("state mv takes two names: the recorded one and the new one");
    };
    let mut store = StateStore::open_existing(path, &state_ref.keys)?;
    if !store.state.resources.contains_key(from) {
        bail!("the state {path} records no resource {from:?}");
    }
    if store.state.resources.contains_key(to) {
        bail!("the state {path} already records a resource {to:?}");
    }
    store.change(from, Change::MovedTo(to.clone()))?;
    store.compact()?;
    crate::outln!("{} is now recorded as {}", escape(from), escape(to));
    Ok(ExitCode::SUCCESS)
}

/// `rkit state pull`: the whole state as JSON (decrypted; sensitive values included, as in
/// the state itself).
pub fn pull(args: &StateArgs) -> Result<ExitCode> {
    let (_, state) = read(args)?;
    crate::outln!("{}", escape_json(&serde_json::to_string_pretty(&state)?));
    Ok(ExitCode::SUCCESS)
}

/// `rkit state push`.
pub fn push(flags: &StateFlags, args: Vec<String>, force: bool) -> Result<ExitCode> {
    let (spec, files) = spec_and_names(flags, args, 1, "the state file to push")?;
    let [file] = files.as_slice() else {
        bail!("state push takes one file");
    };
    let state_ref = flags.resolve(spec.as_deref())?;
    let bytes = std::fs::read(file).map_err(|e| anyhow!("{file}: cannot read it ({e})"))?;
    let pushed: State =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{file}: not an rkit state: {e}"))?;
    let mut store = StateStore::open_destination(&state_ref.location, &state_ref.keys)?;
    crate::state::check_push(&store.state, &pushed, file, force)
        .map_err(|e| anyhow!("{e} (the state {})", state_ref.location))?;
    if store.state.moved_to.is_none() && store.state == pushed {
        crate::outln!(
            "The state {} already is what {file} holds: nothing to push.",
            state_ref.location
        );
        return Ok(ExitCode::SUCCESS);
    }
    let count = pushed.resources.len();
    store.replace(pushed)?;
    crate::outln!(
        "Pushed {file} to the state {} ({count} resources, serial {}).",
        state_ref.location,
        store.state.serial
    );
    Ok(ExitCode::SUCCESS)
}

/// `rkit state migrate`.
pub fn migrate(spec: Option<&Path>, flags: &StateFlags, to: &Location) -> Result<ExitCode> {
    let (from, key_from) = flags.choose(spec)?;
    if &from == to {
        bail!("the state already is at {to}");
    }
    let state_ref = StateRef::new(from.clone(), key_from.as_deref())?;
    let mut source = StateStore::open_existing(&from, &state_ref.keys)?;
    let mut destination = StateStore::open_destination(to, &state_ref.keys)?;
    crate::state::check_destination(&destination.state, &source.state)
        .map_err(|e| anyhow!("the state {to} {e}: choose another place, or remove it first"))?;
    let count = source.state.resources.len();
    destination.replace(source.state.clone())?;
    drop(destination);
    source
        .replace(State::moved(&source.state, to))
        .with_context(|| format!("the state is now at {to}, and marking {from} as moved"))?;
    crate::outln!("Moved the state ({count} resources) from {from} to {to}.");
    crate::outln!(
        "{from} now only says where the state went. Point the spec at the new place (or pass \
         --state {to}):"
    );
    crate::outln!(
        "  \"State\": {}",
        spec_section(to, spec, key_from.as_deref())
    );
    Ok(ExitCode::SUCCESS)
}

/// The spec's `"State"` section for `to`.
fn spec_section(to: &Location, spec: Option<&Path>, key_from: Option<&str>) -> String {
    let mut section = serde_json::Map::new();
    match to {
        Location::S3(s3) => {
            section.insert("Backend".into(), "s3".into());
            section.insert("Bucket".into(), s3.bucket.clone().into());
            section.insert("Key".into(), s3.key.clone().into());
            if let Some(r) = &s3.region {
                section.insert("Region".into(), r.clone().into());
            }
            if let Some(e) = &s3.endpoint {
                section.insert("Endpoint".into(), e.clone().into());
            }
        }
        Location::File(path) => {
            // Relative to the spec's directory when under it (as the spec reads Path).
            let cwd = std::env::current_dir().unwrap_or_default();
            let absolute = cwd.join(path);
            let dir = cwd.join(spec.and_then(Path::parent).unwrap_or(Path::new("")));
            let shown = absolute.strip_prefix(&dir).unwrap_or(&absolute);
            section.insert("Path".into(), shown.display().to_string().into());
        }
    }
    if let Some(from) = key_from {
        section.insert("Encryption".into(), serde_json::json!({ "KeyFrom": from }));
    }
    escape(&serde_json::Value::Object(section).to_string()).into_owned()
}

/// `rkit state rekey`.
pub fn rekey(spec: Option<&Path>, flags: &StateFlags, old_key_from: &str) -> Result<ExitCode> {
    let state_ref = flags.resolve(spec)?;
    let keys = state_ref.keys.clone().with_old(old_key_from)?;
    let mut store = StateStore::open_existing(&state_ref.location, &keys)?;
    store.compact()?;
    match &keys.current {
        Some(key) => crate::outln!(
            "The state {} is sealed with the key from {} (key {}).",
            state_ref.location,
            escape(&key.from),
            key.id
        ),
        None => crate::outln!("The state {} is now in the clear.", state_ref.location),
    }
    Ok(ExitCode::SUCCESS)
}

/// `rkit state new-key`.
pub fn new_key(out: Option<&Path>) -> Result<ExitCode> {
    let key = crate::state::crypt::Key::generate()?;
    let Some(out) = out else {
        crate::outln!("{key}");
        return Ok(ExitCode::SUCCESS);
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| {
        anyhow!(
            "{}: cannot create it ({e}); a key file is never overwritten",
            out.display()
        )
    })?;
    std::io::Write::write_all(&mut file, format!("{key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    crate::outln!(
        "Wrote a new key to {} (readable by you only): \"Encryption\": {{\"KeyFrom\": \
         \"file:{}\"}}. Keep a copy somewhere safe: without it the state cannot be read.",
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
