//! `rkit bootstrap SPEC --group NAME --sign KEY`: the one command a person runs to start a
//! stack that runs itself. It stores the signed bundle beside the stack's state, applies what
//! the group's template needs (its network, its role: a machine cannot start without them),
//! and creates one member of the group, tagged as a seed, whose user data
//! (`{{.Bootstrap.UserData}}`) installs rkit and runs `rkit converge --follow-bundle`: the
//! seed adopts itself into the group and builds the rest of the stack.
//!
//! Invariants: nothing is created unless the spec's `Bootstrap` section trusts the signing
//! key and the group's `UserData` is the bootstrap script (a seed that would not run rkit, or
//! would refuse the bundle, is refused here); the state is the one the spec names (the one
//! the machines are told); the bundle is pushed once the seed is made (never before the plan
//! was approved), or, for a group running already, only if none is stored; a group with
//! members gets no seed (they are reported).

use super::plan::plan_options;
use crate::cli::args::{FocusArgs, SpecArgs};
use crate::cli::session::{Run, execute, open};
use crate::cli::ui::Mode;
use crate::engine::{Interrupt, Seeding};
use crate::registry::signing;
use crate::spec::LoadedSpec;
use crate::text::escape;
use anyhow::{Result, bail};
use clap::Args;
use ed25519_dalek::SigningKey;
use std::path::PathBuf;
use std::process::ExitCode;

/// Start a stack that runs itself: store its signed bundle, then create one seed member of a
/// group whose user data runs `rkit converge` on the bundle.
#[derive(Args)]
#[command(
    after_help = "Example:\n  rkit bootstrap stack.json --group Managers --sign ops.key --approve"
)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The group whose members run rkit (its template's UserData is
    /// `{{.Bootstrap.UserData}}`).
    #[arg(long, value_name = "NAME")]
    pub group: String,
    /// Sign the bundle with this secret key; its public key must be in Bootstrap.TrustedKeys.
    #[arg(long, value_name = "KEY")]
    pub sign: PathBuf,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
}

/// Pushes the bundle, then plans and applies the seed.
pub async fn exec(args: BootstrapArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let key = signing::read_secret(&args.sign)?;
    let spec = crate::spec::load_with(&args.spec.spec, &args.spec.given())?;
    check_seedable(&spec, &args.group, &key)?;
    let location = crate::engine::default_state(&spec);
    let (chosen, _) = args.spec.state.choose(Some(&args.spec.spec))?;
    if chosen != location {
        bail!(
            "--state {chosen}: the machines follow the state the spec names ({location}); \
             bootstrap with that one"
        );
    }
    let mut session = open(&args.spec, spec, Mode::Human.events(), interrupt).await?;
    session.validate().await?;
    let options = plan_options(&args.spec, true, false, &FocusArgs::default(), "apply");
    let plan = match session.seed(&args.group, &options).await? {
        Seeding::Running(members) => return running(&args, &session, members, &key, &location),
        Seeding::Plan(plan) => *plan,
    };
    let seed = plan
        .steps
        .iter()
        .find(|s| s.tags.get(crate::tags::CONFIG_HASH) == Some("bootstrap"))
        .map(|s| s.name.clone());
    let run = Run {
        verb: "Bootstrap",
        yes: args.yes,
        mode: Mode::Human,
        parallelism: args.spec.parallelism,
    };
    let code = execute(&mut session, plan, &run).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    // Pushed once the seed is approved and made: its converge finds it at its next tick.
    super::bundle::push::push(&args.spec.spec, &args.spec.var_files, &key, &location)?;
    if let Some(seed) = seed
        && let Some(id) = session.recorded_id(&seed)
    {
        crate::outln!(
            "seed {} is {}: it follows the bundle at {location} and builds the rest",
            escape(&seed),
            escape(&id)
        );
    }
    Ok(code)
}

/// The group has members: says so, and pushes the bundle only if none is stored (a run cut
/// short after the seed was made); changes to a running stack go through `rkit bundle push`.
fn running(
    args: &BootstrapArgs,
    session: &crate::engine::Session,
    members: Vec<(String, String)>,
    key: &SigningKey,
    location: &crate::state::Location,
) -> Result<ExitCode> {
    crate::outln!(
        "group {} is running already; no seed made:",
        escape(&args.group)
    );
    for (name, id) in members {
        crate::outln!("  {} ({})", escape(&name), escape(&id));
    }
    if crate::bundle::fetch(location)?.is_none() {
        super::bundle::push::push(&args.spec.spec, &args.spec.var_files, key, location)?;
    } else {
        crate::outln!(
            "the bundle at {location} stays as it is: push changes with `rkit bundle push`"
        );
    }
    if session
        .applied_spec()
        .is_some_and(|s| s.starts_with(crate::state::DESTROYED))
    {
        crate::outln!(
            "the state is marked destroyed, so the machines only observe: `rkit apply {}` \
             starts the stack again",
            args.spec.spec.display()
        );
    }
    crate::outln!(
        "(a seed that never ran rkit, as its console shows, is terminated by hand; bootstrap \
         then makes a new one)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a spec whose seed would not run rkit or would refuse the bundle `key` signs.
fn check_seedable(spec: &LoadedSpec, group: &str, key: &SigningKey) -> Result<()> {
    let file = spec.path.display();
    let Some(section) = &spec.spec.bootstrap else {
        bail!(
            "{file}: no \"Bootstrap\" section: it says how the machines install rkit and which \
             keys they trust (see the README's \"Bootstrapping\")"
        );
    };
    let Some(g) = spec.spec.groups.get(group) else {
        let names: Vec<&str> = spec.spec.groups.keys().map(String::as_str).collect();
        bail!(
            "{file}: there is no group {group:?} to bootstrap (groups: {})",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    };
    let runs_rkit = g
        .properties
        .get("UserData")
        .and_then(|v| v.as_str())
        .is_some_and(|u| u.contains(crate::spec::bootstrap::MARK));
    if !runs_rkit {
        bail!(
            "{file}: group {group}, field Properties.UserData: its members would not run rkit: \
             set it to \"{{{{.Bootstrap.UserData}}}}\""
        );
    }
    let public = signing::public_text(&key.verifying_key());
    if !section.trusted_keys.contains(&public) {
        bail!(
            "{file}: field Bootstrap.TrustedKeys: the key --sign gives ({public}) is not there, \
             so the machines would refuse its bundle"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn spec(bootstrap: bool, user_data: &str) -> LoadedSpec {
        let section = if bootstrap {
            format!(
                r#""Bootstrap": {{"TrustedKeys": ["{}"], "Install": "true"}},"#,
                signing::public_text(&key(7).verifying_key())
            )
        } else {
            String::new()
        };
        let text = format!(
            r#"{{"State": {{"Backend": "s3", "Bucket": "bucket-b", "Key": "k.json"}}, {section}
            "Groups": {{"M": {{"Size": 1, "Plugin": "p", "Type": "T",
                "Properties": {{"UserData": "{user_data}"}}}}}}}}"#
        );
        crate::spec::parse(Path::new("s.json"), &text).unwrap()
    }

    fn refusal(spec: &LoadedSpec, group: &str, key: &SigningKey) -> String {
        check_seedable(spec, group, key).unwrap_err().to_string()
    }

    #[test]
    fn a_seed_that_would_not_run_rkit_or_would_refuse_its_bundle_is_refused() {
        let good = spec(true, "{{.Bootstrap.UserData}}");
        assert!(check_seedable(&good, "M", &key(7)).is_ok());
        assert_eq!(
            refusal(&good, "Web", &key(7)),
            "s.json: there is no group \"Web\" to bootstrap (groups: M)"
        );
        assert_eq!(
            refusal(&good, "M", &key(8)),
            format!(
                "s.json: field Bootstrap.TrustedKeys: the key --sign gives ({}) is not there, \
                 so the machines would refuse its bundle",
                signing::public_text(&key(8).verifying_key())
            )
        );
        assert_eq!(
            refusal(&spec(true, "echo hi"), "M", &key(7)),
            "s.json: group M, field Properties.UserData: its members would not run rkit: set it \
             to \"{{.Bootstrap.UserData}}\""
        );
        assert_eq!(
            refusal(&spec(false, "echo hi"), "M", &key(7)),
            "s.json: no \"Bootstrap\" section: it says how the machines install rkit and which \
             keys they trust (see the README's \"Bootstrapping\")"
        );
    }
}
