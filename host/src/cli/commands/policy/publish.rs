//! `rkit policy publish DIR REFERENCE`: the directory's `.rego` files (tests included) as one
//! bundle, published to an OCI registry or a directory registry, its manifest signed when a
//! key is given. The policies must load (parse, and name a valid enforcement level) first.

use crate::engine::Interrupt;
use crate::registry::{self, ModuleRef, sha256_digest, signing};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Publish a directory of policies as a signed bundle.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit policy publish policies/ localhost:5000/team/policies:v1 --sign team.key"
)]
pub struct PublishArgs {
    /// The directory of `.rego` files.
    pub dir: PathBuf,
    /// Where to publish it (`host[:port]/repo:tag`, `file://DIR:tag`).
    pub reference: String,
    /// Sign the manifest with this secret key (from `rkit provider keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// Packs, checks and publishes the policies.
pub async fn exec(args: PublishArgs, _: &Interrupt) -> Result<ExitCode> {
    let shown = args.dir.display().to_string();
    let files = crate::policy::load::read_files(&args.dir, &shown, false)?;
    let policies = crate::policy::Policies::new(files)?;
    let bundle = crate::engine::pack_policies(&args.dir)?;
    let key = args.sign.as_deref().map(signing::read_secret).transpose()?;
    let reference = ModuleRef::parse(&args.reference)?;
    let manifest = registry::publish_policies(&bundle, &reference, key.as_ref()).await?;
    crate::outln!(
        "published {} polic{} to {reference}",
        policies.packages().len(),
        if policies.packages().len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    crate::outln!("  manifest: {manifest}");
    crate::outln!("  bundle:   {}", sha256_digest(&bundle));
    if let Some(key) = &key {
        crate::outln!("  signed by {}", signing::public_text(&key.verifying_key()));
    }
    Ok(ExitCode::SUCCESS)
}
