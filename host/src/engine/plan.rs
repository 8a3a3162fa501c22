//! Planning: compare the spec, the state and (with refresh) what providers read back, and
//! decide per resource: create, update in place, replace, delete or nothing.

use super::providers::Providers;
use crate::graph::Graph;
use crate::spec::LoadedSpec;
use crate::spec::reference::{self, Reference, Target, at_path};
use crate::spi::Observed;
use crate::state::State;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    /// The plan's symbol for it.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
}

/// One changed top-level property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// `None`: the property is removed. [`UNKNOWN`] marks a value known only after apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// The plan for one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub plugin: String,
    #[serde(rename = "Type")]
    pub type_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// A create that adopts this existing object (it carries the stack's and the resource's
    /// tags: made by an earlier run whose answer or state was lost) instead of making one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<String>,
    /// A delete of an object carrying the stack's tags that the state does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan: Option<Orphan>,
}

/// An object carrying the stack's tags that the state does not record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Orphan {
    /// Its `rkit:name` tag.
    pub logical: String,
    #[serde(rename = "ID")]
    pub id: String,
    /// Its properties as listed (for the provider's delete).
    pub properties: Value,
}

/// An object found by listing a type with the stack's tag.
#[derive(Debug, Clone)]
pub struct Found {
    pub plugin: String,
    pub type_name: String,
    pub observed: Observed,
}

impl Step {
    /// A step deleting a recorded resource (for destroy and what leaves the spec).
    pub fn delete(name: &str, plugin: &str, type_name: &str, reason: Option<String>) -> Self {
        Step {
            name: name.to_string(),
            action: Action::Delete,
            plugin: plugin.to_string(),
            type_name: type_name.to_string(),
            changes: Vec::new(),
            reason,
            create_before_destroy: false,
            adopt: None,
            orphan: None,
        }
    }

    /// The name it stands for in the spec (an orphan's `rkit:name`).
    pub fn logical(&self) -> &str {
        self.orphan.as_ref().map_or(&self.name, |o| &o.logical)
    }
}

/// Splits what a scan found into objects to adopt (by logical name: the first by ID of those
/// whose plugin, type and `rkit:name` match a resource to create) and orphans (the rest the
/// state does not know). `wanted` gives, per logical name to create, its plugin and type.
pub fn sort_found(
    found: &[Found],
    state: &State,
    wanted: &BTreeMap<String, (String, String)>,
) -> (BTreeMap<String, String>, Vec<Step>) {
    let known: BTreeSet<String> = state
        .resources
        .values()
        .map(|r| crate::state::forgotten_key(&r.plugin, &r.type_name, &r.id))
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
            .get(super::apply::NAME_TAG)
            .cloned()
            .unwrap_or_default();
        let matches = wanted
            .get(&logical)
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
        step.orphan = Some(Orphan {
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
    pub stack: String,
    pub lineage: String,
    pub serial: u64,
    pub steps: Vec<Step>,
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
    /// Counts by action.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
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
}

/// Plans `spec` against `state`. `refreshed` holds what providers read back (`None`: gone);
/// a resource missing from it is taken as recorded.
pub fn plan(
    spec: &LoadedSpec,
    graph: &Graph,
    state: &State,
    providers: &Providers,
    refreshed: &BTreeMap<String, Option<Observed>>,
    found: Option<&[Found]>,
) -> Result<Plan> {
    let mut actions: HashMap<&str, Action> = HashMap::new();
    let mut steps = Vec::with_capacity(graph.order.len());
    for node in &graph.order {
        let name = graph.graph[*node].as_str();
        let rs = &spec.spec.resources[name];
        let info = providers.get(&rs.plugin)?.module.info();
        let ty = info
            .type_info(&rs.type_name)
            .expect("types are checked by validation");
        let lookup = |r: &Reference| -> Option<Value> {
            let recorded = state.resources.get(&r.resource)?;
            match (&r.target, actions[r.resource.as_str()]) {
                (Target::Id, Action::NoOp | Action::Update) => {
                    Some(Value::String(recorded.id.clone()))
                }
                (Target::Attribute(path), Action::NoOp) => {
                    let attributes = match refreshed.get(&r.resource) {
                        Some(Some(observed)) => &observed.attributes,
                        _ => &recorded.attributes,
                    };
                    at_path(attributes, path).cloned()
                }
                _ => None,
            }
        };
        let desired = reference::resolve(&rs.properties, &lookup);
        let force_new = |field: &str| ty.force_new.iter().any(|f| f == field);
        let all_new = || -> Vec<Change> {
            desired
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| Change {
                    field: k.clone(),
                    before: None,
                    after: Some(v.clone()),
                    forces_replacement: false,
                })
                .collect()
        };
        let recorded = state.resources.get(name);
        let (action, changes, reason) = match (recorded, refreshed.get(name)) {
            (None, _) => (Action::Create, all_new(), None),
            (Some(_), Some(None)) => (
                Action::Create,
                all_new(),
                Some("it was deleted outside rkit".to_string()),
            ),
            (Some(r), _) if r.plugin != rs.plugin || r.type_name != rs.type_name => (
                Action::Replace,
                all_new(),
                Some("its Plugin or Type changed".to_string()),
            ),
            (Some(r), observed) => {
                let observed = observed.and_then(Option::as_ref).map(|o| &o.properties);
                let changes = diff(&r.properties, observed, &desired, &force_new);
                let forcing: Vec<&str> = changes
                    .iter()
                    .filter(|c| c.forces_replacement)
                    .map(|c| c.field.as_str())
                    .collect();
                if changes.is_empty() {
                    (Action::NoOp, changes, None)
                } else if forcing.is_empty() {
                    (Action::Update, changes, None)
                } else {
                    let reason = format!("{} forces replacement", forcing.join(", "));
                    (Action::Replace, changes, Some(reason))
                }
            }
        };
        actions.insert(name, action);
        steps.push(Step {
            name: name.to_string(),
            action,
            plugin: rs.plugin.clone(),
            type_name: rs.type_name.clone(),
            changes,
            reason,
            create_before_destroy: ty.create_before_destroy && action == Action::Replace,
            adopt: None,
            orphan: None,
        });
    }
    let in_spec: BTreeSet<&str> = spec.spec.resources.keys().map(String::as_str).collect();
    for (name, r) in &state.resources {
        if !in_spec.contains(name.as_str()) {
            steps.push(Step::delete(
                name,
                &r.plugin,
                &r.type_name,
                Some("it is gone from the spec".into()),
            ));
        }
    }
    if let Some(found) = found {
        let wanted: BTreeMap<String, (String, String)> = steps
            .iter()
            .filter(|s| s.action == Action::Create)
            .map(|s| (s.name.clone(), (s.plugin.clone(), s.type_name.clone())))
            .collect();
        let (adopt, orphans) = sort_found(found, state, &wanted);
        for step in &mut steps {
            if let Some(id) = adopt.get(&step.name) {
                step.adopt = Some(id.clone());
                step.reason = Some(format!(
                    "adopting {id}, which carries this stack's tags and its name"
                ));
            }
        }
        steps.extend(orphans);
    }
    Ok(Plan {
        stack: spec.stack.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        steps,
    })
}

/// The top-level properties that differ between what exists and what is desired. What exists
/// is what the provider read back where it reports the property, else what was recorded; only
/// properties the spec sets or rkit recorded are compared.
fn diff(
    recorded: &Value,
    observed: Option<&Value>,
    desired: &Value,
    force_new: &impl Fn(&str) -> bool,
) -> Vec<Change> {
    let empty = serde_json::Map::new();
    let recorded = recorded.as_object().unwrap_or(&empty);
    let desired_map = desired.as_object().unwrap_or(&empty);
    let fields: BTreeSet<&String> = recorded.keys().chain(desired_map.keys()).collect();
    fields
        .into_iter()
        .filter_map(|field| {
            let before = observed
                .and_then(|o| o.get(field))
                .or_else(|| recorded.get(field));
            let after = desired_map.get(field);
            let unknown = after.is_some_and(reference::has_unknown);
            (unknown || before != after).then(|| Change {
                field: field.clone(),
                before: before.cloned(),
                after: after.cloned(),
                forces_replacement: force_new(field),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::reference::UNKNOWN;
    use serde_json::json;

    #[test]
    fn diff_reports_changed_unknown_and_removed_fields() {
        let recorded = json!({"Path": "a", "Content": "x", "Mode": "0644"});
        let observed = json!({"Path": "a", "Content": "drifted"});
        let desired = json!({"Path": "a", "Content": "x", "Extra": UNKNOWN});
        let changes = diff(&recorded, Some(&observed), &desired, &|f| f == "Path");
        let fields: Vec<(&str, Option<&Value>, Option<&Value>)> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.as_ref(), c.after.as_ref()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Content", Some(&json!("drifted")), Some(&json!("x"))),
                ("Extra", None, Some(&json!(UNKNOWN))),
                ("Mode", Some(&json!("0644")), None),
            ]
        );
        assert!(changes.iter().all(|c| !c.forces_replacement));
    }

    #[test]
    fn unchanged_properties_make_no_change() {
        let p = json!({"Path": "a"});
        assert!(diff(&p, None, &p, &|_| true).is_empty());
    }
}
