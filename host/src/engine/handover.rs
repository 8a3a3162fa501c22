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

use super::plan::{self, Action, Focus, Plan, Step};
use crate::spec::LoadedSpec;
use crate::state::State;
use anyhow::Result;

/// Leaves out of `plan` every step that would delete or change the machine `me` (by its ID,
/// whatever name records it: a member's, a deposed one's, an orphan's) and what depends on
/// it; the names left out.
pub fn hand_over(
    plan: &mut Plan,
    spec: &LoadedSpec,
    state: &State,
    me: &str,
) -> Result<Vec<String>> {
    let mut mine = Vec::new();
    let mut excludes = Vec::new();
    plan.steps.retain(|s| {
        if !stops(s) || !is(s, state, me) {
            return true;
        }
        mine.push(s.name.to_string());
        // An orphan is unrecorded: nothing depends on it, its step alone goes.
        if s.orphan().is_some() {
            return false;
        }
        excludes.push(s.name.to_string());
        true
    });
    if !excludes.is_empty() {
        let focus = Focus {
            excludes,
            ..Focus::default()
        };
        plan::focus(plan, spec, state, &focus)?;
    }
    Ok(mine)
}

/// Whether the step may take its object away or stop it: a delete, a replacement, or an
/// update in place of its properties (an instance's type is changed stopped); a relabelling
/// (an update with no property change, tags only) does not.
fn stops(step: &Step) -> bool {
    match step.action {
        Action::Delete | Action::Replace => true,
        Action::Update => !step.changes.is_empty(),
        _ => false,
    }
}

/// Whether the step's object is the machine `me`.
fn is(step: &Step, state: &State, me: &str) -> bool {
    match step.orphan() {
        Some(orphan) => orphan.id == me,
        None => state
            .resources
            .get(&*step.name)
            .is_some_and(|r| r.id() == me),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{Change, Orphan};
    use crate::state::ResourceState;
    use serde_json::json;

    fn step(name: &str, action: Action, changes: usize) -> Step {
        let mut s = Step::delete(name, "aws", "Instance", None);
        s.action = action;
        s.changes = (0..changes)
            .map(|_| Change {
                field: "InstanceType".into(),
                before: Some(json!("t3.micro").into()),
                after: Some(json!("t3.small").into()),
                forces_replacement: false,
                sensitive: false,
            })
            .collect();
        s
    }

    fn recorded(id: &str) -> ResourceState {
        ResourceState::new(
            "aws".into(),
            "Instance".into(),
            id,
            json!({}).into(),
            json!({}).into(),
        )
    }

    fn names(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|s| &*s.name).collect()
    }

    fn handed_over(steps: Vec<Step>, state: &State) -> (Vec<String>, Plan) {
        let spec = crate::spec::parse(
            std::path::Path::new("s.json"),
            r#"{"Resources": {
                "Me": {"Plugin": "aws", "Type": "Instance"},
                "Uses": {"Plugin": "aws", "Type": "Instance", "DependsOn": ["Me"]},
                "Other": {"Plugin": "aws", "Type": "Instance"}}}"#,
        )
        .unwrap();
        let mut plan = Plan {
            stack: "s".into(),
            lineage: "l".into(),
            serial: 0,
            steps: steps.into_iter().map(Box::new).collect(),
            unchanged: 0,
            kept: None,
            groups: Vec::new(),
            policy: None,
            destroy: false,
        };
        let mine = hand_over(&mut plan, &spec, state, "i-me").unwrap();
        (mine, plan)
    }

    #[test]
    fn its_own_replacement_and_what_depends_on_it_are_left_to_another_manager() {
        let mut state = State::default();
        state.resources.insert("Me".into(), recorded("i-me"));
        state.resources.insert("Other".into(), recorded("i-other"));
        let steps = vec![
            step("Me", Action::Replace, 1),
            step("Uses", Action::Update, 1),
            step("Other", Action::Replace, 1),
        ];
        let (mine, plan) = handed_over(steps, &state);
        assert_eq!(mine, ["Me"]);
        assert_eq!(names(&plan), ["Other"]);
    }

    #[test]
    fn its_own_machine_is_found_by_id_under_any_name_and_a_relabelling_goes_ahead() {
        let mut state = State::default();
        // The replacement made Me anew: the old machine (this one) is recorded deposed.
        state.resources.insert("Me".into(), recorded("i-new"));
        let deposed = format!("Me{}", crate::engine::context::DEPOSED);
        state.resources.insert(deposed.clone(), recorded("i-me"));
        let mut mine_orphan = step("Me (orphan i-me)", Action::Delete, 0);
        mine_orphan.more_mut().orphan = Some(Orphan {
            logical: "Me".into(),
            id: "i-me".into(),
            properties: json!({}),
        });
        let mut other_orphan = step("Me (orphan i-x)", Action::Delete, 0);
        other_orphan.more_mut().orphan = Some(Orphan {
            logical: "Me".into(),
            id: "i-x".into(),
            properties: json!({}),
        });
        let steps = vec![
            step("Me", Action::Update, 0),
            step(&deposed, Action::Delete, 0),
            mine_orphan,
            other_orphan,
        ];
        let (mine, plan) = handed_over(steps, &state);
        assert_eq!(mine, [deposed.as_str(), "Me (orphan i-me)"]);
        assert_eq!(names(&plan), ["Me", "Me (orphan i-x)"]);
    }
}
