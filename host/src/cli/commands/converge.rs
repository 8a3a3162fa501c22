//! `rkit converge`: keep reality converged to the spec. Each tick refreshes, plans and
//! applies what differs (deleted outside rkit, drifted, dependents to update), then sleeps;
//! `--listen` serves `/healthz` and `/metrics`.

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
    after_help = "Examples:\n  rkit converge stack.json --interval 1m --listen :9100\n  rkit converge stack.json --once --observe-only   # exit 2 when drift is found\n  rkit converge stack.json --follow-spec           # apply edits to the spec as they land"
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
            follow_spec: self.follow_spec,
            max_operations: self.max_operations as usize,
            parallelism: self.spec.parallelism.into(),
        }
    }
}

/// Opens a session per converge tick, as `apply` would.
struct SpecOpener<'a> {
    args: &'a SpecArgs,
}

impl Opener for SpecOpener<'_> {
    async fn open(
        &self,
        spec: LoadedSpec,
        events: Events,
        interrupt: Interrupt,
    ) -> Result<Session> {
        open(self.args, spec, events, &interrupt).await
    }

    fn load(&self) -> Result<LoadedSpec> {
        crate::spec::load_with(&self.args.spec, &self.args.given())
    }
}

/// Runs the loop (serving the metrics when asked) until interrupted, or one tick.
pub async fn exec(args: ConvergeArgs, interrupt: &Interrupt) -> Result<ExitCode> {
    let options = args.options();
    let events = Mode::of(args.json).events();
    let opener = SpecOpener { args: &args.spec };
    let first = opener.load()?;
    let metrics = std::sync::Arc::new(Metrics::new());
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
