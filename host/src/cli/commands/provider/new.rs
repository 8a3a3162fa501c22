//! `rkit provider new`: write a working provider to start from (one resource type, a test,
//! the build command, a spec using it) into a new directory; the files come from
//! [`crate::cli::scaffold`].

use crate::engine::Interrupt;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write a new provider to start from (one resource type, a test, the build command, a
/// spec using it) into a new directory NAME.
#[derive(Args)]
pub struct NewArgs {
    /// Its language.
    #[arg(long, value_parser = ["rust", "python", "js"])]
    pub lang: String,
    /// The provider's name (lowercase letters, digits and -).
    pub name: String,
    /// Where to write it (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Writes the skeleton.
pub async fn exec(args: NewArgs, _: &Interrupt) -> Result<ExitCode> {
    crate::cli::scaffold::run(&args.lang, &args.name, args.dir.as_deref())
}
