//! Converge: InfraKit's controller loop. Once bootstrapped, rkit keeps reality converged to
//! the spec: each tick refreshes, plans and applies what brings reality back (recreates what
//! was deleted outside rkit, reverts drifted properties, updates dependents), then sleeps
//! `interval` (jittered ±10%, doubled up to 8× while providers report throttling).
//!
//! Invariants: the state's lock is held during a tick only (a session opened and dropped per
//! tick), so a person's `apply` between ticks works, and a tick that finds the state locked
//! is skipped with who holds it; at most `max_operations` operations start per tick (the
//! rest wait for the next one); a changed spec file is planned at the next tick and applied
//! only with `follow_spec` (else reported as pending); an interrupt ends the loop between
//! operations with the state written and the lock released; `observe_only` changes nothing
//! (it plans and reports drift).

use super::Session;
use super::events::{Event, Events, OpAction, Reporter};
use super::interrupt::Interrupt;
use super::plan::{Action, Plan};
use crate::spec::LoadedSpec;
use crate::spi::ErrorKind;
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time between ticks (jittered ±10%; doubled up to 8× while providers throttle).
    pub interval: Duration,
    /// One tick, then stop.
    pub once: bool,
    /// Plan and report; change nothing.
    pub observe_only: bool,
    /// Apply a changed spec file (else it is reported as pending).
    pub follow_spec: bool,
    /// At most this many operations start per tick.
    pub max_operations: usize,
    /// How many provider calls run at once.
    pub parallelism: usize,
    /// The ID of the machine this converge runs on (a manager of a bootstrapped stack): a
    /// step deleting or replacing it is left to another manager (see `handover`).
    pub self_id: Option<String>,
}

impl Options {
    /// A tick's plan: refreshed (to see drift) or not (a spec pending), never scanning for
    /// orphans (a tick repairs what the state records), never focused.
    fn plan(&self, refresh: bool) -> super::options::PlanOptions {
        super::options::PlanOptions {
            refresh,
            parallelism: self.parallelism,
            operation: "converge",
            ..Default::default()
        }
    }

    /// A tick's apply.
    fn apply(&self) -> super::options::ApplyOptions {
        super::options::ApplyOptions {
            parallelism: self.parallelism,
        }
    }
}

/// Counters for `/metrics` (Prometheus text) and `/healthz`.
#[derive(Default)]
pub struct Metrics {
    /// Ticks run.
    pub ticks: AtomicU64,
    /// Ticks that found drift.
    pub drift_ticks: AtomicU64,
    /// Changes drift called for, in all.
    pub drift_changes: AtomicU64,
    /// Operations that repaired drift.
    pub repairs: AtomicU64,
    /// Operations that failed.
    pub failures: AtomicU64,
    /// Operations left for a later tick (over `--max-operations`).
    pub deferred: AtomicU64,
    /// Ticks skipped (the state held by another).
    pub skipped_ticks: AtomicU64,
    /// Changes a newer spec file would make (without `--follow-spec`).
    pub spec_pending: AtomicU64,
    /// Stored bundles refused (`--follow-bundle`): signature, replay, content.
    pub bundle_refusals: AtomicU64,
    /// Policy denies (not advisory, not overridden) the last tick found in reality.
    pub policy_violations: AtomicU64,
    /// The last tick's duration, in microseconds.
    pub last_tick_micros: AtomicU64,
    /// When the last tick ended, in seconds since the Unix epoch.
    pub last_tick_unix: AtomicU64,
    /// Whether the last tick completed without an error.
    pub healthy: AtomicBool,
    /// Provider HTTP requests, by provider.
    pub requests: Mutex<BTreeMap<String, u64>>,
    /// The last tick's error, if it failed: its own, or each failed operation's message.
    pub last_error: Mutex<Option<String>>,
    /// Operations that failed, by resource and the provider's error kind.
    pub failed_operations: Mutex<BTreeMap<(String, String), u64>>,
}

impl Metrics {
    /// Counters at zero, healthy.
    pub fn new() -> Self {
        let m = Self::default();
        m.healthy.store(true, Ordering::Relaxed);
        m
    }

    /// The metrics in Prometheus' text format.
    pub fn prometheus(&self) -> String {
        let seconds = self.last_tick_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let mut out = String::new();
        for (name, kind, help, value) in self.counters().into_iter().chain(self.gauges(seconds)) {
            out.push_str(&format!(
                "# HELP rkit_converge_{name} {help}\n# TYPE rkit_converge_{name} {kind}\n\
                 rkit_converge_{name} {value}\n"
            ));
        }
        self.write_requests(&mut out);
        self.write_failed_operations(&mut out);
        out
    }

    /// The loop's counters, as rows (name, kind, help, value).
    fn counters(&self) -> [Row; 8] {
        [
            ("ticks_total", "counter", "Ticks run.", count(&self.ticks)),
            (
                "drift_ticks_total",
                "counter",
                "Ticks that found reality differing from the spec.",
                count(&self.drift_ticks),
            ),
            (
                "drift_changes_total",
                "counter",
                "Changes planned to repair drift.",
                count(&self.drift_changes),
            ),
            (
                "repairs_total",
                "counter",
                "Operations that succeeded.",
                count(&self.repairs),
            ),
            (
                "failures_total",
                "counter",
                "Operations (and ticks) that failed.",
                count(&self.failures),
            ),
            (
                "deferred_total",
                "counter",
                "Operations left to a later tick by the per-tick budget.",
                count(&self.deferred),
            ),
            (
                "skipped_ticks_total",
                "counter",
                "Ticks skipped because the state was locked by another rkit.",
                count(&self.skipped_ticks),
            ),
            (
                "bundle_refusals_total",
                "counter",
                "Stored bundles refused (signature, replay, content); the last good one ran.",
                count(&self.bundle_refusals),
            ),
        ]
    }

    /// The loop's gauges, as rows (name, kind, help, value); the last tick took `seconds`.
    fn gauges(&self, seconds: f64) -> [Row; 4] {
        [
            (
                "policy_violations",
                "gauge",
                "Policy denies (mandatory, or overridable and not overridden) the last tick found in reality.",
                count(&self.policy_violations),
            ),
            (
                "spec_pending_changes",
                "gauge",
                "Changes a changed spec file would make (not applied without --follow-spec).",
                count(&self.spec_pending),
            ),
            (
                "tick_duration_seconds",
                "gauge",
                "How long the last tick took.",
                format!("{seconds:.6}"),
            ),
            (
                "last_tick_timestamp_seconds",
                "gauge",
                "When the last tick ended (Unix time).",
                count(&self.last_tick_unix),
            ),
        ]
    }

    /// Appends the providers' HTTP requests, by provider.
    fn write_requests(&self, out: &mut String) {
        out.push_str(
            "# HELP rkit_provider_requests_total HTTP requests made by providers.\n\
             # TYPE rkit_provider_requests_total counter\n",
        );
        for (provider, n) in self.requests.lock().expect("metrics").iter() {
            out.push_str(&format!(
                "rkit_provider_requests_total{{provider=\"{}\"}} {n}\n",
                label(provider)
            ));
        }
    }

    /// Appends the failed operations, by resource and error kind.
    fn write_failed_operations(&self, out: &mut String) {
        out.push_str(
            "# HELP rkit_converge_operation_failures_total Operations that failed, by resource \
             and error kind.\n# TYPE rkit_converge_operation_failures_total counter\n",
        );
        for ((resource, kind), n) in self.failed_operations.lock().expect("metrics").iter() {
            out.push_str(&format!(
                "rkit_converge_operation_failures_total{{resource=\"{}\",kind=\"{}\"}} {n}\n",
                label(resource),
                label(kind)
            ));
        }
    }
}

/// One metric: its name (after `rkit_converge_`), kind, help and value.
type Row = (&'static str, &'static str, &'static str, String);

/// A counter's value, as Prometheus text.
fn count(a: &AtomicU64) -> String {
    a.load(Ordering::Relaxed).to_string()
}

/// A Prometheus label value: backslash, quote and newline escaped, control characters dropped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// What one tick found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Changes the plan found (drift, or work left over).
    pub drift: usize,
    pub repaired: usize,
    pub failed: usize,
    /// Not started: over the budget (or interrupted).
    pub deferred: usize,
    /// Changes a changed spec file would make (not applied).
    pub pending: Option<usize>,
    /// A provider reported throttling.
    pub throttled: bool,
    /// Skipped: the state was locked by another rkit.
    pub skipped: bool,
    /// HTTP requests providers made during the tick.
    pub requests: u64,
    /// The messages of the operations that failed (each names its resource).
    pub errors: Vec<String>,
}

/// The session's reporter during a tick: passes events on, counts operations against the
/// budget (raising the tick's interrupt once it is spent) and notes throttling.
struct TickEvents {
    inner: Events,
    started: AtomicUsize,
    max: usize,
    budget: Interrupt,
    throttled: AtomicBool,
}

impl Reporter for TickEvents {
    fn event(&self, event: Event) {
        match &event {
            // The budget is spent once the last allowed operation has started.
            Event::OperationStarted { action, .. }
                if *action != OpAction::Read
                    && self.started.fetch_add(1, Ordering::SeqCst) + 1 >= self.max =>
            {
                self.budget.raise();
            }
            Event::OperationRetrying { reason, .. }
                if reason.kind == Some(ErrorKind::Transient) =>
            {
                self.throttled.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        self.inner.event(event);
    }

    fn approve(&self, request: &super::events::Approval) -> bool {
        self.inner.approve(request)
    }
}

/// Opens a session for `spec` reporting to `events` and stopping on `interrupt`.
pub trait Opener {
    /// A session on `spec`.
    fn open(
        &self,
        spec: Arc<LoadedSpec>,
        events: Events,
        interrupt: Interrupt,
    ) -> impl Future<Output = Result<Session>>;
    /// Reads the spec file again.
    fn load(&self) -> Result<LoadedSpec>;
    /// Reads the spec file again unless what it is loaded from is what `applied` was loaded
    /// from (`None`: unchanged; a spec of 100,000 resources is not parsed again, nor held
    /// twice, on every tick).
    fn reload(&self, _applied: &LoadedSpec) -> Result<Option<LoadedSpec>> {
        self.load().map(Some)
    }
}

/// What a run of the loop saw, in all (kept as totals: a loop may run for months).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Ticks run.
    pub ticks: u64,
    /// Some tick found drift.
    pub drift: bool,
    /// Some operation failed.
    pub failed: bool,
}

/// Runs the loop until interrupted (or one tick with `once`).
pub async fn run(
    options: &Options,
    first: LoadedSpec,
    opener: &impl Opener,
    events: &Events,
    interrupt: &Interrupt,
    metrics: &Metrics,
) -> Result<Summary> {
    let mut applied = Arc::new(first);
    // The spec the state's last apply used when this converge began (read at the first tick).
    let mut baseline: Option<Option<String>> = None;
    let mut summary = Summary::default();
    let mut slowdown = 1u32;
    for tick in 1u64.. {
        events.event(Event::TickStarted { tick });
        let started = Instant::now();
        let result = one_tick(
            options,
            &mut applied,
            &mut baseline,
            opener,
            events,
            interrupt,
            metrics,
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        metrics.timed(started);
        let report = metrics.settle(tick, result, options, events)?;
        events.event(finished(tick, seconds, &report));
        slowdown = if report.throttled {
            (slowdown * 2).min(8)
        } else {
            1
        };
        summary.add(tick, &report);
        if options.once || interrupt.raised() || !pause(options, slowdown, interrupt).await {
            break;
        }
    }
    Ok(summary)
}

impl Metrics {
    /// Counts a tick that began at `started` and ended now.
    fn timed(&self, started: Instant) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        self.last_tick_micros
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.last_tick_unix
            .store(crate::state::now(), Ordering::Relaxed);
    }

    /// Takes in tick `tick`'s `result`: its health and errors. A failed tick counts as a
    /// failure and, unless it was the only one (`once`, then its error ends the loop), is
    /// reported and the loop goes on (with an empty report).
    fn settle(
        &self,
        tick: u64,
        result: Result<TickReport>,
        options: &Options,
        events: &Events,
    ) -> Result<TickReport> {
        match result {
            Ok(report) => {
                self.healthy.store(report.failed == 0, Ordering::Relaxed);
                *self.last_error.lock().expect("metrics") =
                    (!report.errors.is_empty()).then(|| report.errors.join("; "));
                Ok(report)
            }
            Err(err) => {
                self.healthy.store(false, Ordering::Relaxed);
                self.failures.fetch_add(1, Ordering::Relaxed);
                let message = format!("{err:#}");
                *self.last_error.lock().expect("metrics") = Some(message.clone());
                if options.once {
                    return Err(err);
                }
                events.event(Event::Warning {
                    message: format!("tick {tick} failed: {message}"),
                });
                Ok(TickReport::default())
            }
        }
    }
}

/// The event ending tick `tick`, which took `seconds`.
fn finished(tick: u64, seconds: f64, report: &TickReport) -> Event {
    Event::TickFinished {
        tick,
        seconds,
        drift: report.drift,
        repaired: report.repaired,
        failed: report.failed,
        deferred: report.deferred,
        pending: report.pending,
        throttled: report.throttled,
        skipped: report.skipped,
        requests: report.requests,
    }
}

impl Summary {
    /// Adds tick `tick`'s report.
    fn add(&mut self, tick: u64, report: &TickReport) {
        self.ticks = tick;
        self.drift |= report.drift > 0;
        self.failed |= report.failed > 0;
    }
}

/// Sleeps `interval` between ticks (jittered ±10%, times `slowdown`); false if interrupted.
async fn pause(options: &Options, slowdown: u32, interrupt: &Interrupt) -> bool {
    let jitter = 0.9 + fastrand::f64() * 0.2;
    let pause = options.interval.mul_f64(jitter) * slowdown;
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        () = interrupt.wait() => false,
    }
}

/// Counts the changes of a plan.
fn changes(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| s.action != Action::NoOp)
        .count()
}

/// One tick, as its passes: read the spec file again; open the state (a lock another rkit
/// holds skips the tick); follow a spec applied by hand since, or only observe; plan, report
/// drift and repair it; count the requests; plan a changed spec file to report what applying
/// it would do.
async fn one_tick(
    options: &Options,
    applied: &mut Arc<LoadedSpec>,
    baseline: &mut Option<Option<String>>,
    opener: &impl Opener,
    events: &Events,
    interrupt: &Interrupt,
    metrics: &Metrics,
) -> Result<TickReport> {
    let mut report = TickReport::default();
    let mut pending_spec = reread_spec(options, applied, baseline, opener, events);
    let tick = Tick::start(options, events, interrupt);
    let session = match tick.open(opener, applied).await {
        Ok(session) => session,
        Err(err) if err.downcast_ref::<crate::state::Locked>().is_some() => {
            metrics.skipped_ticks.fetch_add(1, Ordering::Relaxed);
            events.event(Event::Warning {
                message: format!("{err:#}; skipping this tick"),
            });
            report.skipped = true;
            return Ok(report);
        }
        Err(err) => return Err(err),
    };
    let followed = Following {
        applied,
        baseline,
        pending_spec: &mut pending_spec,
        events,
    };
    let (mut session, stale) = followed.follow(session, &tick, opener).await?;
    let outcome = repair(
        &mut session,
        options,
        stale,
        &mut report,
        events,
        interrupt,
        metrics,
    )
    .await;
    count_requests(&session, metrics, &mut report);
    report.throttled = tick.events.throttled.load(Ordering::Relaxed);
    // The lock goes with the session, before the next spec is planned.
    drop(session);
    drop(tick);
    outcome?;
    match pending_spec {
        Some(latest) => {
            plan_pending(
                latest,
                options,
                opener,
                events,
                interrupt,
                metrics,
                &mut report,
            )
            .await?
        }
        None => metrics.spec_pending.store(0, Ordering::Relaxed),
    }
    Ok(report)
}

/// The spec file as it is now, if it changed: followed at once with `--follow-spec` (it
/// becomes `applied`, and the spec converge ran until then becomes the starting point: the
/// state recording it is converge's own doing, not a person's apply), else returned to be
/// planned and reported. Unreadable, the last good one stays.
fn reread_spec(
    options: &Options,
    applied: &mut Arc<LoadedSpec>,
    baseline: &mut Option<Option<String>>,
    opener: &impl Opener,
    events: &Events,
) -> Option<LoadedSpec> {
    match opener.reload(applied) {
        Ok(Some(latest)) if latest.spec != applied.spec => {
            if !options.follow_spec {
                return Some(latest);
            }
            events.event(Event::Warning {
                message: format!(
                    "{}: the spec changed; following it (--follow-spec)",
                    latest.path.display()
                ),
            });
            if baseline.is_some() {
                *baseline = Some(Some(applied.digest.clone()));
            }
            *applied = Arc::new(latest);
        }
        // The same spec from other inputs (a comment edited, a new bundle of the same spec):
        // kept as loaded now, so the next tick compares with these inputs. Only with the
        // same digest: the state records the digest of what converge applies, and a spec
        // equal but written in another order has another.
        Ok(Some(latest)) if latest.digest == applied.digest => *applied = Arc::new(latest),
        Ok(_) => {}
        Err(err) => events.event(Event::Warning {
            message: format!(
                "the spec file cannot be read ({err:#}); converging to the last good one"
            ),
        }),
    }
    None
}

/// A tick's own interrupt (raised by its operation budget, or forwarded from the user's) and
/// its reporter; the forwarding ends with it.
struct Tick {
    interrupt: Interrupt,
    events: std::sync::Arc<TickEvents>,
    forward: tokio::task::JoinHandle<()>,
}

impl Tick {
    fn start(options: &Options, events: &Events, interrupt: &Interrupt) -> Self {
        let tick_interrupt = Interrupt::default();
        let forward = {
            let (outer, inner) = (interrupt.clone(), tick_interrupt.clone());
            tokio::spawn(async move {
                outer.wait().await;
                inner.raise();
            })
        };
        let events = std::sync::Arc::new(TickEvents {
            inner: events.clone(),
            started: AtomicUsize::new(0),
            max: options.max_operations.max(1),
            budget: tick_interrupt.clone(),
            throttled: AtomicBool::new(false),
        });
        Self {
            interrupt: tick_interrupt,
            events,
            forward,
        }
    }

    async fn open(&self, opener: &impl Opener, spec: &Arc<LoadedSpec>) -> Result<Session> {
        let events: Events = self.events.clone();
        opener
            .open(Arc::clone(spec), events, self.interrupt.clone())
            .await
    }
}

impl Drop for Tick {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

/// Which spec a tick acts with. A person's apply of another spec is never undone: converge
/// acts only with the spec the state's last apply used, following the spec file when that is
/// the one applied.
struct Following<'a> {
    applied: &'a mut Arc<LoadedSpec>,
    /// What the state said when this converge began: the operator's starting point (starting
    /// converge on a spec is choosing it); only an apply of another spec since then counts.
    baseline: &'a mut Option<Option<String>>,
    pending_spec: &'a mut Option<LoadedSpec>,
    events: &'a Events,
}

impl Following<'_> {
    /// The session to act with (opened again on the spec file when that was applied since),
    /// and whether the tick only observes (the state was applied with another spec).
    async fn follow(
        self,
        session: Session,
        tick: &Tick,
        opener: &impl Opener,
    ) -> Result<(Session, bool)> {
        let recorded = session.applied_spec();
        let began = self
            .baseline
            .get_or_insert_with(|| recorded.clone())
            .clone();
        // A destroy counts even when it came before this converge began: a machine left over
        // (or restarted) after a destroy must not build the stack again by itself.
        let counts = |r: &String| {
            *r != self.applied.digest
                && (Some(r) != began.as_ref() || r.starts_with(crate::state::DESTROYED))
        };
        let Some(recorded) = recorded.filter(counts) else {
            return Ok((session, false));
        };
        if self
            .pending_spec
            .as_ref()
            .is_none_or(|p| p.digest != recorded)
        {
            let message = if recorded.starts_with(crate::state::DESTROYED) {
                "the stack was destroyed (rkit destroy): not acting, only observing, until it \
                 is applied again (rkit apply, or rkit bootstrap)"
                    .to_string()
            } else {
                format!(
                    "the state was last applied with another spec ({recorded}) than the one \
                     this converge runs ({}): not acting, only observing, until the spec file \
                     is the one applied last (or this spec is applied by hand)",
                    self.applied.digest
                )
            };
            self.events.event(Event::Warning { message });
            return Ok((session, true));
        }
        let latest = self.pending_spec.take().expect("checked");
        self.events.event(Event::Warning {
            message: format!(
                "{}: this spec was applied since converge loaded the previous one; following it",
                latest.path.display()
            ),
        });
        *self.applied = Arc::new(latest);
        drop(session);
        Ok((tick.open(opener, self.applied).await?, false))
    }
}

/// Plans with refresh, reports each drifted resource, and (unless only observing, or there
/// is nothing to do) applies the plan within the tick's budget; a plan without changes is
/// kept (the state records the spec it matches).
async fn repair(
    session: &mut Session,
    options: &Options,
    stale: bool,
    report: &mut TickReport,
    events: &Events,
    interrupt: &Interrupt,
    metrics: &Metrics,
) -> Result<()> {
    session.validate().await?;
    let mut plan = session.plan(&options.plan(true)).await?;
    report_drift(&plan, report, events, metrics);
    report_violations(session, &plan, events, metrics)?;
    if options.observe_only || stale || report.drift == 0 {
        if !options.observe_only && !stale {
            session.keep(&plan)?;
        }
        return Ok(());
    }
    if let Some(me) = &options.self_id {
        for name in
            super::handover::hand_over(&mut plan, session.spec(), &session.store().state, me)?
        {
            events.event(Event::Warning {
                message: format!(
                    "{name} is the machine this converge runs on ({me}): left to another \
                     manager (handing over)"
                ),
            });
        }
        if !plan.has_changes() {
            return Ok(());
        }
    }
    interrupt.set_busy(true);
    let applied = session.apply(plan, &options.apply()).await;
    interrupt.set_busy(false);
    record_repairs(&applied?, report, metrics);
    Ok(())
}

/// Reports each change of `plan` as drift, and counts it.
fn report_drift(plan: &Plan, report: &mut TickReport, events: &Events, metrics: &Metrics) {
    report.drift = changes(plan);
    for step in plan.steps.iter().filter(|s| s.action != Action::NoOp) {
        events.event(Event::Drift {
            resource: step.name.to_string(),
            action: step.action,
            fields: step.changes.iter().map(|c| c.field.to_string()).collect(),
            reason: step.reason().map(str::to_string),
        });
    }
    if report.drift > 0 {
        metrics.drift_ticks.fetch_add(1, Ordering::Relaxed);
        metrics
            .drift_changes
            .fetch_add(report.drift as u64, Ordering::Relaxed);
    }
}

/// Reports what policies find in reality as the tick read it (drift that breaks a policy),
/// and counts the findings that would block a plan. A plan a policy blocks is not applied:
/// [`Session::apply`] refuses it, failing the tick.
fn report_violations(
    session: &Session,
    plan: &Plan,
    events: &Events,
    metrics: &Metrics,
) -> Result<()> {
    let verdict = session.check_reality(plan)?;
    let blocking = verdict.blocking().count();
    metrics
        .policy_violations
        .store(blocking as u64, Ordering::Relaxed);
    for finding in verdict.findings {
        events.event(Event::PolicyFinding {
            operation: "converge".into(),
            finding,
        });
    }
    Ok(())
}

/// What the repairing apply did, in the tick's report and the metrics.
fn record_repairs(applied: &super::apply::Report, report: &mut TickReport, metrics: &Metrics) {
    let done = applied.created.len()
        + applied.updated.len()
        + applied.replaced.len()
        + applied.deleted.len();
    report.repaired = done;
    // Not started because the state could not be written is a failure of the tick (health,
    // `--once`'s exit), not work left for the next one.
    report.failed = applied.failed.len() + applied.not_started.len();
    report.errors = applied
        .failed
        .iter()
        .map(|(_, failure)| failure.message.clone())
        .chain(
            applied
                .not_started
                .iter()
                .map(|(name, why)| format!("{name}: not started: {why}")),
        )
        .collect();
    let mut failed = metrics.failed_operations.lock().expect("metrics");
    for (resource, failure) in &applied.failed {
        let kind = failure.kind.map_or("engine".to_string(), |k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        });
        *failed.entry((resource.clone(), kind)).or_default() += 1;
    }
    drop(failed);
    report.deferred = applied.cancelled.len() + applied.skipped.len();
    metrics.repairs.fetch_add(done as u64, Ordering::Relaxed);
    metrics
        .failures
        .fetch_add(report.failed as u64, Ordering::Relaxed);
    metrics
        .deferred
        .fetch_add(report.deferred as u64, Ordering::Relaxed);
}

/// The HTTP requests the tick's providers made, per provider.
fn count_requests(session: &Session, metrics: &Metrics, report: &mut TickReport) {
    let mut requests = metrics.requests.lock().expect("metrics");
    for (provider, n) in session.ctx.providers.http_requests() {
        *requests.entry(provider.to_string()).or_default() += n;
        report.requests += n;
    }
}

/// Plans the changed spec file (without applying it) and reports how many changes applying
/// it would make.
async fn plan_pending(
    latest: LoadedSpec,
    options: &Options,
    opener: &impl Opener,
    events: &Events,
    interrupt: &Interrupt,
    metrics: &Metrics,
    report: &mut TickReport,
) -> Result<()> {
    let quiet: Events = std::sync::Arc::new(super::events::Silent);
    match opener
        .open(Arc::new(latest), quiet, interrupt.clone())
        .await
    {
        Ok(mut session) => {
            let plan = session.plan(&options.plan(false)).await?;
            let n = changes(&plan);
            report.pending = Some(n);
            metrics.spec_pending.store(n as u64, Ordering::Relaxed);
            events.event(Event::SpecPending { changes: n });
        }
        Err(err) => events.event(Event::Warning {
            message: format!("the changed spec cannot be planned: {err:#}"),
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives what `spec.json` in its directory loads to, unless it is unchanged.
    struct File(std::path::PathBuf);

    impl Opener for File {
        async fn open(&self, _: Arc<LoadedSpec>, _: Events, _: Interrupt) -> Result<Session> {
            anyhow::bail!("not opened in these tests")
        }

        fn load(&self) -> Result<LoadedSpec> {
            crate::spec::load(&self.0)
        }

        fn reload(&self, applied: &LoadedSpec) -> Result<Option<LoadedSpec>> {
            let now = crate::spec::source::inputs_now(&self.0, &Default::default());
            match now == applied.inputs {
                true => Ok(None),
                false => self.load().map(Some),
            }
        }
    }

    #[test]
    fn a_tick_keeps_its_spec_unless_it_changed_and_takes_new_inputs_of_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let opener = File(dir.path().join("spec.json"));
        let write = |text: &str| std::fs::write(&opener.0, text).unwrap();
        let (a, b) = (
            r#""A": {"Plugin": "p", "Type": "T"}"#,
            r#""B": {"Plugin": "p", "Type": "T"}"#,
        );
        write(&format!(r#"{{"Resources": {{{a}, {b}}}}}"#));
        let mut applied = Arc::new(opener.load().unwrap());
        let options = Options {
            interval: Duration::from_secs(1),
            once: true,
            observe_only: false,
            follow_spec: false,
            max_operations: 0,
            parallelism: 1,
            self_id: None,
        };
        let events: Events = Arc::new(super::super::events::Silent);
        let reread = |applied: &mut Arc<LoadedSpec>| {
            reread_spec(&options, applied, &mut None, &opener, &events)
        };
        // Unchanged: the same spec, not loaded again.
        let first = applied.clone();
        assert!(reread(&mut applied).is_none());
        assert!(Arc::ptr_eq(&first, &applied));
        // A comment: the same digest from other inputs, taken.
        write(&format!("// a comment\n{{\"Resources\": {{{a}, {b}}}}}"));
        assert!(reread(&mut applied).is_none());
        assert!(!Arc::ptr_eq(&first, &applied));
        assert_eq!(
            (&applied.digest, &applied.spec),
            (&first.digest, &first.spec)
        );
        assert_ne!(applied.inputs, first.inputs);
        // Another order: an equal spec of another digest is not taken (the state records
        // the digest of what converge applied).
        let kept = applied.clone();
        write(&format!(r#"{{"Resources": {{{b}, {a}}}}}"#));
        assert!(reread(&mut applied).is_none());
        assert!(Arc::ptr_eq(&kept, &applied));
        // Changed: given to be planned and reported.
        write(&format!(r#"{{"Resources": {{{a}}}}}"#));
        assert!(reread(&mut applied).is_some());
        assert!(Arc::ptr_eq(&kept, &applied));
    }

    #[test]
    fn metrics_read_as_prometheus_text() {
        let m = Metrics::new();
        m.ticks.store(3, Ordering::Relaxed);
        m.requests.lock().unwrap().insert("aws".into(), 12);
        let text = m.prometheus();
        assert!(
            text.contains(
                "# TYPE rkit_converge_ticks_total counter\nrkit_converge_ticks_total 3\n"
            )
        );
        assert!(text.contains("rkit_provider_requests_total{provider=\"aws\"} 12\n"));
    }
}
