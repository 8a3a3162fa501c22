//! What each of the engine's entry points is asked, one struct per entry point:
//! [`PlanOptions`] for [`super::Session::plan`], [`DestroyOptions`] for
//! [`super::Session::destroy_plan`], [`ApplyOptions`] for [`super::Session::apply`] (and
//! `converge::Options` for the converge loop). The CLI builds them from its flags; tests and
//! benchmarks build them directly.
//!
//! Invariant: the defaults are what `rkit` does without flags (refresh on, 10 calls at once,
//! no orphan scan beyond adoption, no focus).

use super::plan::Focus;

/// How many provider calls run at once unless told otherwise (`--parallelism`).
pub const PARALLELISM: usize = 10;

/// What [`super::Session::plan`] does besides planning the spec against the state.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Read every recorded resource back first, to see drift.
    pub refresh: bool,
    /// How many provider calls run at once (refresh, orphan scan).
    pub parallelism: usize,
    /// Look for objects carrying the stack's tags that the state does not record, and plan to
    /// delete them.
    pub orphans: bool,
    /// What the plan is limited to (`--target`, `--exclude`) and replaces (`--replace`).
    pub focus: Focus,
    /// What policies are told the plan is for (`plan`, `apply`, `converge`).
    pub operation: &'static str,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            refresh: true,
            parallelism: PARALLELISM,
            orphans: false,
            focus: Focus::default(),
            operation: "plan",
        }
    }
}

/// What [`super::Session::destroy_plan`] deletes besides what the state records.
#[derive(Debug, Clone, Default)]
pub struct DestroyOptions {
    /// Also every other object carrying the stack's tags (found even with the state lost).
    pub orphans: bool,
}

/// How [`super::Session::apply`] executes a plan.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How many operations run at once.
    pub parallelism: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallelism: PARALLELISM,
        }
    }
}

/// What one run's checks use: the policies, the overrides asked for, and who runs.
#[derive(Debug, Clone, Default)]
pub struct PolicyRun {
    /// The policies loaded for the run.
    pub policies: crate::policy::Policies,
    /// `--override PACKAGE`, each.
    pub overrides: Vec<String>,
    /// `--reason TEXT`.
    pub reason: Option<String>,
    /// Who runs (see `input::who`).
    pub who: String,
}
