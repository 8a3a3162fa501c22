//! `rkit state migrate`: move the state to another place (a file or `s3://BUCKET/KEY`),
//! both locked; the old place keeps only a marker naming where it went, so that it is never
//! used again by mistake.

use crate::cli::args::StateFlags;
use crate::engine::Interrupt;
use crate::state::{Location, State, StateRef, StateStore};
use crate::text::escape;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Move the state to another place (a file or `s3://BUCKET/KEY`); the old place keeps
/// only where it went, so that it is never used again by mistake.
#[derive(Args)]
pub struct MigrateArgs {
    /// The spec whose state to move.
    #[arg(required_unless_present = "state")]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateFlags,
    /// Where to move it.
    #[arg(long)]
    pub to: Location,
}

/// `rkit state migrate`.
pub async fn exec(args: MigrateArgs, _: &Interrupt) -> Result<ExitCode> {
    let (spec, flags, to) = (args.spec.as_deref(), &args.state, &args.to);
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
