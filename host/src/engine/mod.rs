//! The engine: from a spec to converged resources, as a library that only emits events. A
//! [`Session`] holds a loaded spec, its dependency graph, the locked state and the started
//! providers; it settles open intents, validates, refreshes, scans for the stack's objects,
//! plans and applies. It never prints or reads a terminal: what happens goes to the session's
//! [`Reporter`], which also answers approvals.
//!
//! Its modules are private; what the CLI, tests and benchmarks use is re-exported here, and
//! nothing else is reachable from outside. One options struct per entry point
//! ([`PlanOptions`], [`DestroyOptions`], [`ApplyOptions`], [`ConvergeOptions`]).
//!
//! Inside, lowest first: `action` (the one action vocabulary), `events`, `interrupt`,
//! `retry`, `sensitive`, `input` (what of policies' input needs no run: who, providers, the
//! approval check); `providers`, `resolve` and `lock` (binding and approving modules);
//! `policies` (where a run's policies come from, bundles pinned);
//! `context` (one run's shared context); `plan`, `group`, `schedule`, `refresh`; `walk` (the
//! one generic walk), `ready`, `health`, `checks` (policies over plans, imports and reality),
//! `apply`; `session`; `saved` and `converge` above it.

#![warn(missing_docs)]

mod action;
mod apply;
mod checks;
mod context;
mod converge;
mod events;
mod force_new;
mod group;
mod handover;
mod health;
mod input;
mod interrupt;
mod lock;
mod options;
mod plan;
mod policies;
mod providers;
mod ready;
mod refresh;
mod resolve;
mod retry;
mod running;
mod saved;
mod schedule;
mod seed;
mod sensitive;
mod session;
mod step;
mod walk;

pub use action::{Action, OpAction};
pub use apply::Report;
pub use converge::{
    Metrics, Opener, Options as ConvergeOptions, Summary as ConvergeSummary, run as converge,
};
pub use events::{Approval, Event, Events, Failure, Reporter, Silent};
pub use input::who;
pub use interrupt::Interrupt;
pub use lock::{Lock, lock_path};
pub use options::{ApplyOptions, DestroyOptions, PARALLELISM, PlanOptions, PolicyRun};
pub use plan::{Change, Checked, Focus, GroupChange, Plan, Step};
pub use policies::{load as load_policies, pack as pack_policies};
pub use providers::ProviderArg;
pub use resolve::Policy;
pub use saved::PlanFile;
pub use seed::Seeding;
pub use sensitive::{MASK, shown_outputs, shown_resource};
pub use session::{Session, default_state, default_state_ref};
