//! What the engine reports, through one interface: the engine never prints or reads a
//! terminal; it hands [`Event`]s to a [`Reporter`] and asks it for approvals. The CLI's
//! reporters render them (a human view, or one JSON object per line); a library user may
//! collect them. Every string in an event is as the engine or a provider gave it: renderers
//! escape it before it reaches a terminal.

use super::action::Action;
pub use super::action::OpAction;
use crate::spi::{ErrorKind, ProviderError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Why an operation failed: the provider's kind (absent for the engine's own failures, such
/// as the state not being writable) and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The provider's kind of error (none: the engine's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
    /// What went wrong (a provider's text: escape it before showing it).
    pub message: String,
    /// The operation never began (nothing was asked of a provider): the state could not be
    /// written before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_started: bool,
}

impl Failure {
    /// A failure of the engine's own (no provider kind).
    pub fn engine(message: impl Into<String>) -> Self {
        Self {
            kind: None,
            message: message.into(),
            not_started: false,
        }
    }

    /// This failure, of an operation that never began.
    pub fn never_started(self) -> Self {
        Self {
            not_started: true,
            ..self
        }
    }

    /// A provider's failure, `context` (the resource) before its message.
    pub fn provider(context: &str, err: &ProviderError) -> Self {
        Self {
            kind: Some(err.kind),
            message: format!("{context}: {err}"),
            not_started: false,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One thing that happened. Every `resource` is the resource's name in the spec (or an
/// orphan's recorded name); every `action` what is done to it; times are wall-clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)] // the fields: see the enum's doc comment and each variant's
pub enum Event {
    /// Something worth a word that does not stop the command.
    Warning { message: String },
    /// A module was approved by `--approve` (the text lists what it gets).
    Approved { plugin: String, text: String },
    /// An operation on a resource started (`id`: the object's, when it has one already).
    OperationStarted {
        resource: String,
        action: OpAction,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// An operation is still running (every progress interval, 10 s by default).
    OperationProgress {
        resource: String,
        action: OpAction,
        elapsed_seconds: u64,
    },
    /// An attempt failed in a way that may pass; attempt `attempt` of at most `of` starts
    /// after `pause_ms`.
    OperationRetrying {
        resource: String,
        action: OpAction,
        /// The attempt that comes next (2 for the first retry).
        attempt: u32,
        of: u32,
        pause_ms: u64,
        reason: Failure,
    },
    /// An operation succeeded, on the object `id`.
    OperationFinished {
        resource: String,
        action: OpAction,
        id: String,
        /// An existing object (made by a run whose answer or state was lost) was taken over.
        adopted: bool,
        elapsed_ms: u64,
    },
    /// An operation failed for good.
    OperationFailed {
        resource: String,
        action: OpAction,
        error: Failure,
        elapsed_ms: u64,
    },
    /// Not attempted: `waits_for`, something it waits for, failed.
    OperationSkipped { resource: String, waits_for: String },
    /// Not attempted: the state could not be written before it (nothing was asked of a
    /// provider); the next run does it.
    OperationNotStarted {
        resource: String,
        action: OpAction,
        reason: String,
    },
    /// An object made by an interrupted create was found and recorded.
    IntentAdopted { resource: String, id: String },
    /// A recorded ordering (`first` before `then`) contradicted the spec and was dropped.
    OrderDropped { first: String, then: String },
    /// `/healthz` and `/metrics` are served here (converge `--listen`).
    Listening { address: String },
    /// A converge tick began (ticks count from 1).
    TickStarted { tick: u64 },
    /// A resource differs from the spec (converge).
    Drift {
        resource: String,
        action: Action,
        /// The properties that differ.
        fields: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A policy's finding outside a plan (a plan carries its own): at a converge tick about
    /// reality, at a provider's approval.
    PolicyFinding {
        operation: String,
        finding: crate::policy::Finding,
    },
    /// The spec file changed; applying it would make this many changes (converge without
    /// `--follow-spec`).
    SpecPending { changes: usize },
    /// Converge follows a newer bundle (`--follow-bundle`): its digest, who signed and pushed it.
    BundleFollowed {
        digest: String,
        signer: String,
        pushed_by: String,
    },
    /// The stored bundle was refused (its signature, a replay, its content); the last good one
    /// keeps running.
    BundleRefused { reason: String },
    /// A converge tick ended: how long it took, what it found, repaired, failed, deferred
    /// (over `--max-operations`), the changes a newer spec would make, whether providers
    /// throttled, whether the tick was skipped (the state held by another).
    TickFinished {
        tick: u64,
        seconds: f64,
        drift: usize,
        repaired: usize,
        failed: usize,
        deferred: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        pending: Option<usize>,
        throttled: bool,
        skipped: bool,
        /// HTTP requests providers made during the tick.
        requests: u64,
    },
}

/// A question only the person running rkit can answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Approval {
    /// A provider module is not approved (yet) for what it asks for and is given.
    Provider {
        /// The provider's name in the spec.
        plugin: String,
        /// What it asks for and is given, as the approval shows it.
        text: String,
    },
}

/// Where events go, and who answers approvals.
pub trait Reporter: Send + Sync {
    /// Takes one event (must not block for long: operations report from their tasks).
    fn event(&self, event: Event);

    /// Asks for an approval; `false` when no one can answer.
    fn approve(&self, _request: &Approval) -> bool {
        false
    }
}

/// Drops every event and approves nothing (the library's default).
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _event: Event) {}
}

/// A shared reporter.
pub type Events = Arc<dyn Reporter>;

/// One operation as it reports itself: its resource and action.
#[derive(Clone)]
pub struct Op {
    pub events: Events,
    pub resource: String,
    pub action: OpAction,
}

impl Op {
    pub fn new(events: &Events, resource: &str, action: OpAction) -> Self {
        Self {
            events: events.clone(),
            resource: resource.to_string(),
            action,
        }
    }

    /// Reports the retry that comes after `err`, as `attempt` of `of`, after `pause`.
    pub fn retrying(&self, attempt: u32, of: u32, pause: Duration, err: &ProviderError) {
        self.events.event(Event::OperationRetrying {
            resource: self.resource.clone(),
            action: self.action,
            attempt,
            of,
            pause_ms: pause.as_millis() as u64,
            reason: Failure {
                kind: Some(err.kind),
                message: err.to_string(),
                not_started: false,
            },
        });
    }
}
