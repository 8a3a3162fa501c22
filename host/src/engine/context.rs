//! The run context: what the operations of one apply (or refresh, or converge tick) share —
//! the spec, the bound providers, the state behind its lock, where events go, the interrupt,
//! the readiness rounds — and the journal's group commit.
//!
//! Invariants:
//! - A change is durable before [`Context::change`] returns (intent before effect): each
//!   operation stages its change, then waits its turn to write; whoever writes takes all that
//!   is staged, in serial order, so operations finishing together share one write.
//! - The state's lock is never held across an await or a write to the store: the write runs
//!   with the state free for others to stage meanwhile.
//! - Once a write fails the state is poisoned: no later change is staged, and the failure
//!   names the store's error (the next run reads back what was done).

use super::events::{Events, Failure};
use super::interrupt::Interrupt;
use super::providers::Providers;
use crate::sandbox::Provider;
use crate::spec::LoadedSpec;
use crate::state::{Change, StateStore};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The suffix under which a resource being replaced create-before-destroy is recorded until
/// its old object is deleted.
pub const DEPOSED: &str = "#deposed";

/// How often a running operation reports that it still runs.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What the operations share.
pub struct Context {
    /// Shared with the converge loop that opened the session (one copy however many ticks).
    pub spec: Arc<LoadedSpec>,
    pub providers: Providers,
    pub store: Mutex<StateStore>,
    /// Where operations report.
    pub events: Events,
    /// How often a running operation reports that it still runs.
    pub progress_every: Duration,
    /// Raised by the CLI on SIGINT/SIGTERM.
    pub interrupt: Interrupt,
    /// Held while a rolling update brings what a group feeds up to date (one at a time).
    pub feeding: tokio::sync::Mutex<()>,
    /// Held while journal lines are written (one write at a time, in serial order).
    pub writing: tokio::sync::Mutex<()>,
    /// New objects waiting to be ready, polled together per provider and type.
    pub readiness: super::ready::Readiness,
    /// The policies plans are checked against, and the run's overrides.
    pub policy: super::options::PolicyRun,
    /// The last policy verdict and the fingerprint of what it was reached on.
    pub policy_memo: Mutex<Option<(String, crate::policy::Verdict)>>,
}

impl Context {
    /// The resource's dependencies in the spec (none if it is not in the spec, or the
    /// session let go of the spec's resources).
    pub fn spec_deps(&self, name: &str) -> Vec<String> {
        if self.spec.spec.resources.contains_key(name) {
            self.spec
                .dependencies(name)
                .into_iter()
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        }
    }

    /// Journals `change` to `name`, durably before this returns. Operations finishing
    /// together share one write (group commit): each stages its change, then waits its turn to
    /// write; whoever writes takes everything staged so far, so the others often find theirs
    /// already written.
    pub async fn change(&self, name: &str, change: Change) -> Result<(), Failure> {
        let failed = |err: anyhow::Error| {
            Failure::engine(format!(
                "{name}: recording in the state failed: {err:#} (the next run reads back what \
                 was done)"
            ))
        };
        let serial = self
            .store
            .lock()
            .expect("state lock")
            .stage(name, change)
            .map_err(failed)?;
        let _turn = self.writing.lock().await;
        let batch = {
            let mut store = self.store.lock().expect("state lock");
            if store.durable() >= serial {
                return Ok(());
            }
            store.batch().map_err(failed)?
        };
        // Written with the state free for others to stage meanwhile.
        let outcome = batch.write();
        self.store
            .lock()
            .expect("state lock")
            .written(&batch, outcome)
            .map_err(failed)
    }
}

/// The bound provider of `plugin`.
pub fn provider_of<'a>(ctx: &'a Context, plugin: &str) -> Result<&'a Provider, Failure> {
    ctx.providers
        .get(plugin)
        .map(|b| b.provider.as_ref())
        .map_err(|e| Failure::engine(e.to_string()))
}
