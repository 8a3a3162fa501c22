//! The seed of a stack that runs itself (`rkit bootstrap`, InfraKit's seed): the plan that
//! creates one member of a group, tagged as a seed, with what the group's template needs, and
//! nothing else; the seed's own `rkit converge` builds the rest.
//!
//! Invariants:
//! - A group that has a member (recorded and still there, or found by the group's tags) gets
//!   no seed: its members are reported instead, so bootstrap run twice makes one seed.
//! - The plan is the spec's, limited to the group and what it depends on (as `--target`),
//!   then to the group's first member: what it creates goes through apply like any create
//!   (intent journaled first; after a lost answer or a killed run, found by its tags).
//! - The seed carries the group's tags with the config hash `bootstrap`, so the group adopts
//!   it and never replaces it for being a seed; its properties are the template's own.

use super::group::logical_of;
use super::options::PlanOptions;
use super::plan::{self, Action, Focus, Plan};
use super::session::Session;
use anyhow::{Result, anyhow, bail};

/// What bootstrapping a group comes to.
pub enum Seeding {
    /// The group has members already (name, ID): no seed is made.
    Running(Vec<(String, String)>),
    /// The plan that makes the seed (and what its template needs).
    Plan(Box<Plan>),
}

impl Session {
    /// Plans the seed of `group` (see the module's invariants).
    pub async fn seed(&mut self, group: &str, options: &PlanOptions) -> Result<Seeding> {
        if !self.spec().spec.groups.contains_key(group) {
            bail!(
                "{}: there is no group {group:?} to bootstrap",
                self.spec().path.display()
            );
        }
        let first = self.spec().members[group].first().cloned().ok_or_else(|| {
            anyhow!("group {group} has no member to seed: give it a Size of at least 1")
        })?;
        let mut plan = self.plan_spec(options).await?;
        let focus = Focus {
            targets: vec![group.to_string()],
            ..Focus::default()
        };
        plan::focus(&mut plan, self.spec(), &self.store().state, &focus)?;
        let running = self.running(&plan, group);
        if !running.is_empty() {
            return Ok(Seeding::Running(running));
        }
        only_the_seed(&mut plan, group, &first);
        super::checks::check(&self.ctx, &mut plan, options.operation)?;
        Ok(Seeding::Plan(Box::new(plan)))
    }

    /// The members of `group` that exist (see [`existing`]).
    fn running(&self, plan: &Plan, group: &str) -> Vec<(String, String)> {
        let members = &self.spec().members[group];
        existing(plan, group, members, |name| self.recorded_id(name))
    }
}

/// Keeps, of the group's members, only `first`, made a seed.
fn only_the_seed(plan: &mut Plan, group: &str, first: &str) {
    plan.steps
        .retain(|s| logical_of(group, &s.name).is_none() || *s.name == *first);
    for step in plan.steps.iter_mut().filter(|s| *s.name == *first) {
        step.tags.insert(
            crate::tags::CONFIG_HASH.to_string(),
            crate::tags::BOOTSTRAP.to_string(),
        );
        step.more_mut().health = None;
        step.more_mut().reason = Some(format!(
            "the seed of group {group}: its rkit converge builds the rest"
        ));
    }
    plan.groups.clear();
}

/// The members of `group` (`members`) that exist, with their IDs: by the plan, any step of
/// one but a plain create; and those recorded (`recorded` gives the ID) that the plan leaves
/// as they are, with no step.
fn existing(
    plan: &Plan,
    group: &str,
    members: &[String],
    recorded: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let stepped: std::collections::HashSet<&str> = plan.steps.iter().map(|s| &*s.name).collect();
    let by_plan = plan
        .steps
        .iter()
        .filter(|s| logical_of(group, &s.name).is_some())
        .filter(|s| s.action != Action::Create || s.adopt().is_some())
        .filter_map(|s| {
            Some((
                s.name.to_string(),
                s.adopt()
                    .map(str::to_string)
                    .or_else(|| recorded(&s.name))?,
            ))
        });
    let kept = members
        .iter()
        .filter(|m| !stepped.contains(m.as_str()))
        .filter_map(|m| Some((m.clone(), recorded(m)?)));
    by_plan.chain(kept).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_left_as_they_are_exist_though_the_plan_has_no_step_for_them() {
        let members: Vec<String> = ["M[0]", "M[1]", "M[2]"].map(String::from).into();
        let recorded = |name: &str| (name != "M[2]").then(|| format!("i-{name}"));
        let mut plan = Plan {
            stack: "s".into(),
            lineage: "l".into(),
            serial: 1,
            steps: Vec::new(),
            unchanged: 2,
            kept: None,
            groups: Vec::new(),
            policy: None,
            destroy: false,
        };
        // Up to date, the group's plan is empty: its recorded members run.
        let running = existing(&plan, "M", &members, recorded);
        assert_eq!(
            running,
            [
                ("M[0]".into(), "i-M[0]".into()),
                ("M[1]".into(), "i-M[1]".into())
            ]
        );
        // One to create (not running), one updated (running), one kept (running).
        let mut create = plan::Step::delete("M[2]", "p", "T", None);
        create.action = Action::Create;
        let mut update = plan::Step::delete("M[1]", "p", "T", None);
        update.action = Action::Update;
        plan.steps = vec![Box::new(create), Box::new(update)];
        let running = existing(&plan, "M", &members, recorded);
        assert_eq!(
            running,
            [
                ("M[1]".into(), "i-M[1]".into()),
                ("M[0]".into(), "i-M[0]".into())
            ]
        );
        // Nothing recorded and only creates: nothing runs (a seed is made).
        let running = existing(&plan, "M", &members[2..], |_| None);
        assert!(running.is_empty(), "{running:?}");
    }
}
