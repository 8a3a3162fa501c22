//! `rkit provider keygen`: an ed25519 key pair for signing provider manifests: NAME.key
//! (secret, readable by its owner only) and NAME.pub.

use crate::engine::Interrupt;
use crate::registry::signing;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Make an ed25519 key pair for signing: writes NAME.key (secret) and NAME.pub.
#[derive(Args)]
pub struct KeygenArgs {
    /// The files' path without extension.
    pub name: PathBuf,
}

/// Makes a key pair at `name`.key / `name`.pub.
pub async fn exec(args: KeygenArgs, _: &Interrupt) -> Result<ExitCode> {
    let name = &args.name;
    let public = signing::keygen(name)?;
    crate::outln!(
        "secret key: {} (keep it private)",
        name.with_extension("key").display()
    );
    crate::outln!(
        "public key: {} = {public}",
        name.with_extension("pub").display()
    );
    crate::outln!("trust it in a spec with \"TrustedKeys\": [\"{public}\"]");
    Ok(ExitCode::SUCCESS)
}
