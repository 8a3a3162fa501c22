//! Handing over: a converge that runs on one of the machines it manages (a manager of a
//! bootstrapped stack, `--self-id`) never deletes or replaces that machine itself. Such a step
//! is left out of its tick, with what depends on it, for another manager to carry out; so a
//! rolling update of the manager group replaces every other member from here and this one
//! last, by a manager that keeps running through it, and no apply is cut short by its own
//! machine going away.
//!
//! Invariants: only steps that delete the object recorded (or found) with the machine's ID, or
//! change its properties in place (which may stop it: an instance's type is changed stopped),
//! are left out (a relabelling, tags only, goes ahead); what is left out is said; the rest of
//! the plan is unchanged.

use super::plan::{self, Action, Focus, Plan};
use super::session::Session;
use anyhow::Result;

/// Leaves out of `plan` every step that would delete or change the machine `me` (by ID) and
/// what depends on it; the names left out.
pub fn hand_over(plan: &mut Plan, session: &Session, me: &str) -> Result<Vec<String>> {
    let mine: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| match s.action {
            Action::Delete | Action::Replace => true,
            // An update in place may stop it (an instance's type is changed stopped).
            Action::Update => !s.changes.is_empty(),
            _ => false,
        })
        .filter(|s| match &s.orphan {
            Some(orphan) => orphan.id == me,
            None => session.recorded_id(&s.name).as_deref() == Some(me),
        })
        .map(|s| s.name.clone())
        .collect();
    if mine.is_empty() {
        return Ok(mine);
    }
    let orphans: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.orphan.is_some() && mine.contains(&s.name))
        .map(|s| s.name.clone())
        .collect();
    plan.steps
        .retain(|s| !(s.orphan.is_some() && orphans.contains(&s.name)));
    let excludes: Vec<String> = mine
        .iter()
        .filter(|n| !orphans.contains(n))
        .cloned()
        .collect();
    if !excludes.is_empty() {
        let focus = Focus {
            excludes,
            ..Focus::default()
        };
        plan::focus(plan, session.spec(), &session.store().state, &focus)?;
    }
    Ok(mine)
}
