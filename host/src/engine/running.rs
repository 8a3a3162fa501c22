//! A plan's steps while apply runs them: each is held until every operation of it has
//! succeeded, then freed, only its name and action kept (for the events and the report). An
//! apply of 100,000 creates so ends holding the state it made, not that and every step that
//! made it beside.
//!
//! Invariants:
//! - [`Running::step`] hands out a step while any operation of it has not succeeded; each
//!   operation (schedule node) runs once, so none asks for a step already freed.
//! - A step whose operation failed, panicked or never ran is kept whole to the end.
//! - [`Running::name`] and [`Running::action`] answer for every step, held or freed.

use super::plan::{Action, Step, Steps};
use super::schedule::Node;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// One step: whole while it runs, its name and action once done.
enum Held {
    Step(Arc<Step>),
    Done { name: Box<str>, action: Action },
}

/// The steps of a running plan, by index.
pub struct Running {
    held: Vec<Mutex<Held>>,
    /// Each step's operations that have not succeeded yet.
    left: Vec<AtomicU8>,
}

impl Running {
    /// `steps`, each run by the `nodes` that name it.
    pub fn new(steps: Steps, nodes: &[Node]) -> Self {
        let mut left: Vec<AtomicU8> = steps.iter().map(|_| AtomicU8::new(0)).collect();
        for node in nodes {
            *left[node.step()].get_mut() += 1;
        }
        // One step at a time moves into its `Arc` (never every step twice).
        let held = steps
            .into_iter()
            .map(|step| Mutex::new(Held::Step(Arc::from(step))))
            .collect();
        Running { held, left }
    }

    fn lock(&self, step: usize) -> std::sync::MutexGuard<'_, Held> {
        self.held[step].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Step `step`, for an operation of it that has not run yet.
    pub fn step(&self, step: usize) -> Arc<Step> {
        match &*self.lock(step) {
            Held::Step(held) => held.clone(),
            Held::Done { name, .. } => unreachable!("{name}: every operation of it has run"),
        }
    }

    /// Its name.
    pub fn name(&self, step: usize) -> String {
        match &*self.lock(step) {
            Held::Step(held) => held.name.to_string(),
            Held::Done { name, .. } => name.to_string(),
        }
    }

    /// Its name, moved out of a step that is done (a report of 100,000 creates does not
    /// copy their names); copied from one still held.
    pub fn take_name(&self, step: usize) -> String {
        match &mut *self.lock(step) {
            Held::Step(held) => held.name.to_string(),
            Held::Done { name, .. } => std::mem::take(name).into_string(),
        }
    }

    /// Its action.
    pub fn action(&self, step: usize) -> Action {
        match &*self.lock(step) {
            Held::Step(held) => held.action,
            Held::Done { action, .. } => *action,
        }
    }

    /// An operation of `step` succeeded (its caller holds no `Arc` of the step any more):
    /// after the last, the step is freed.
    pub fn succeeded(&self, step: usize) {
        if self.left[step].fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let mut held = self.lock(step);
        let Held::Step(whole) = &*held else {
            return;
        };
        let action = whole.action;
        let placeholder = Held::Done {
            name: Box::default(),
            action,
        };
        let Held::Step(whole) = std::mem::replace(&mut *held, placeholder) else {
            unreachable!("matched above, under the same lock");
        };
        // The name moves out when this is the last `Arc` of the step (it is, once the
        // operation's own is dropped), else it is copied.
        let name = match Arc::try_unwrap(whole) {
            Ok(whole) => whole.name,
            Err(whole) => whole.name.clone(),
        };
        *held = Held::Done { name, action };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::schedule::Phase;

    fn node(step: usize, phase: Phase) -> Node {
        Node::new(step, phase)
    }

    #[test]
    fn a_step_is_freed_after_its_last_operation_succeeds_and_keeps_its_name() {
        let mut replace = Step::delete("Db", "aws", "Db", None);
        replace.action = Action::Replace;
        let create = {
            let mut s = Step::delete("Web", "aws", "Instance", None);
            s.action = Action::Create;
            s
        };
        let nodes = [
            node(0, Phase::Delete),
            node(0, Phase::Upsert),
            node(1, Phase::Upsert),
        ];
        let running = Running::new(vec![Box::new(replace), Box::new(create)], &nodes);
        let db = running.step(0);
        let weak = Arc::downgrade(&db);
        drop(db);
        running.succeeded(0);
        assert!(
            weak.upgrade().is_some(),
            "one operation of Db is still to run"
        );
        assert_eq!(&*running.step(0).name, "Db");
        running.succeeded(0);
        assert!(
            weak.upgrade().is_none(),
            "Db is freed after its last operation"
        );
        assert_eq!(running.name(0), "Db");
        assert_eq!(running.action(0), Action::Replace);
        // A step whose operation did not succeed stays whole.
        let web = Arc::downgrade(&running.step(1));
        assert!(web.upgrade().is_some());
        assert_eq!(
            (running.name(1), running.action(1)),
            ("Web".into(), Action::Create)
        );
    }
}
