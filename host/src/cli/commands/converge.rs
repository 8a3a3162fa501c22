//! `rkit converge`: keep reality converged to the spec. Each tick refreshes, plans and
//! applies what differs (deleted outside rkit, drifted, dependents to update), then sleeps;
//! `--listen` serves `/healthz` and `/metrics`. With `--follow-bundle`, the spec is the
//! stack's bundle beside its state (`rkit bundle push`): each tick fetches it, and a newer one
//! whose signature holds is unpacked and applied; one that does not is refused (an event and
//! `rkit_bundle_refusals_total`) and the last good one keeps running.

use crate::bundle::{FollowError, Followed};
use crate::cli::args::SpecArgs;
use crate::cli::session::open;
use crate::cli::ui::Mode;
use crate::engine::{ConvergeOptions, Event, Events, Interrupt, Metrics, Opener, Session};
use crate::spec::LoadedSpec;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Keep reality converged to the spec: each tick refresh, plan and apply what differs
/// (deleted outside rkit, drifted, dependents to update), then sleep.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit converge stack.json --interval 1m --listen :9100\n  rkit converge stack.json --once --observe-only   # exit 2 when drift is found\n  rkit converge stack.json --follow-spec           # apply edits to the spec as they land\n  rkit converge /var/lib/rkit --follow-bundle --state s3://acme/web.json --trust ops.pub"
)]
pub struct ConvergeArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Time between ticks (jittered ±10%; doubled up to 8× while providers throttle).
    #[arg(long, default_value = "30s", value_parser = crate::duration::positive)]
    pub interval: std::time::Duration,
    /// One tick, then exit (for cron and CI).
    #[arg(long)]
    pub once: bool,
    /// Report drift and change nothing (with --once: exit 2 when drift was found).
    #[arg(long)]
    pub observe_only: bool,
    /// Apply a changed spec file at the next tick (else it is reported as pending).
    #[arg(long)]
    pub follow_spec: bool,
    /// Follow the stack's bundle beside its state (`rkit bundle push`): SPEC is then the
    /// directory it is unpacked under, and --state and --trust are needed. A newer bundle
    /// whose signature holds is applied at the next tick; one that does not is refused.
    #[arg(long, requires_all = ["trust"])]
    pub follow_bundle: bool,
    /// With --follow-bundle: a key whose signature is trusted (`ed25519:BASE64` or a `.pub`
    /// file; repeatable).
    #[arg(long, value_name = "KEY", requires = "follow_bundle")]
    pub trust: Vec<String>,
    /// The ID of the machine this converge runs on (the bootstrap script passes the
    /// instance's): a step deleting or replacing it is left to another manager.
    #[arg(long, value_name = "ID")]
    pub self_id: Option<String>,
    /// At most this many operations start per tick; the rest wait for the next one.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_operations: u32,
    /// Serve /healthz and /metrics (Prometheus) on HOST:PORT, or :PORT for loopback.
    #[arg(long, value_name = "ADDR", value_parser = crate::cli::serve::parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
    /// Report as JSON, one object per line.
    #[arg(long)]
    pub json: bool,
}

impl ConvergeArgs {
    /// The engine's options for the loop.
    fn options(&self) -> ConvergeOptions {
        ConvergeOptions {
            interval: self.interval,
            once: self.once,
            observe_only: self.observe_only,
            follow_spec: self.follow_spec || self.follow_bundle,
            max_operations: self.max_operations as usize,
            parallelism: self.spec.parallelism.into(),
            self_id: self.self_id.clone(),
        }
    }
}

/// Opens a session per converge tick, as `apply` would; following the bundle, loads the
/// spec of its last good version.
struct SpecOpener<'a> {
    args: &'a SpecArgs,
    bundle: Option<Following>,
}

/// The bundle followed: where it is, which keys sign it, the spec args of its last good
/// version (and that version's directory), and where its refusals are reported.
struct Following {
    location: crate::state::Location,
    trusted: Vec<String>,
    current: std::sync::Mutex<Option<(SpecArgs, std::path::PathBuf)>>,
    events: Events,
    metrics: std::sync::Arc<Metrics>,
}

impl Following {
    /// Looks at the stored bundle: a newer one whose spec loads becomes current (and is
    /// recorded), a refused one is reported; the spec args of the current version.
    fn look(&self, args: &SpecArgs) -> Result<SpecArgs> {
        let mut current = self.current.lock().expect("bundle");
        match crate::bundle::follow(&self.location, &self.trusted, &args.spec) {
            Ok(Followed::New(opened, unpacked)) => {
                if let Some(next) = self.adopt(args, &opened, unpacked, current.as_ref()) {
                    *current = Some(next);
                }
            }
            Ok(Followed::Same(unpacked)) if current.is_none() => {
                let dir = unpacked.dir.clone();
                *current = Some((with_bundle(args, unpacked), dir));
            }
            Ok(Followed::Same(_) | Followed::Missing) => {}
            Err(FollowError::Refused(err)) => self.refused(format!("{err:#}")),
            Err(FollowError::Failed(err)) => {
                self.events.event(Event::Warning {
                    message: format!("{err:#}; the last good bundle keeps running"),
                });
                if current.is_none() {
                    *current = self.recorded(args);
                }
            }
        }
        current.clone().map(|(args, _)| args).ok_or_else(|| {
            anyhow::anyhow!(
                "no bundle to follow beside the state {} yet (push one with rkit bundle push)",
                self.location
            )
        })
    }

    /// The spec args of the newer bundle `opened`, once its spec loads (then it is recorded,
    /// and the running version kept until the next); `None` when refused.
    fn adopt(
        &self,
        args: &SpecArgs,
        opened: &crate::bundle::Opened,
        unpacked: crate::bundle::Unpacked,
        running: Option<&(SpecArgs, std::path::PathBuf)>,
    ) -> Option<(SpecArgs, std::path::PathBuf)> {
        let dir = unpacked.dir.clone();
        let next = with_bundle(args, unpacked.clone());
        if let Err(err) = crate::spec::load_with(&next.spec, &next.given()) {
            self.refused(format!("the bundle {} is refused: {err:#}", opened.digest));
            return None;
        }
        let keep = running.map(|(_, dir)| dir.as_path());
        if let Err(err) = crate::bundle::commit(opened, &unpacked, &args.spec, keep) {
            self.refused(format!(
                "the bundle {} cannot be recorded: {err:#}",
                opened.digest
            ));
            return None;
        }
        self.events.event(Event::BundleFollowed {
            digest: opened.digest.clone(),
            signer: opened.signer.clone(),
            pushed_by: opened.bundle.pushed_by.clone(),
        });
        Some((next, dir))
    }

    /// The last bundle followed here, checked again from its copy (the store unreachable at
    /// start: a machine restarting during an outage converges to what it followed last).
    fn recorded(&self, args: &SpecArgs) -> Option<(SpecArgs, std::path::PathBuf)> {
        match crate::bundle::recorded(&self.location, &self.trusted, &args.spec) {
            Ok(Some(unpacked)) => {
                let dir = unpacked.dir.clone();
                Some((with_bundle(args, unpacked), dir))
            }
            Ok(None) => None,
            Err(err) => {
                self.refused(format!("{err}"));
                None
            }
        }
    }

    /// Reports a refused bundle: an event and a metric.
    fn refused(&self, reason: String) {
        self.metrics
            .bundle_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.events.event(Event::BundleRefused { reason });
    }
}

/// `args` for the unpacked bundle: its spec, its parameter files before the command line's.
fn with_bundle(args: &SpecArgs, unpacked: crate::bundle::Unpacked) -> SpecArgs {
    let mut args = args.clone();
    args.spec = unpacked.spec;
    let given = std::mem::take(&mut args.var_files);
    args.var_files = unpacked.var_files;
    args.var_files.extend(given);
    args
}

impl SpecOpener<'_> {
    /// The spec args to load: the command line's, or the bundle's newest good version.
    fn looked(&self) -> Result<SpecArgs> {
        match &self.bundle {
            Some(following) => following.look(self.args),
            None => Ok(self.args.clone()),
        }
    }

    /// The spec args in force: the command line's, or the bundle's last good version.
    fn current(&self) -> Result<SpecArgs> {
        match &self.bundle {
            None => Ok(self.args.clone()),
            Some(following) => {
                let held = following.current.lock().expect("bundle").clone();
                match held {
                    Some((args, _)) => Ok(args),
                    None => following.look(self.args),
                }
            }
        }
    }
}

impl Opener for SpecOpener<'_> {
    async fn open(
        &self,
        spec: std::sync::Arc<LoadedSpec>,
        events: Events,
        interrupt: Interrupt,
    ) -> Result<Session> {
        let args = self.current()?;
        open(&args, spec, events, &interrupt).await
    }

    fn load(&self) -> Result<LoadedSpec> {
        let args = self.looked()?;
        crate::spec::load_with(&args.spec, &args.given())
    }

    fn reload(&self, applied: &LoadedSpec) -> Result<Option<LoadedSpec>> {
        let args = self.looked()?;
        let given = args.given();
        if applied.inputs.is_some()
            && crate::spec::source::inputs_now(&args.spec, &given) == applied.inputs
        {
            return Ok(None);
        }
        crate::spec::load_with(&args.spec, &given).map(Some)
    }
}

/// What following the bundle needs, checked: `--state`, and the trusted keys.
fn following(
    args: &ConvergeArgs,
    events: &Events,
    metrics: &std::sync::Arc<Metrics>,
) -> Result<Option<Following>> {
    if !args.follow_bundle {
        return Ok(None);
    }
    let Some(location) = args.spec.state.state.clone() else {
        anyhow::bail!("--follow-bundle needs --state: where the stack's state and bundle are");
    };
    Ok(Some(Following {
        location,
        trusted: super::bundle::trusted_keys(&args.trust)?,
        current: std::sync::Mutex::new(None),
        events: events.clone(),
        metrics: metrics.clone(),
    }))
}

/// Runs the loop (serving the metrics when asked) until interrupted, or one tick.
pub async fn exec(args: ConvergeArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let options = args.options();
    let events = Mode::of(args.json).events();
    let metrics = std::sync::Arc::new(Metrics::new());
    let opener = SpecOpener {
        args: &args.spec,
        bundle: following(&args, &events, &metrics)?,
    };
    let first = opener.load()?;
    if let Some(addr) = args.listen {
        let bound = crate::cli::serve::serve(addr, metrics.clone()).await?;
        events.event(Event::Listening {
            address: bound.to_string(),
        });
    }
    let summary =
        crate::engine::converge(&options, first, &opener, &events, interrupt, &metrics).await?;
    Ok(if options.once && options.observe_only && summary.drift {
        ExitCode::from(2)
    } else if options.once && summary.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
