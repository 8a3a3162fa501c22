//! Groups in the engine (InfraKit's group controller, as planning): which members a group has,
//! which it keeps, adopts, adds and removes, how a template change rolls through them, and the
//! health a rolling replacement is to wait for. Plan time only: the waiting itself is
//! [`super::health`]'s, at apply time.
//!
//! Invariants:
//! - No hidden state: a group's members are what the state records under `GROUP[ID]` and what
//!   the provider's `list` finds carrying the stack's and the group's tags (`rkit:stack`,
//!   `rkit:group`); an object found that way and recorded under no name is adopted (it keeps
//!   its `rkit:logical-id` if that is free and valid) or, if the group has enough members,
//!   deleted. A seed (`rkit:config-hash=bootstrap`) counts as current: adopted and relabelled,
//!   never replaced for being a seed.
//! - Scaling down removes members deterministically: outdated config first, then the highest
//!   logical ID, then the highest provider ID. Scaling up takes the lowest free numbers.
//! - A member recorded with another config hash is replaced (a rolling update): at most
//!   `MaxUnavailable` at a time, each batch after every operation of the previous one, each
//!   replacement healthy for `HealthyFor` (within `HealthTimeout`) before its step is done; a
//!   replacement that does not become healthy fails its step, so the batches after it are
//!   skipped and reported (no automatic rollback: changing the spec back is the rollback).
//! - What a group feeds (a resource using `{{.Groups.X.IDs}}`, such as a target group) is
//!   brought up to date with each replacement before it is waited on, one update at a time,
//!   each resolving the membership recorded then; if it reports `TargetHealth`, the member
//!   must be `healthy` there too.

use super::context::DEPOSED;
use super::plan::{Action, Feed, Found, GroupChange, Health, Orphan, Plan, Step};
use super::providers::Providers;
use crate::spec::LoadedSpec;
use crate::spec::group::{GroupSpec, member_name};
use crate::state::{State, forgotten_key};
use crate::tags;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What planning decided about the groups before planning their members.
#[derive(Debug, Default)]
pub struct Decision {
    /// Per group, the logical IDs of its members, in order.
    pub chosen: BTreeMap<String, Vec<String>>,
    /// Members to adopt: member name → ID of the object found with the group's tags.
    pub adopt: BTreeMap<String, String>,
    /// Objects found with a group's tags that the group has no room for (deleted).
    pub remove: Vec<Step>,
    /// Recorded members the group no longer has, with why.
    pub dropped: BTreeMap<String, String>,
    /// Per group, how it changes (sizes; the rolling count is added by [`roll`]).
    pub changes: Vec<GroupChange>,
}

/// One existing member.
#[derive(Debug, Clone)]
struct Member {
    /// Its logical ID, if it has a valid one no other member took.
    logical: Option<String>,
    id: String,
    hash: Option<String>,
    /// Found by `list` (not recorded): its properties, for a delete.
    listed: Option<Value>,
}

impl Member {
    fn outdated(&self, current: &str) -> bool {
        !matches!(self.hash.as_deref(), Some(h) if h == current || h == tags::BOOTSTRAP)
    }
}

/// The logical ID of recorded resource `name` if it is a member of `group`.
pub fn logical_of<'a>(group: &str, name: &'a str) -> Option<&'a str> {
    name.strip_prefix(group)?
        .strip_prefix('[')?
        .strip_suffix(']')
        .filter(|id| !id.contains(DEPOSED))
}

/// Decides every group's members from the state and what `list` found with the groups' tags
/// (`listed`: per group).
pub fn decide(spec: &LoadedSpec, state: &State, listed: &BTreeMap<String, Vec<Found>>) -> Decision {
    let known = known_objects(state);
    let mut decision = Decision::default();
    for (g, gs) in &spec.spec.groups {
        decision.decide_group(g, gs, state, listed.get(g), &known);
    }
    decision
}

/// The objects the state knows (recorded or forgotten), by [`forgotten_key`]: never adopted.
fn known_objects(state: &State) -> BTreeSet<String> {
    state
        .resources
        .values()
        .map(|r| forgotten_key(&r.plugin, &r.type_name, r.id()))
        .chain(state.forgotten.iter().cloned())
        .collect()
}

impl Decision {
    /// Decides group `g`'s members, as passes: the recorded ones, the found ones, which are
    /// kept (by logical IDs or by size), what happens to the surplus, and the group's change.
    fn decide_group(
        &mut self,
        g: &str,
        gs: &GroupSpec,
        state: &State,
        listed: Option<&Vec<Found>>,
        known: &BTreeSet<String>,
    ) {
        let current = gs.config_hash();
        let mut taken = recorded_members(g, state);
        let floating = found_members(g, gs, listed, known, &mut taken);
        let from = taken.len() + floating.len();
        let (kept, surplus) = match &gs.logical_ids {
            Some(ids) => by_logical_ids(ids, taken, floating),
            None => by_size(gs, &current, taken, floating),
        };
        let to = kept.len();
        let why = format!(
            "group {g} has {to} member{}",
            if to == 1 { "" } else { "s" }
        );
        for m in surplus {
            self.let_go(g, gs, m, &why);
        }
        let ids = self.keep(g, kept);
        self.chosen.insert(g.to_string(), ids);
        self.changes.push(GroupChange {
            group: g.to_string(),
            from,
            to,
            rolling: 0,
            at_a_time: gs.updating.max_unavailable,
        });
    }

    /// A surplus member: one found by `list` is deleted, a recorded one dropped (`why`).
    fn let_go(&mut self, g: &str, gs: &GroupSpec, m: Member, why: &str) {
        match m.listed {
            Some(properties) => {
                let logical = m.logical.as_deref().unwrap_or("?");
                let mut step = Step::delete(
                    &format!("{} (found {})", member_name(g, logical), m.id),
                    &gs.plugin,
                    &gs.type_name,
                    Some(format!("it carries group {g}'s tags; {why}")),
                );
                step.more_mut().orphan = Some(Orphan {
                    logical: member_name(g, logical),
                    id: m.id,
                    properties,
                });
                self.remove.push(step);
            }
            None => {
                let logical = m.logical.expect("recorded members have a logical ID");
                self.dropped
                    .insert(member_name(g, &logical), why.to_string());
            }
        }
    }

    /// The kept members' logical IDs, in order; the found ones among them are adopted.
    fn keep(&mut self, g: &str, kept: Vec<(String, Option<Member>)>) -> Vec<String> {
        let mut ids = Vec::with_capacity(kept.len());
        for (logical, m) in kept {
            if let Some(m) = m
                && m.listed.is_some()
            {
                self.adopt.insert(member_name(g, &logical), m.id);
            }
            ids.push(logical);
        }
        ids
    }
}

/// Group `g`'s members the state records, by logical ID.
fn recorded_members(g: &str, state: &State) -> BTreeMap<String, Member> {
    let mut taken = BTreeMap::new();
    for (name, r) in &state.resources {
        if let Some(logical) = logical_of(g, name) {
            taken.insert(
                logical.to_string(),
                Member {
                    logical: Some(logical.to_string()),
                    id: r.id().to_string(),
                    hash: r.tags().get(tags::CONFIG_HASH).map(String::from),
                    listed: None,
                },
            );
        }
    }
    taken
}

/// The objects `list` found with group `g`'s tags that the state does not know, once each by
/// ID: one with a valid logical ID no other member took joins `taken`; the others (returned)
/// float, to be numbered or removed.
fn found_members(
    g: &str,
    gs: &GroupSpec,
    listed: Option<&Vec<Found>>,
    known: &BTreeSet<String>,
    taken: &mut BTreeMap<String, Member>,
) -> Vec<Member> {
    let mut floating = Vec::new();
    let mut found: Vec<&Found> = listed
        .into_iter()
        .flatten()
        .filter(|f| {
            f.plugin == gs.plugin
                && f.type_name == gs.type_name
                && f.observed.tags.get(tags::GROUP).map(String::as_str) == Some(g)
                && !known.contains(&forgotten_key(&f.plugin, &f.type_name, &f.observed.id))
        })
        .collect();
    found.sort_by(|a, b| a.observed.id.cmp(&b.observed.id));
    found.dedup_by(|a, b| a.observed.id == b.observed.id);
    for f in found {
        let mut m = Member {
            logical: None,
            id: f.observed.id.clone(),
            hash: f.observed.tags.get(tags::CONFIG_HASH).cloned(),
            listed: Some(f.observed.properties.clone()),
        };
        match f.observed.tags.get(tags::LOGICAL_ID) {
            Some(l) if gs.index_of(l).is_some() && !taken.contains_key(l) => {
                m.logical = Some(l.clone());
                taken.insert(l.clone(), m);
            }
            _ => floating.push(m),
        }
    }
    floating
}

/// Kept members (logical ID, existing member or `None` to create) in order, and the surplus.
type Sorted = (Vec<(String, Option<Member>)>, Vec<Member>);

/// A group of fixed logical IDs: one member each; members found without a valid free ID fill
/// the empty ones (seeds first, then by ID).
fn by_logical_ids(
    ids: &[String],
    mut taken: BTreeMap<String, Member>,
    mut floating: Vec<Member>,
) -> Sorted {
    floating.sort_by_key(|m| (m.hash.as_deref() != Some(tags::BOOTSTRAP), m.id.clone()));
    let mut floating = floating.into_iter();
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
        let member = taken.remove(id).or_else(|| {
            floating.next().map(|mut m| {
                m.logical = Some(id.clone());
                m
            })
        });
        kept.push((id.clone(), member));
    }
    let surplus = taken.into_values().chain(floating).collect();
    (kept, surplus)
}

/// A group of a `Size`: keep that many (removing outdated first, then the highest logical ID,
/// then the highest provider ID), number the found ones that have no number with the lowest
/// free ones, and add the lowest free numbers up to the size.
fn by_size(
    gs: &GroupSpec,
    current: &str,
    taken: BTreeMap<String, Member>,
    floating: Vec<Member>,
) -> Sorted {
    let size = gs.size.unwrap_or(0) as usize;
    let mut all: Vec<Member> = taken.into_values().chain(floating).collect();
    // Removal order: first in `all` goes first.
    let index = |m: &Member| m.logical.as_deref().and_then(|l| gs.index_of(l));
    all.sort_by(|a, b| {
        b.outdated(current)
            .cmp(&a.outdated(current))
            .then_with(|| match (index(a), index(b)) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            })
            .then_with(|| b.id.cmp(&a.id))
    });
    let cut = all.len().saturating_sub(size);
    let kept_members = all.split_off(cut);
    let surplus = all;
    let used: BTreeSet<usize> = kept_members.iter().filter_map(index).collect();
    let mut free = (0usize..).filter(move |i| !used.contains(i));
    let mut kept: Vec<(usize, Option<Member>)> = Vec::with_capacity(size);
    let mut unnumbered = Vec::new();
    for m in kept_members {
        match index(&m) {
            Some(i) => kept.push((i, Some(m))),
            None => unnumbered.push(m),
        }
    }
    unnumbered.sort_by_key(|m| (m.hash.as_deref() != Some(tags::BOOTSTRAP), m.id.clone()));
    for mut m in unnumbered {
        let i = free.next().expect("numbers never run out");
        m.logical = Some(i.to_string());
        kept.push((i, Some(m)));
    }
    while kept.len() < size {
        let i = free.next().expect("numbers never run out");
        kept.push((i, None));
    }
    kept.sort_by_key(|(i, _)| *i);
    let kept = kept.into_iter().map(|(i, m)| (i.to_string(), m)).collect();
    (kept, surplus)
}

/// Applies the decision to a plan of the regrouped spec: adoptions, removals, the reasons of
/// dropped members, and each group's rolling update (outdated members replaced in batches of
/// `MaxUnavailable`, each waiting for the previous batch and for its own health).
pub fn roll(
    plan: &mut Plan,
    spec: &LoadedSpec,
    state: &State,
    providers: &Providers,
    decision: Decision,
) -> anyhow::Result<()> {
    let removed_ids = removed_ids(&decision);
    drop_decided_orphans(plan, &decision, &removed_ids);
    settle_members(plan, spec, &decision, &removed_ids);
    plan.steps.extend(decision.remove.into_iter().map(Box::new));
    let at: std::collections::HashMap<String, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.to_string(), i))
        .collect();
    let mut changes = decision.changes;
    for change in &mut changes {
        roll_group(plan, spec, state, providers, &at, change)?;
    }
    plan.groups = changes;
    Ok(())
}

/// The IDs of the objects found with a group's tags that the decision removes.
fn removed_ids(decision: &Decision) -> BTreeSet<String> {
    decision
        .remove
        .iter()
        .filter_map(|s| s.orphan().map(|o| o.id.clone()))
        .collect()
}

/// Drops the stack-wide scan's orphans that the groups adopt or remove: what a group decided
/// is not also an orphan of the scan.
fn drop_decided_orphans(plan: &mut Plan, decision: &Decision, removed_ids: &BTreeSet<String>) {
    let adopted_ids: BTreeSet<&String> = decision.adopt.values().collect();
    plan.steps.retain(|s| match s.orphan() {
        Some(o) => !adopted_ids.contains(&o.id) && !removed_ids.contains(&o.id),
        None => true,
    });
}

/// Gives each member's step what the group decided: the adoption (and only that), or the
/// reason it is dropped.
fn settle_members(
    plan: &mut Plan,
    spec: &LoadedSpec,
    decision: &Decision,
    removed_ids: &BTreeSet<String>,
) {
    let members: BTreeSet<&str> = spec
        .members
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    for step in &mut plan.steps {
        // A member adopts what the group decided, and only that (not also what the stack-wide
        // scan matched by `rkit:name`: one object is adopted once). Nothing adopts what the
        // group removes.
        let drop_scanned = step
            .adopt()
            .is_some_and(|id| members.contains(&*step.name) || removed_ids.contains(id));
        if drop_scanned {
            step.more_mut().adopt = None;
            step.set_reason(None);
        }
        if let Some(id) = decision.adopt.get(&*step.name)
            && step.action == Action::Create
        {
            step.more_mut().adopt = Some(id.clone());
            step.set_reason(Some(format!(
                "adopting {id}, which carries this stack's and its group's tags"
            )));
        }
        if let Some(why) = decision.dropped.get(&*step.name)
            && step.action == Action::Delete
        {
            step.set_reason(Some(why.clone()));
        }
    }
}

/// One group's rolling update: each outdated member's step (`at`: by name) becomes a
/// replacement waiting for its health and for the batch before its own.
fn roll_group(
    plan: &mut Plan,
    spec: &LoadedSpec,
    state: &State,
    providers: &Providers,
    at: &std::collections::HashMap<String, usize>,
    change: &mut GroupChange,
) -> anyhow::Result<()> {
    let gs = &spec.spec.groups[&change.group];
    let current = gs.config_hash();
    let health = health_of(spec, &change.group, gs)?;
    let cbd = providers
        .get(&gs.plugin)?
        .module
        .info()
        .type_info(&gs.type_name)
        .is_some_and(|t| t.create_before_destroy);
    let mut batch: Vec<String> = Vec::new();
    let mut previous: Vec<String> = Vec::new();
    for name in &spec.members[&change.group] {
        let Some(step) = at.get(name.as_str()).map(|&i| &mut plan.steps[i]) else {
            continue;
        };
        if !is_outdated(state, name, &current)
            || !matches!(step.action, Action::NoOp | Action::Update | Action::Replace)
        {
            continue;
        }
        step.action = Action::Replace;
        step.create_before_destroy = cbd;
        step.properties = Some(spec.spec.resources[name].properties.clone());
        step.tags = super::plan::tags_of(spec, name).into();
        step.set_reason(Some(format!(
            "group {}'s template changed: rolling update",
            change.group
        )));
        step.more_mut().health = Some(health.clone());
        step.more_mut().after = previous.clone().into();
        change.rolling += 1;
        batch.push(name.clone());
        if batch.len() == gs.updating.max_unavailable as usize {
            previous = std::mem::take(&mut batch);
        }
    }
    Ok(())
}

/// The health group `g`'s replacements wait for: how long healthy, within how long, and
/// what they feed.
fn health_of(spec: &LoadedSpec, g: &str, gs: &GroupSpec) -> anyhow::Result<Health> {
    let (healthy_for, timeout) = gs
        .updating
        .durations()
        .map_err(|(field, m)| anyhow::anyhow!("group {g}: {field}: {m}"))?;
    Ok(Health {
        healthy_for_ms: healthy_for.as_millis() as u64,
        timeout_ms: timeout.as_millis() as u64,
        feeds: feeds_of(spec, g),
    })
}

/// The resources group `g`'s members feed (those referring to a member), with their
/// properties as templates.
fn feeds_of(spec: &LoadedSpec, g: &str) -> Vec<Feed> {
    let member_set: BTreeSet<&str> = spec.members[g].iter().map(String::as_str).collect();
    spec.group_users
        .keys()
        .filter(|user| {
            spec.references(user)
                .iter()
                .any(|(_, r)| member_set.contains(&*r.resource))
        })
        .map(|user| {
            let rs = &spec.spec.resources[user];
            Feed {
                name: user.clone(),
                plugin: rs.plugin.to_string(),
                type_name: rs.type_name.to_string(),
                properties: rs.properties.value(),
            }
        })
        .collect()
}

/// The members a rolling update replaces: recorded, made from another template than the
/// group's current one (a seed's bootstrap hash counts as current). The plan replaces them
/// like `--replace` does, so what they feed shows its update; [`roll`] then orders them.
pub fn outdated_members(spec: &LoadedSpec, state: &State) -> Vec<String> {
    spec.spec
        .groups
        .iter()
        .flat_map(|(g, gs)| {
            let current = gs.config_hash();
            spec.members[g]
                .iter()
                .filter(move |name| is_outdated(state, name, &current))
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_outdated(state: &State, name: &str, current: &str) -> bool {
    state.resources.get(name).is_some_and(|recorded| {
        !matches!(
            recorded.tags().get(tags::CONFIG_HASH),
            Some(h) if h == current || h == tags::BOOTSTRAP
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spi::Observed;
    use crate::state::{ResourceState, TagList};
    use serde_json::json;

    fn spec(group: Value) -> LoadedSpec {
        let text = json!({"Stack": "s", "Groups": {"Web": group}}).to_string();
        crate::spec::parse(std::path::Path::new("s.json"), &text).unwrap()
    }

    fn recorded(state: &mut State, name: &str, id: &str, hash: &str) {
        state.resources.insert(
            name.into(),
            ResourceState::new(
                "null".into(),
                "Null".into(),
                id,
                json!({}).into(),
                json!({}).into(),
            )
            .with_tags(&TagList::from(&BTreeMap::from([(
                tags::CONFIG_HASH.to_string(),
                hash.to_string(),
            )]))),
        );
    }

    fn found(id: &str, tags: &[(&str, &str)]) -> Found {
        let mut t: crate::spi::Tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        t.insert(tags::GROUP.into(), "Web".into());
        t.insert(tags::STACK.into(), "s".into());
        Found {
            plugin: "null".into(),
            type_name: "Null".into(),
            observed: Observed {
                id: id.into(),
                properties: json!({}),
                attributes: json!({}),
                tags: t,
                pending: false,
            },
        }
    }

    #[test]
    fn scaling_down_removes_outdated_members_first_then_the_highest_numbers() {
        let s = spec(json!({"Size": 2, "Plugin": "null", "Type": "Null"}));
        let h = s.spec.groups["Web"].config_hash();
        let mut state = State::default();
        recorded(&mut state, "Web[0]", "a", &h);
        recorded(&mut state, "Web[1]", "b", "old");
        recorded(&mut state, "Web[2]", "c", &h);
        recorded(&mut state, "Web[3]", "d", &h);
        let d = decide(&s, &state, &BTreeMap::new());
        assert_eq!(d.chosen["Web"], ["0", "2"]);
        assert_eq!(d.dropped.keys().collect::<Vec<_>>(), ["Web[1]", "Web[3]"]);
        assert_eq!(d.dropped["Web[1]"], "group Web has 2 members");
        assert_eq!((d.changes[0].from, d.changes[0].to), (4, 2));
    }

    #[test]
    fn scaling_up_takes_the_lowest_free_numbers_and_adopts_what_list_finds() {
        let s = spec(json!({"Size": 4, "Plugin": "null", "Type": "Null"}));
        let h = s.spec.groups["Web"].config_hash();
        let mut state = State::default();
        recorded(&mut state, "Web[1]", "b", &h);
        let listed: BTreeMap<String, Vec<Found>> = [(
            "Web".to_string(),
            vec![
                // A seed made by hand: no logical ID, adopted into the lowest free number.
                found("seed", &[(tags::CONFIG_HASH, tags::BOOTSTRAP)]),
                // A member whose answer was lost: keeps its number.
                found("z", &[(tags::CONFIG_HASH, &h), (tags::LOGICAL_ID, "3")]),
                // Already recorded: not found twice.
                found("b", &[(tags::CONFIG_HASH, &h), (tags::LOGICAL_ID, "1")]),
            ],
        )]
        .into();
        state.resources.get_mut("Web[1]").unwrap().plugin = "null".into();
        let d = decide(&s, &state, &listed);
        assert_eq!(d.chosen["Web"], ["0", "1", "2", "3"]);
        assert_eq!(d.adopt["Web[0]"], "seed");
        assert_eq!(d.adopt["Web[3]"], "z");
        assert_eq!(d.adopt.len(), 2);
        assert!(d.remove.is_empty());
        assert_eq!((d.changes[0].from, d.changes[0].to), (3, 4));
    }

    #[test]
    fn found_members_beyond_the_size_are_deleted_and_a_seed_is_kept() {
        let s = spec(json!({"Size": 1, "Plugin": "null", "Type": "Null"}));
        let listed: BTreeMap<String, Vec<Found>> = [(
            "Web".to_string(),
            vec![
                found("x", &[(tags::CONFIG_HASH, "old"), (tags::LOGICAL_ID, "0")]),
                found("seed", &[(tags::CONFIG_HASH, tags::BOOTSTRAP)]),
            ],
        )]
        .into();
        let d = decide(&s, &State::default(), &listed);
        assert_eq!(d.chosen["Web"], ["0"]);
        assert_eq!(d.adopt["Web[0]"], "seed");
        assert_eq!(d.remove.len(), 1);
        let gone = &d.remove[0];
        assert_eq!(gone.orphan().unwrap().id, "x");
        assert_eq!(
            gone.reason(),
            Some("it carries group Web's tags; group Web has 1 member")
        );
    }

    #[test]
    fn logical_ids_keep_theirs_and_a_seed_fills_an_empty_one() {
        let s = spec(json!({"LogicalIDs": ["a", "b"], "Plugin": "null", "Type": "Null"}));
        let h = s.spec.groups["Web"].config_hash();
        let mut state = State::default();
        recorded(&mut state, "Web[b]", "1", &h);
        recorded(&mut state, "Web[c]", "2", &h);
        let listed: BTreeMap<String, Vec<Found>> = [(
            "Web".to_string(),
            vec![found("seed", &[(tags::CONFIG_HASH, tags::BOOTSTRAP)])],
        )]
        .into();
        let d = decide(&s, &state, &listed);
        assert_eq!(d.chosen["Web"], ["a", "b"]);
        assert_eq!(d.adopt["Web[a]"], "seed");
        assert_eq!(d.dropped.keys().collect::<Vec<_>>(), ["Web[c]"]);
    }

    #[test]
    fn deposed_objects_are_not_members() {
        assert_eq!(logical_of("Web", "Web[2]"), Some("2"));
        assert_eq!(logical_of("Web", &format!("Web[2]{DEPOSED}")), None);
        assert_eq!(logical_of("Web", "Webs[2]"), None);
    }
}
