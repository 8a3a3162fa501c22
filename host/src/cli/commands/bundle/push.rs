//! `rkit bundle push SPEC --sign KEY`: the spec, checked as `validate` checks it, packed with
//! what it needs, signed and stored beside the stack's state (the spec's `State`, or
//! `--state`). The machines following the bundle apply it at their next tick.

use crate::cli::args::StateFlags;
use crate::engine::Interrupt;
use crate::registry::signing;
use crate::state::Location;
use anyhow::Result;
use clap::Args;
use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Sign the spec and store it as the stack's bundle.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit bundle push stack.json --sign ops.key --var-file prod.json"
)]
pub struct PushArgs {
    /// The spec.
    pub spec: PathBuf,
    /// Sign with this secret key (from `rkit provider keygen`); machines trust its `.pub`.
    #[arg(long, value_name = "KEY")]
    pub sign: PathBuf,
    /// A parameters file to carry with the spec (repeatable; under the spec's directory).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    #[command(flatten)]
    pub state: StateFlags,
}

/// Packs, signs and stores the bundle.
pub async fn exec(args: PushArgs, _: &Interrupt) -> Result<ExitCode> {
    let key = signing::read_secret(&args.sign)?;
    let (location, _) = args.state.choose(Some(&args.spec))?;
    push(&args.spec, &args.var_files, &key, &location)?;
    Ok(ExitCode::SUCCESS)
}

/// Packs the spec at `spec` (with `var_files`), signs it with `key` and stores it at
/// `location`, serial counted on from the stored bundle's; says what it pushed.
pub fn push(
    spec: &Path,
    var_files: &[PathBuf],
    key: &SigningKey,
    location: &Location,
) -> Result<()> {
    // The serial counts on from the stored bundle's, so a machine refuses an older one.
    let stored = crate::bundle::fetch(location)?;
    let serial = stored
        .as_deref()
        .and_then(crate::bundle::serial_of)
        .unwrap_or(0)
        .saturating_add(1);
    let push = crate::bundle::Push {
        stack: crate::bundle::stack_of(location),
        serial,
        by: crate::engine::who(),
        at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let bundle = crate::bundle::pack(spec, var_files, push)?;
    let files = bundle.files.len();
    let (sealed, digest) = crate::bundle::seal(&bundle, key)?;
    let size = sealed.len();
    crate::bundle::push(location, sealed)?;
    crate::outln!("pushed the bundle of {} to {location}", spec.display());
    crate::outln!("  serial {serial}, {files} files, {size} bytes, {digest}");
    crate::outln!("  signed by {}", signing::public_text(&key.verifying_key()));
    Ok(())
}
