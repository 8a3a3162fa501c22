//! `rkit state new-key`: a new random key for encrypting a state (32 bytes, base64), printed
//! or written to a new file readable by its owner only (never over an existing file).

use crate::engine::Interrupt;
use anyhow::{Context, Result, anyhow};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Make a new random key for encrypting a state (32 bytes, base64).
#[derive(Args)]
pub struct NewKeyArgs {
    /// Write it to this new file (readable by you only) instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `rkit state new-key`.
pub async fn exec(args: NewKeyArgs, _: &Interrupt) -> Result<ExitCode> {
    let out = args.out.as_deref();
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
