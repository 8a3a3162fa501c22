//! Planning: compare the spec, the state and (with refresh) what providers read back, and
//! decide per resource: create, update in place, replace, delete or nothing.

pub use super::action::Action;
use super::force_new::ForceNew;
use super::providers::Providers;
pub use super::step::{Change, Feed, Health, Orphan, Step, Steps};
use crate::graph::Graph;
use crate::spec::LoadedSpec;
use crate::spec::reference::{self, Reference, Target, at_path};
use crate::spi::{Observed, Tags, TypeInfo};
use crate::state::{Compact, ResourceState, State, TagList};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a plan changes a group: its size, and the members it replaces because the template
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupChange {
    /// The group's name in the spec.
    pub group: String,
    /// Members that exist (recorded, or found by their tags).
    pub from: usize,
    /// Members the spec wants.
    pub to: usize,
    /// Members replaced by a rolling update.
    #[serde(default)]
    pub rolling: usize,
    /// How many of them at a time.
    #[serde(default)]
    pub at_a_time: u32,
}

impl GroupChange {
    /// The plan's line for it: `Web: 3 → 5 (+2)`, `Web: rolling update of 3 members (1 at a
    /// time)`; `None` when it does not change.
    pub fn line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.from != self.to {
            let delta = self.to as i64 - self.from as i64;
            parts.push(format!("{} → {} ({delta:+})", self.from, self.to));
        }
        if self.rolling > 0 {
            parts.push(format!(
                "rolling update of {} member{} ({} at a time)",
                self.rolling,
                if self.rolling == 1 { "" } else { "s" },
                self.at_a_time
            ));
        }
        (!parts.is_empty()).then(|| format!("{}: {}", self.group, parts.join(", ")))
    }
}

/// An object found by listing a type with the stack's tag.
#[derive(Debug, Clone)]
pub struct Found {
    pub plugin: String,
    pub type_name: String,
    pub observed: Observed,
}

/// Splits what a scan found into objects to adopt (by logical name: the first by ID of those
/// whose plugin, type and `rkit:name` match a resource to create) and orphans (the rest the
/// state does not know). `wanted` gives, per logical name to create, its plugin and type.
pub fn sort_found(
    found: &[Found],
    state: &State,
    wanted: &BTreeMap<&str, (&str, &str)>,
) -> (BTreeMap<String, String>, Vec<Step>) {
    let known: BTreeSet<String> = state
        .resources
        .values()
        .map(|r| crate::state::forgotten_key(&r.plugin, &r.type_name, r.id()))
        .chain(state.forgotten.iter().cloned())
        .collect();
    let mut unknown: Vec<&Found> = found
        .iter()
        .filter(|f| {
            !known.contains(&crate::state::forgotten_key(
                &f.plugin,
                &f.type_name,
                &f.observed.id,
            ))
        })
        .collect();
    unknown.sort_by(|a, b| a.observed.id.cmp(&b.observed.id));
    let mut adopt = BTreeMap::new();
    let mut orphans = Vec::new();
    for f in unknown {
        let logical = f
            .observed
            .tags
            .get(crate::tags::NAME)
            .cloned()
            .unwrap_or_default();
        let matches = wanted
            .get(logical.as_str())
            .is_some_and(|(p, t)| *p == f.plugin && *t == f.type_name);
        if matches && !adopt.contains_key(&logical) {
            adopt.insert(logical, f.observed.id.clone());
            continue;
        }
        let mut step = Step::delete(
            &format!("{logical} (orphan {})", f.observed.id),
            &f.plugin,
            &f.type_name,
            Some("it carries this stack's tags but the state does not record it".into()),
        );
        step.more_mut().orphan = Some(Orphan {
            logical,
            id: f.observed.id.clone(),
            properties: f.observed.properties.clone(),
        });
        orphans.push(step);
    }
    (adopt, orphans)
}

/// A plan: the steps, and the state it was made against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The stack's name (the spec's, tagged on what it makes).
    pub stack: String,
    /// The lineage of the state it was made against.
    pub lineage: String,
    /// That state's serial: the plan applies to it only.
    pub serial: u64,
    /// A step for each resource that changes (and each orphan), and for each unchanged one
    /// whose record changes (its dependencies, what of it is sensitive) as a no-op step.
    pub steps: Steps,
    /// How many of the spec's resources it leaves as they are and as recorded: counted, with
    /// no step (a plan of an unchanged estate holds nothing per resource). A plan saved
    /// before this held a no-op step for each instead, which still reads.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchanged: usize,
    /// Under `--target`/`--exclude`: which unchanged resources the plan is about (what
    /// policies are shown as `no-op`, as Terraform lists only those). None: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<String>>,
    /// How it changes the spec's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupChange>,
    /// What the policies said of it (none: no policy was loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Checked>,
    /// A destroy's plan (`destroy`, `plan --destroy`): applied, the state records the stack
    /// as destroyed, and a converge running meanwhile does not build it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destroy: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A plan's check, as the plan (and a saved plan) carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Checked {
    /// `plan`, `apply`, `destroy`, `converge`.
    pub operation: String,
    /// What the policies said.
    pub verdict: crate::policy::Verdict,
    /// The policies let through, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Why (`--reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How many steps of each action a plan has.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Plan {
    /// The plan as it may be shown: itself when `reveal` or nothing in it is sensitive
    /// (no copy), else [`Plan::redacted`].
    pub fn shown(&self, reveal: bool) -> std::borrow::Cow<'_, Plan> {
        if reveal || !self.has_sensitive() {
            std::borrow::Cow::Borrowed(self)
        } else {
            std::borrow::Cow::Owned(self.redacted())
        }
    }

    /// What policies are told applying it is: `destroy` or `converge` when it was planned as
    /// one, else `apply`.
    pub fn applied_as(&self) -> &'static str {
        match self.policy.as_ref().map(|c| c.operation.as_str()) {
            Some("destroy") => "destroy",
            Some("converge") => "converge",
            _ => "apply",
        }
    }

    /// Whether anything in it is sensitive.
    pub fn has_sensitive(&self) -> bool {
        self.steps.iter().any(|s| !s.sensitive().is_empty())
    }

    /// The plan as it may be shown: sensitive changes and properties masked.
    pub fn redacted(&self) -> Plan {
        use super::sensitive::{MASK, mask_fields, properties_in};
        let mut shown = self.clone();
        for step in &mut shown.steps {
            for change in step.changes.iter_mut().filter(|c| c.sensitive) {
                for value in [&mut change.before, &mut change.after]
                    .into_iter()
                    .flatten()
                {
                    *value = Compact::new(&Value::String(MASK.into()));
                }
            }
            if let Some(props) = &step.properties {
                let masked = mask_fields(&props.value(), properties_in(step.sensitive()));
                step.properties = Some(masked.into());
            }
        }
        shown
    }

    /// Counts by action (the unchanged: counted and no-op steps).
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            unchanged: self.unchanged,
            ..Counts::default()
        };
        for step in &self.steps {
            *match step.action {
                Action::Create => &mut c.create,
                Action::Update => &mut c.update,
                Action::Replace => &mut c.replace,
                Action::Delete => &mut c.delete,
                Action::NoOp => &mut c.unchanged,
            } += 1;
        }
        c
    }

    /// Whether applying it would change anything.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::NoOp)
    }

    /// The lines saying how it changes groups (`Web: 3 → 5 (+2)`).
    pub fn group_lines(&self) -> Vec<String> {
        self.groups.iter().filter_map(GroupChange::line).collect()
    }
}

/// How a plan says a changed property is why a resource is replaced.
const FORCES: &str = "forces replacement";

/// Plans `spec` against `state`. `refreshed` holds what providers read back (`None`: gone);
/// a resource missing from it is taken as recorded. The passes, in order: a step for each
/// resource of the spec (in dependency order, each resolving the references of those before
/// it), a delete for each recorded resource the spec no longer has, adoptions and orphans
/// from what `found` holds, and the replacements whose users move first.
pub fn plan(
    spec: &LoadedSpec,
    graph: &Graph,
    state: &State,
    providers: &Providers,
    refreshed: &BTreeMap<String, Option<Observed>>,
    found: Option<&[Found]>,
    replace: &[String],
) -> Result<Plan> {
    let inputs = Inputs {
        spec,
        state,
        refreshed,
        replace,
        sensitivity: super::sensitive::of(spec, providers),
    };
    let (mut steps, unchanged) = spec_steps(&inputs, graph, providers)?;
    steps.extend(deletions(spec, state));
    if let Some(found) = found {
        adopt_found(&mut steps, found, state);
    }
    create_before_users_move(&mut steps);
    Ok(Plan {
        stack: spec.stack.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        steps,
        unchanged,
        kept: None,
        groups: Vec::new(),
        policy: None,
        destroy: false,
    })
}

/// What a plan is made from.
struct Inputs<'a> {
    spec: &'a LoadedSpec,
    state: &'a State,
    refreshed: &'a BTreeMap<String, Option<Observed>>,
    replace: &'a [String],
    /// The sensitive paths of each resource.
    sensitivity: BTreeMap<String, Vec<String>>,
}

/// A step for each resource of the spec that changes (or whose record does), in dependency
/// order, and how many are left as they are.
fn spec_steps(inputs: &Inputs, graph: &Graph, providers: &Providers) -> Result<(Steps, usize)> {
    // Nodes and actions are by the place of a resource in the spec: the graph's own.
    assert!(
        std::ptr::eq(graph.spec(), inputs.spec),
        "a plan is made with its spec's graph"
    );
    // Each resource's action, by its place in the spec, as it is decided (dependencies
    // first).
    let mut actions: Vec<Option<Action>> = vec![None; graph.order.len()];
    // Room for a step each (a pointer: untouched room costs no memory), given back once
    // they are made.
    let mut steps = Vec::with_capacity(graph.order.len());
    let mut unchanged = 0;
    for node in &graph.order {
        let name = graph.name(*node);
        let rs = &inputs.spec.spec.resources[node.index()];
        let info = providers.get(&rs.plugin)?.module.info();
        let ty = info
            .type_info(&rs.type_name)
            .expect("types are checked by validation");
        let desired = desired(inputs, &rs.properties.value(), &actions);
        let recorded = inputs.state.resources.get(name);
        let (action, changes, reason) = decide(inputs, name, recorded, &desired, ty);
        actions[node.index()] = Some(action);
        if action == Action::NoOp && recorded.is_some_and(|r| recorded_as_is(inputs, name, r)) {
            unchanged += 1;
            continue;
        }
        steps.push(Box::new(spec_step(
            inputs,
            name,
            ty,
            recorded,
            (action, changes, reason),
        )));
    }
    steps.shrink_to_fit();
    Ok((steps, unchanged))
}

/// Whether what is recorded of unchanged `name` besides its object is as the spec has it
/// now: its dependencies and what of it is sensitive (else its no-op step records them).
fn recorded_as_is(inputs: &Inputs, name: &str, recorded: &ResourceState) -> bool {
    let sensitive = inputs.sensitivity.get(name).map_or(&[][..], Vec::as_slice);
    recorded.sensitive() == *sensitive
        && recorded
            .depends_on()
            .iter()
            .eq(inputs.spec.dependencies(name))
}

/// The properties `properties` resolve to with what is known now: a reference to a resource
/// kept (or updated in place) is its recorded ID or attribute; to one created or replaced,
/// unknown until apply.
fn desired(inputs: &Inputs, properties: &Value, actions: &[Option<Action>]) -> Value {
    let lookup = |r: &Reference| -> Option<Value> {
        let recorded = inputs.state.resources.get(&*r.resource)?;
        let at = inputs.spec.spec.resources.get_index_of(&*r.resource)?;
        let action = actions[at].expect("a dependency is decided first");
        match (&r.target, action) {
            (Target::Id, Action::NoOp | Action::Update) => {
                Some(Value::String(recorded.id().into()))
            }
            // An update in place keeps the object: its attributes are taken as they are
            // (a dependent whose input an update does change is updated by the next
            // plan), rather than unknown, which would replace dependents that reference
            // a force-new attribute (a volume's zone) for nothing.
            // An attribute that drifted on an object being updated is decided by that
            // update (it repairs the drift): unknown until then, not the drifted value.
            (Target::Attribute(path), action @ (Action::NoOp | Action::Update)) => {
                let attributes = recorded.attributes().value();
                let kept = at_path(&attributes, path);
                match inputs.refreshed.get(&*r.resource) {
                    Some(Some(observed)) => {
                        let now = at_path(&observed.attributes, path);
                        (action == Action::NoOp || now == kept).then(|| now.cloned())?
                    }
                    _ => kept.cloned(),
                }
            }
            _ => None,
        }
    };
    reference::resolve(properties, &lookup)
}

/// What is done to `name` (recorded as `recorded`) to make it `desired`, its changes and why.
fn decide(
    inputs: &Inputs,
    name: &str,
    recorded: Option<&ResourceState>,
    desired: &Value,
    ty: &TypeInfo,
) -> (Action, Vec<Change>, Option<String>) {
    let rs = &inputs.spec.spec.resources[name];
    // Made the size it is (`collect` would make room for at least four changes, ~700 bytes,
    // for each created resource of one property).
    let all_new = || -> Vec<Change> {
        let Some(desired) = desired.as_object() else {
            return Vec::new();
        };
        let mut changes = Vec::with_capacity(desired.len());
        changes.extend(desired.iter().map(|(k, v)| Change {
            field: k.as_str().into(),
            before: None,
            after: Some(Compact::new(v)),
            forces_replacement: false,
            sensitive: false,
        }));
        changes
    };
    let r = match (recorded, inputs.refreshed.get(name)) {
        (None, _) => return (Action::Create, all_new(), None),
        (Some(_), Some(None)) => {
            let why = "it was deleted outside rkit".to_string();
            return (Action::Create, all_new(), Some(why));
        }
        (Some(r), _) if r.plugin != rs.plugin || r.type_name != rs.type_name => {
            let why = "its Plugin or Type changed".to_string();
            return (Action::Replace, all_new(), Some(why));
        }
        (Some(r), _) => r,
    };
    let observed = inputs.refreshed.get(name).and_then(Option::as_ref);
    let force_new = ForceNew::new(&ty.force_new);
    // Unchanged and not drifted (the common case): found by comparing text, no tree built.
    let changes = if observed.is_none() && r.properties() == *desired {
        Vec::new()
    } else {
        diff(
            &r.properties().value(),
            observed.map(|o| &o.properties),
            desired,
            &force_new,
        )
    };
    let forcing: Vec<&str> = changes
        .iter()
        .filter_map(|c| {
            let (before, after) = (c.before.as_ref(), c.after.as_ref());
            let (before, after) = (before.map(Compact::value), after.map(Compact::value));
            force_new.forcing(&c.field, before.as_ref(), after.as_ref())
        })
        .collect();
    if inputs.replace.iter().any(|n| n == name) {
        let why = "its replacement was asked for (--replace)".to_string();
        (Action::Replace, changes, Some(why))
    } else if changes.is_empty()
        && let Some(why) = retag(r, &inputs.spec.stack, name)
            .or_else(|| seed_joins(r, &inputs.spec.spec.resources[name].tags))
    {
        (Action::Update, changes, Some(why))
    } else if changes.is_empty() {
        (Action::NoOp, changes, None)
    } else if forcing.is_empty() {
        (Action::Update, changes, None)
    } else {
        let reason = format!("{} {FORCES}", forcing.join(", "));
        (Action::Replace, changes, Some(reason))
    }
}

/// The step of the spec's resource `name`, as decided.
fn spec_step(
    inputs: &Inputs,
    name: &str,
    ty: &TypeInfo,
    recorded: Option<&ResourceState>,
    (action, mut changes, reason): (Action, Vec<Change>, Option<String>),
) -> Step {
    let spec = inputs.spec;
    let rs = &spec.spec.resources[name];
    let sensitive = inputs.sensitivity.get(name).cloned().unwrap_or_default();
    for change in &mut changes {
        change.sensitive = super::sensitive::properties_in(&sensitive).any(|p| p == change.field);
    }
    let (properties, tags) = match action {
        Action::NoOp => (None, TagList::default()),
        _ => (Some(rs.properties.clone()), tags_of(spec, name).into()),
    };
    let (plugin, type_name) = (rs.plugin.clone(), rs.type_name.clone());
    let mut step = Step::new(name.to_string(), action, plugin, type_name);
    step.changes = changes.into();
    step.create_before_destroy = ty.create_before_destroy && action == Action::Replace;
    step.depends_on = spec.dependencies(name).into();
    step.recorded_depends_on = recorded
        .map(|r| r.depends_on().to_list())
        .unwrap_or_default();
    step.properties = properties;
    step.tags = tags;
    step.set_reason(reason);
    if !sensitive.is_empty() {
        step.more_mut().sensitive = sensitive.into();
    }
    step
}

/// A delete for each recorded resource the spec no longer has.
fn deletions(spec: &LoadedSpec, state: &State) -> Steps {
    // The spec's own map answers (no set of its 100,000 names made beside it).
    let gone = state
        .resources
        .iter()
        .filter(|(name, _)| !spec.spec.resources.contains_key(name.as_str()));
    gone.map(|(name, r)| {
        let why = Some("it is gone from the spec".into());
        let mut step = Step::delete(name, &r.plugin, &r.type_name, why);
        step.recorded_depends_on = r.depends_on().to_list();
        Box::new(step)
    })
    .collect()
}

/// What the stack's tags found: creates that adopt an object already there, and orphans
/// (found, recorded under no name the spec has) to delete.
fn adopt_found(steps: &mut Steps, found: &[Found], state: &State) {
    // Nothing found (a first apply's scan, mostly): nothing to adopt, no orphan.
    if found.is_empty() {
        return;
    }
    // Borrowed from the steps: a first apply may create 100,000.
    let wanted: BTreeMap<&str, (&str, &str)> = steps
        .iter()
        .filter(|s| s.action == Action::Create)
        .map(|s| (&*s.name, (s.plugin.as_str(), s.type_name.as_str())))
        .collect();
    let (adopt, orphans) = sort_found(found, state, &wanted);
    drop(wanted);
    for step in steps.iter_mut() {
        if let Some(id) = adopt.get(&*step.name) {
            step.more_mut().adopt = Some(id.clone());
            step.more_mut().reason = Some(format!(
                "adopting {id}, which carries this stack's tags and its name"
            ));
        }
    }
    steps.extend(orphans.into_iter().map(Box::new));
}

/// A replacement that a changed property forces, of something another resource keeps using
/// and is only updated (a security group an instance names, a subnet a load balancer spans),
/// creates the new object first: the user is moved onto it, and only then is the old one
/// deleted, which the service would refuse while it is in use (CloudFormation's order for
/// every replacement). A replacement asked for by name (`--replace`) keeps its type's order:
/// the new object may take the old one's name or path, which only deleting first frees.
fn create_before_users_move(steps: &mut [Box<Step>]) {
    let updated_users: BTreeMap<&str, BTreeSet<&str>> = steps
        .iter()
        .filter(|s| s.action == Action::Update)
        .fold(BTreeMap::new(), |mut users, s| {
            for dep in &s.depends_on {
                users.entry(dep).or_default().insert(&*s.name);
            }
            users
        });
    let promoted: Vec<(usize, String)> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.action == Action::Replace && !s.create_before_destroy)
        .filter(|(_, s)| s.reason().is_some_and(|r| r.ends_with(FORCES)))
        .filter_map(|(i, s)| {
            let users = updated_users.get(&*s.name)?;
            let users: Vec<&str> = users.iter().copied().collect();
            Some((i, format!("; in use by {}", users.join(", "))))
        })
        .collect();
    for (i, why) in promoted {
        steps[i].create_before_destroy = true;
        steps[i]
            .more_mut()
            .reason
            .get_or_insert_default()
            .push_str(&why);
    }
}

/// Why an object whose properties match must still be updated for its tags: it does not
/// carry the identity rkit finds it by (`rkit:stack`, `rkit:name`) as the spec gives it: it
/// was renamed with `state mv` and still carries its old `rkit:name`, which a lost state
/// would make an orphan. A record without tags (an older state) is taken as it is.
fn retag(recorded: &ResourceState, stack: &str, name: &str) -> Option<String> {
    let carries = |key: &str, value: &str| recorded.tags().get(key).is_some_and(|v| v == value);
    if recorded.tags().is_empty()
        || (carries(crate::tags::STACK, stack) && carries(crate::tags::NAME, name))
    {
        return None;
    }
    Some(match recorded.tags().get(crate::tags::NAME) {
        Some(old) if old != name => format!(
            "it still carries {}={} (renamed with state mv): retagged",
            crate::tags::NAME,
            crate::text::escaped(old)
        ),
        _ => "it does not carry this stack's tags: retagged".to_string(),
    })
}

/// Why a recorded seed (`rkit:config-hash=bootstrap`, made by `rkit bootstrap`) is updated
/// though its properties match: it joins its group, relabelled with the group's config hash
/// (`wanted`: the member's tags in the spec), as a seed found by its tags is when adopted.
fn seed_joins(recorded: &ResourceState, wanted: &Tags) -> Option<String> {
    let hash = crate::tags::CONFIG_HASH;
    let seed = recorded.tags().get(hash) == Some(crate::tags::BOOTSTRAP);
    let group = wanted.get(crate::tags::GROUP)?;
    (seed
        && wanted
            .get(hash)
            .is_some_and(|h| h != crate::tags::BOOTSTRAP))
    .then(|| {
        format!(
            "the seed joins group {}: relabelled with its config hash",
            crate::text::escaped(group)
        )
    })
}

/// The tags resource `name` of `spec` carries: its own and rkit's (`rkit:stack`, `rkit:name`).
pub fn tags_of(spec: &LoadedSpec, name: &str) -> Tags {
    let mut tags: Tags = (*spec.spec.resources[name].tags).clone();
    tags.extend(identity_of(spec, name));
    tags
}

/// rkit's own tags for resource `name` of `spec`: its stack and its name.
pub fn identity_of(spec: &LoadedSpec, name: &str) -> Tags {
    [
        (crate::tags::STACK.to_string(), spec.stack.clone()),
        (crate::tags::NAME.to_string(), name.to_string()),
    ]
    .into()
}

/// The top-level properties that differ between what exists and what is desired. What exists
/// is what the provider read back where it reports the property, else what was recorded; only
/// properties the spec sets or rkit recorded are compared. A change forces replacement when a
/// force-new path under it reads differently ([`ForceNew`]).
fn diff(
    recorded: &Value,
    observed: Option<&Value>,
    desired: &Value,
    force_new: &ForceNew,
) -> Vec<Change> {
    let empty = serde_json::Map::new();
    let recorded = recorded.as_object().unwrap_or(&empty);
    let desired_map = desired.as_object().unwrap_or(&empty);
    let fields: BTreeSet<&String> = recorded.keys().chain(desired_map.keys()).collect();
    let mut changes: Vec<Change> = fields
        .into_iter()
        .filter_map(|field| {
            // What was read is reality, whole: a property it leaves out is unset (a key
            // rewritten without its lease has no LeaseTtl), not "as recorded".
            let before = match observed {
                Some(observed) => observed.get(field),
                None => recorded.get(field),
            };
            // `null` is unset too, whichever SDK wrote it.
            let (before, after) = (before.filter(|v| !v.is_null()), desired_map.get(field));
            let after = after.filter(|v| !v.is_null());
            let unknown = after.is_some_and(reference::has_unknown);
            (unknown || before != after).then(|| Change {
                field: field.as_str().into(),
                before: before.map(Compact::new),
                after: after.map(Compact::new),
                forces_replacement: force_new.forces(field, before, after),
                sensitive: false,
            })
        })
        .collect();
    // Kept in the plan: no room for more than there are.
    changes.shrink_to_fit();
    changes
}

/// Which resources a run is limited to and which it must replace (`--target`, `--exclude`,
/// `--replace`, as in Terraform).
#[derive(Debug, Clone, Default)]
pub struct Focus {
    /// Only these and what they depend on (transitively, in the spec).
    pub targets: Vec<String>,
    /// Not these, nor what depends on them.
    pub excludes: Vec<String>,
    /// Replace these even though nothing forces it.
    pub replace: Vec<String>,
}

impl Focus {
    /// Nothing is limited or forced.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.excludes.is_empty() && self.replace.is_empty()
    }
}

/// Applies `focus` to `plan`: steps outside the targets (or inside the exclusions) are left
/// out, and the resources to replace become replacements. Names must be the spec's (or, for
/// targets and exclusions, the state's).
pub fn focus(plan: &mut Plan, spec: &LoadedSpec, state: &State, focus: &Focus) -> Result<()> {
    // A group's name stands for its members.
    let focus = &Focus {
        targets: spec.with_members(&focus.targets),
        excludes: spec.with_members(&focus.excludes),
        replace: spec.with_members(&focus.replace),
    };
    let known =
        |name: &str| spec.spec.resources.contains_key(name) || state.resources.contains_key(name);
    for (flag, names) in [("--target", &focus.targets), ("--exclude", &focus.excludes)] {
        if let Some(bad) = names.iter().find(|n| !known(n)) {
            anyhow::bail!("{flag} {bad}: no resource {bad:?} in the spec or the state");
        }
    }
    if let Some(bad) = focus
        .replace
        .iter()
        .find(|n| !spec.spec.resources.contains_key(*n))
    {
        anyhow::bail!("--replace {bad}: no resource {bad:?} in the spec");
    }
    let deps = |name: &str| -> Vec<String> {
        if spec.spec.resources.contains_key(name) {
            spec.dependencies(name)
                .into_iter()
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        }
    };
    // Targets and everything they depend on.
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = focus.targets.clone();
    while let Some(name) = stack.pop() {
        if kept.insert(name.clone()) {
            stack.extend(deps(&name));
        }
    }
    // Exclusions and everything that depends on them.
    let mut dropped: BTreeSet<String> = focus.excludes.iter().cloned().collect();
    loop {
        let before = dropped.len();
        for name in spec.spec.resources.keys() {
            if deps(name).iter().any(|d| dropped.contains(d)) {
                dropped.insert(name.clone());
            }
        }
        if dropped.len() == before {
            break;
        }
    }
    let in_focus =
        |name: &str| (focus.targets.is_empty() || kept.contains(name)) && !dropped.contains(name);
    plan.steps.retain(|s| in_focus(s.logical()));
    let stepped: BTreeSet<&str> = plan.steps.iter().map(|s| &*s.name).collect();
    let unchanged = spec.spec.resources.keys();
    let unchanged = unchanged.filter(|n| in_focus(n) && !stepped.contains(n.as_str()));
    if focus.targets.is_empty() && focus.excludes.is_empty() {
        plan.unchanged = unchanged.count();
    } else {
        let kept: Vec<String> = unchanged.cloned().collect();
        plan.unchanged = kept.len();
        plan.kept = Some(kept);
    }
    for step in &mut plan.steps {
        if focus.replace.iter().any(|r| **r == *step.name)
            && matches!(step.action, Action::NoOp | Action::Update)
        {
            step.action = Action::Replace;
            step.set_reason(Some("its replacement was asked for (--replace)".into()));
            if step.properties.is_none() {
                step.properties = Some(spec.spec.resources[&*step.name].properties.clone());
                step.tags = tags_of(spec, &step.name).into();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::reference::UNKNOWN;
    use crate::state::NameList;
    use serde_json::json;

    #[test]
    fn diff_reports_changed_unknown_and_removed_fields() {
        // What was read is whole: a property it leaves out, or gives as null, is unset.
        let recorded = json!({"Path": "a", "Content": "x", "Mode": "0644", "Ttl": 600, "Gone": 1});
        let observed = json!({"Path": "a", "Content": "drifted", "Mode": "0644", "Ttl": null});
        let desired =
            json!({"Path": "a", "Content": "x", "Extra": UNKNOWN, "Ttl": 600, "Gone": null});
        let paths = ["Path".to_string()];
        let changes = diff(&recorded, Some(&observed), &desired, &ForceNew::new(&paths));
        let value = |v: &Option<Compact>| v.as_ref().map(Compact::value);
        let fields: Vec<(&str, Option<Value>, Option<Value>)> = changes
            .iter()
            .map(|c| (c.field.as_str(), value(&c.before), value(&c.after)))
            .collect();
        assert_eq!(
            fields,
            [
                ("Content", Some(json!("drifted")), Some(json!("x"))),
                ("Extra", None, Some(json!(UNKNOWN))),
                ("Mode", Some(json!("0644")), None),
                ("Ttl", None, Some(json!(600))),
            ]
        );
        assert!(changes.iter().all(|c| !c.forces_replacement));
    }

    fn step(name: &str, action: Action) -> Step {
        let mut s = Step::delete(name, "p", "T", None);
        s.action = action;
        s
    }

    #[test]
    fn a_forced_replacement_whose_users_are_updated_is_made_before_the_old_one_goes() {
        let mut sg = step("Sg", Action::Replace);
        sg.set_reason(Some("GroupName forces replacement".into()));
        let mut asked = step("Tg", Action::Replace);
        asked.set_reason(Some("its replacement was asked for (--replace)".into()));
        let mut web = step("Web", Action::Update);
        web.depends_on = NameList::from(&["Sg", "Tg"][..]);
        let mut steps = vec![Box::new(sg), Box::new(asked), Box::new(web)];
        create_before_users_move(&mut steps);
        assert!(steps[0].create_before_destroy);
        assert_eq!(
            steps[0].reason(),
            Some("GroupName forces replacement; in use by Web")
        );
        assert!(
            !steps[1].create_before_destroy,
            "--replace keeps its type's order"
        );
    }

    #[test]
    fn focus_keeps_targets_with_their_dependencies_and_drops_exclusions_with_dependents() {
        let spec = crate::spec::parse(
            std::path::Path::new("s.json"),
            r#"{"Resources": {
                "A": {"Plugin": "p", "Type": "T"},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]},
                "C": {"Plugin": "p", "Type": "T", "DependsOn": ["B"]},
                "D": {"Plugin": "p", "Type": "T"}}}"#,
        )
        .unwrap();
        let plan = Plan {
            stack: "s".into(),
            lineage: "l".into(),
            serial: 0,
            steps: ["A", "B", "C", "D"]
                .iter()
                .map(|n| Box::new(step(n, Action::NoOp)))
                .collect(),
            unchanged: 0,
            kept: None,
            groups: Vec::new(),
            policy: None,
            destroy: false,
        };
        let names = |p: &Plan| {
            p.steps
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
        };
        let state = State::default();
        let mut p = plan.clone();
        let f = Focus {
            targets: vec!["B".into()],
            replace: vec!["A".into()],
            ..Focus::default()
        };
        focus(&mut p, &spec, &state, &f).unwrap();
        assert_eq!(names(&p), ["A", "B"]);
        assert_eq!(p.steps[0].action, Action::Replace);
        let mut p = plan.clone();
        let f = Focus {
            excludes: vec!["B".into()],
            ..Focus::default()
        };
        focus(&mut p, &spec, &state, &f).unwrap();
        assert_eq!(names(&p), ["A", "D"]);
        // Unchanged resources without a step: counted, and under a focus named (what
        // policies are shown), only those in it.
        let mut p = plan.clone();
        p.steps.retain(|s| &*s.name == "C");
        p.steps[0].action = Action::Update;
        let f = Focus {
            targets: vec!["C".into()],
            ..Focus::default()
        };
        focus(&mut p, &spec, &state, &f).unwrap();
        assert_eq!((names(&p), p.unchanged), (vec!["C".to_string()], 2));
        assert_eq!(
            p.kept.as_deref(),
            Some(&["A".to_string(), "B".to_string()][..])
        );
        let err = focus(
            &mut plan.clone(),
            &spec,
            &state,
            &Focus {
                targets: vec!["Nope".into()],
                ..Focus::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "--target Nope: no resource \"Nope\" in the spec or the state"
        );
    }

    #[test]
    fn unchanged_properties_make_no_change() {
        let p = json!({"Path": "a"});
        let every = ["Path".to_string()];
        assert!(diff(&p, None, &p, &ForceNew::new(&every)).is_empty());
    }
}
