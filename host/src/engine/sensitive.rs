//! Sensitive values: which properties, attributes and outputs must never be shown. A type
//! marks a top-level property or attribute in its schema with `"sensitive": true` (the local
//! provider's `RandomString.Value`); a spec marks parameters and outputs `Sensitive`. What is
//! derived from a sensitive value by reference (or from a sensitive parameter) is sensitive
//! too, decided from the spec and the schemas alone, before any value exists.
//!
//! Invariant: every view of a plan, a state or outputs goes through this module's masks
//! ([`MASK`] in place of the value) unless the user asked to see them (`--show-sensitive`,
//! or `output NAME --raw`). The state and a saved plan keep the values (they are needed),
//! with the list of what is sensitive.

use super::providers::Providers;
use crate::spec::LoadedSpec;
use crate::spec::reference::Target;
use crate::state::{ResourceState, State};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What is shown instead of a sensitive value.
pub const MASK: &str = "(sensitive)";

/// The prefixes of recorded paths: `Properties.X`, `Attributes.Y`.
pub const PROPERTIES: &str = "Properties.";
pub const ATTRIBUTES: &str = "Attributes.";

/// The top-level fields a JSON Schema marks `"sensitive": true`.
pub fn marked(schema: &Value) -> BTreeSet<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, s)| s.get("sensitive") == Some(&Value::Bool(true)))
        .map(|(k, _)| k.clone())
        .collect()
}

/// What resource `rs`'s type marks sensitive: (properties, attributes).
fn type_marks(
    providers: &Providers,
    rs: &crate::spec::ResourceSpec,
) -> (BTreeSet<String>, BTreeSet<String>) {
    providers
        .get(&rs.plugin)
        .ok()
        .and_then(|b| {
            b.module
                .info()
                .type_info(&rs.type_name)
                .map(|t| (marked(&t.properties_schema), marked(&t.attributes_schema)))
        })
        .unwrap_or_default()
}

/// Per resource of a spec, what is sensitive, as recorded paths (`Properties.X`,
/// `Attributes.Y`).
pub fn of(spec: &LoadedSpec, providers: &Providers) -> BTreeMap<String, Vec<String>> {
    // Per type, not per resource: a spec has a few types and may have 100,000 resources.
    type Marks = (BTreeSet<String>, BTreeSet<String>);
    let mut by_type: BTreeMap<(&str, &str), Marks> = BTreeMap::new();
    for rs in spec.spec.resources.values() {
        by_type
            .entry((rs.plugin.as_str(), rs.type_name.as_str()))
            .or_insert_with(|| type_marks(providers, rs));
    }
    let marks = |name: &str| -> Option<&Marks> {
        let rs = spec.spec.resources.get(name)?;
        by_type.get(&(rs.plugin.as_str(), rs.type_name.as_str()))
    };
    let mut out = BTreeMap::new();
    for name in spec.spec.resources.keys() {
        let (schema_props, attributes) = marks(name).expect("every resource's type is marked");
        let mut props: BTreeSet<String> = schema_props.clone();
        if let Some(fields) = spec.sensitive_fields.get(name) {
            props.extend(fields.iter().cloned());
        }
        for (path, r) in spec.references(name) {
            if let Target::Attribute(attr) = &r.target
                && marks(&r.resource).is_some_and(|(_, a)| a.contains(&attr[0]))
            {
                props.insert(top_level(path).to_string());
            }
        }
        let paths: Vec<String> = props
            .iter()
            .map(|p| format!("{PROPERTIES}{p}"))
            .chain(attributes.iter().map(|a| format!("{ATTRIBUTES}{a}")))
            .collect();
        if !paths.is_empty() {
            out.insert(name.clone(), paths);
        }
    }
    out
}

/// The top-level field of a property path (`Rules[0].Port` → `Rules`).
fn top_level(path: &str) -> &str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    &path[..end]
}

/// The recorded outputs that are sensitive: marked so (or fed by a sensitive parameter), or
/// referencing an attribute the state records as sensitive.
pub fn outputs(spec: &LoadedSpec, state: &State) -> BTreeSet<String> {
    spec.outputs
        .iter()
        .filter(|(name, _)| state.outputs.contains_key(*name))
        .filter(|(_, o)| {
            o.sensitive
                || crate::spec::reference::references(&o.value)
                    .unwrap_or_default()
                    .iter()
                    .any(|(_, r)| match &r.target {
                        Target::Attribute(attr) => {
                            state.resources.get(&*r.resource).is_some_and(|rec| {
                                rec.sensitive()
                                    .contains(&format!("{ATTRIBUTES}{}", attr[0]))
                            })
                        }
                        Target::Id => false,
                    })
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// `value` (an object) with its top-level `fields` masked.
pub fn mask_fields<'a>(value: &Value, fields: impl IntoIterator<Item = &'a str>) -> Value {
    let mut out = value.clone();
    if let Some(map) = out.as_object_mut() {
        for field in fields {
            if let Some(v) = map.get_mut(field) {
                *v = Value::String(MASK.into());
            }
        }
    }
    out
}

/// The properties among recorded `paths` (`Properties.X` → `X`).
pub fn properties_in<'a, P: AsRef<str> + ?Sized + 'a>(
    paths: impl IntoIterator<Item = &'a P>,
) -> impl Iterator<Item = &'a str> {
    paths
        .into_iter()
        .filter_map(|p| p.as_ref().strip_prefix(PROPERTIES))
}

/// A recorded resource as it may be shown: its sensitive properties and attributes masked.
pub fn mask_resource(r: &ResourceState) -> ResourceState {
    let mut shown = r.clone();
    let properties = mask_fields(&r.properties().value(), properties_in(r.sensitive()));
    shown.set_properties(&properties.into());
    let attributes = mask_fields(
        &r.attributes().value(),
        r.sensitive()
            .iter()
            .filter_map(|p| p.strip_prefix(ATTRIBUTES)),
    );
    shown.set_attributes(&attributes.into());
    shown
}

/// The state's outputs as they may be shown: sensitive ones masked unless `reveal`.
pub fn shown_outputs(state: &State, reveal: bool) -> BTreeMap<String, Value> {
    if reveal {
        state.outputs.clone()
    } else {
        mask_outputs(&state.outputs, &state.sensitive_outputs)
    }
}

/// A recorded resource as it may be shown: masked unless `reveal`.
pub fn shown_resource(r: &ResourceState, reveal: bool) -> ResourceState {
    if reveal { r.clone() } else { mask_resource(r) }
}

/// Outputs as they may be shown.
pub fn mask_outputs(
    outputs: &BTreeMap<String, Value>,
    sensitive: &BTreeSet<String>,
) -> BTreeMap<String, Value> {
    outputs
        .iter()
        .map(|(k, v)| {
            let shown = if sensitive.contains(k) {
                Value::String(MASK.into())
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_mark_top_level_fields() {
        let schema = json!({"properties": {"Value": {"type": "string", "sensitive": true},
                                           "Length": {"type": "integer"}}});
        assert_eq!(marked(&schema), ["Value".to_string()].into());
        assert!(marked(&json!({})).is_empty());
    }

    #[test]
    fn masks_replace_values_and_nothing_else() {
        let r = ResourceState::new(
            "p".into(),
            "T".into(),
            "i",
            json!({"Content": "secret", "Path": "p"}).into(),
            json!({"Value": "secret", "Size": 6}).into(),
        )
        .with_sensitive(["Properties.Content", "Attributes.Value"]);
        let shown = mask_resource(&r);
        assert_eq!(shown.properties(), json!({"Content": MASK, "Path": "p"}));
        assert_eq!(shown.attributes(), json!({"Value": MASK, "Size": 6}));
        assert_eq!(top_level("Rules[0].Port"), "Rules");
    }
}
