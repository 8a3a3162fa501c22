//! Which changes force a replacement: a provider's `force-new` property paths (SPI 0.4), read
//! against one top-level property's value before and after.
//!
//! A path is a top-level property (`Name`), a member of an object below it (`Export.Name`), or
//! a member of each element of an array (`Peers[*].Asn`). Invariants: a change forces a
//! replacement when some path under the changed property reads differently before and after
//! (a value set, unset or changed there; an array with another number of elements; a value not
//! known until apply, there or anywhere above it); a path naming the property itself forces on any change of it, as before
//! 0.4; a change elsewhere in the property (a member no path names) never forces; a path that
//! does not parse forces nothing, and what a provider declares is never trusted to be more.

use crate::spec::reference;
use serde_json::Value;

/// The property paths whose change forces replacement, of one type.
pub struct ForceNew<'a> {
    paths: &'a [String],
}

/// One step of a path below its top-level property.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    /// `.Name`: a member of an object.
    Member(&'a str),
    /// `[*]`: each element of an array.
    Each,
}

impl<'a> ForceNew<'a> {
    /// The paths a type declares.
    pub fn new(paths: &'a [String]) -> Self {
        Self { paths }
    }

    /// Whether changing top-level property `field` from `before` to `after` (`None`: unset)
    /// forces a replacement.
    pub fn forces(&self, field: &str, before: Option<&Value>, after: Option<&Value>) -> bool {
        self.forcing(field, before, after).is_some()
    }

    /// The first path that makes changing `field` from `before` to `after` force a
    /// replacement, if any.
    pub fn forcing(
        &self,
        field: &str,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Option<&'a str> {
        self.paths
            .iter()
            .find(|path| {
                let Some(steps) = below(path, field) else {
                    return false;
                };
                let (was, will) = (values_at(before, &steps), values_at(after, &steps));
                was != will || will.iter().flatten().any(|v| reference::has_unknown(v))
            })
            .map(String::as_str)
    }
}

/// The steps of `path` below `field`, if the path starts with that property and parses.
fn below<'p>(path: &'p str, field: &str) -> Option<Vec<Step<'p>>> {
    let mut rest = path.strip_prefix(field)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[*]") {
            steps.push(Step::Each);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Member(&after[..end]));
            rest = &after[end..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// What `value` holds at `steps`: one entry per element an `[*]` reaches (`None` where a
/// member is unset), so that an array of another length, or a member set in one element
/// only, reads differently.
fn values_at<'v>(value: Option<&'v Value>, steps: &[Step]) -> Vec<Option<&'v Value>> {
    let value = value.filter(|v| !v.is_null());
    let Some((first, rest)) = steps.split_first() else {
        return vec![value];
    };
    match (first, value) {
        // Not known until apply: whatever the path names in it may change.
        (_, Some(v)) if v.is_string() && reference::has_unknown(v) => vec![Some(v)],
        (Step::Member(name), Some(Value::Object(map))) => values_at(map.get(*name), rest),
        (Step::Each, Some(Value::Array(items))) => items
            .iter()
            .flat_map(|item| values_at(Some(item), rest))
            .collect(),
        // Unset, or not the shape the path expects: nothing there.
        _ => vec![None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forces(paths: &[&str], field: &str, before: Value, after: Value) -> bool {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        let some = |v: Value| (!v.is_null()).then_some(v);
        ForceNew::new(&paths).forces(field, some(before).as_ref(), some(after).as_ref())
    }

    #[test]
    fn a_top_level_path_forces_on_any_change_of_its_property() {
        assert!(forces(&["Name"], "Name", json!("a"), json!("b")));
        assert!(forces(&["Name"], "Name", Value::Null, json!("b")));
        assert!(!forces(&["Name"], "Size", json!(1), json!(2)));
        assert!(
            !forces(&["Names"], "Name", json!("a"), json!("b")),
            "a prefix is not a path"
        );
    }

    #[test]
    fn a_nested_path_forces_only_when_what_it_names_changes() {
        let paths = ["Export.Name"];
        let before = json!({"Name": "x", "Value": 1});
        assert!(!forces(
            &paths,
            "Export",
            before.clone(),
            json!({"Name": "x", "Value": 2})
        ));
        assert!(forces(
            &paths,
            "Export",
            before.clone(),
            json!({"Name": "y", "Value": 1})
        ));
        assert!(forces(
            &paths,
            "Export",
            before.clone(),
            json!({"Value": 1})
        ));
        assert!(forces(&paths, "Export", before, Value::Null));
        assert!(!forces(
            &paths,
            "Export",
            json!({"Value": 1}),
            json!({"Value": 2})
        ));
    }

    #[test]
    fn each_element_of_an_array_is_compared() {
        let paths = ["Peers[*].Asn"];
        let before = json!([{"Asn": 1, "Ip": "a"}, {"Asn": 2, "Ip": "b"}]);
        let retagged = json!([{"Asn": 1, "Ip": "c"}, {"Asn": 2, "Ip": "b"}]);
        assert!(!forces(&paths, "Peers", before.clone(), retagged));
        let renumbered = json!([{"Asn": 1, "Ip": "a"}, {"Asn": 3, "Ip": "b"}]);
        assert!(forces(&paths, "Peers", before.clone(), renumbered));
        let added = json!([{"Asn": 1, "Ip": "a"}, {"Asn": 2, "Ip": "b"}, {"Asn": 4}]);
        assert!(forces(&paths, "Peers", before, added));
        let deep = ["Config.Bgp[*].Peers[*].Asn"];
        let before = json!({"Bgp": [{"Peers": [{"Asn": 1}]}], "Mtu": 1500});
        let mtu = json!({"Bgp": [{"Peers": [{"Asn": 1}]}], "Mtu": 9001});
        assert!(!forces(&deep, "Config", before.clone(), mtu));
        let asn = json!({"Bgp": [{"Peers": [{"Asn": 2}]}], "Mtu": 1500});
        assert!(forces(&deep, "Config", before, asn));
    }

    #[test]
    fn a_value_unknown_until_apply_forces_and_a_bad_path_does_not() {
        let unknown = json!({"Name": reference::UNKNOWN});
        assert!(forces(
            &["Export.Name"],
            "Export",
            json!({"Name": "x"}),
            unknown
        ));
        let whole = json!(reference::UNKNOWN);
        assert!(
            forces(&["Export.Name"], "Export", Value::Null, whole.clone()),
            "unknown above"
        );
        let peers = json!([{"Asn": 1}, reference::UNKNOWN]);
        assert!(forces(
            &["Peers[*].Asn"],
            "Peers",
            json!([{"Asn": 1}, {}]),
            peers
        ));
        for bad in ["Export..Name", "Export.", "Export[0].Name", "Export[*]x"] {
            assert!(
                !forces(&[bad], "Export", json!({"Name": "x"}), json!({"Name": "y"})),
                "{bad}"
            );
        }
    }
}
