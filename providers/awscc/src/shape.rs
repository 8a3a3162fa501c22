//! What a read shows of an object, in the shape rkit compares with the spec: the properties
//! Cloud Control's `GetResource` returns, projected onto those rkit knows (the spec's, as
//! recorded), so that what the service fills in by itself is not drift.
//!
//! Invariants: a property (at any depth) the known properties do not set is left out of the
//! projection, whatever the service reports there (a default, a computed field); one they set
//! and the service does not report is left out too, so it shows as unset (real drift); an array
//! whose schema says `insertionOrder: false` that holds the same elements as the known one, in
//! another order, is shown in the known order (no drift), while any other array keeps the
//! service's order; a write-only property (which no read returns) is shown as known, so it is
//! compared with what was recorded, never with what is read; nothing is invented: every value
//! in the projection is the service's, except write-only ones.

use crate::schema::TypeSpec;
use serde_json::{Map, Value};

/// The observed properties projected onto `known` (see the module's invariants).
pub fn as_known(observed: &Value, known: &Value, spec: &TypeSpec) -> Value {
    let root = &spec.properties_schema;
    let mut shown = project(observed, known, Some(root), root);
    for path in &spec.write_only {
        copy_path(known, &mut shown, path);
    }
    shown
}

/// `observed` projected onto `known`, `schema` describing both (if known).
fn project(observed: &Value, known: &Value, schema: Option<&Value>, root: &Value) -> Value {
    let schema = schema.map(|s| resolved(s, root));
    match (observed, known) {
        (Value::Object(observed), Value::Object(known)) => {
            let mut out = Map::new();
            for (key, k) in known {
                if let Some(o) = observed.get(key) {
                    let child = schema.and_then(|s| child_schema(s, key));
                    out.insert(key.clone(), project(o, k, child, root));
                }
            }
            Value::Object(out)
        }
        (Value::Array(observed), Value::Array(known)) => {
            let items = schema.and_then(|s| s.get("items"));
            let unordered = schema.is_some_and(|s| s["insertionOrder"] == Value::Bool(false));
            arrays(observed, known, items, unordered, root)
        }
        _ => observed.clone(),
    }
}

/// An observed array projected onto a known one: element by element when they line up; in
/// the known order when the array is unordered and holds the same elements.
fn arrays(
    observed: &[Value],
    known: &[Value],
    items: Option<&Value>,
    unordered: bool,
    root: &Value,
) -> Value {
    if observed.len() != known.len() {
        return Value::Array(observed.to_vec());
    }
    let in_order: Vec<Value> = observed
        .iter()
        .zip(known)
        .map(|(o, k)| project(o, k, items, root))
        .collect();
    if !unordered || in_order == known {
        return Value::Array(in_order);
    }
    // Each known element matched by a distinct observed one, projected onto it.
    let mut unused: Vec<&Value> = observed.iter().collect();
    for k in known {
        let found = unused.iter().position(|o| &project(o, k, items, root) == k);
        match found {
            Some(at) => drop(unused.swap_remove(at)),
            None => return Value::Array(in_order),
        }
    }
    Value::Array(known.to_vec())
}

/// The schema of `key` inside an object schema: its property, a matching pattern, or its
/// additional properties.
fn child_schema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(s) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(s);
    }
    if let Some(p) = schema.get("patternProperties").and_then(Value::as_object)
        && p.len() == 1
    {
        return p.values().next();
    }
    schema.get("additionalProperties").filter(|s| s.is_object())
}

/// `schema`, or what its `$ref` points to inside `root` (following a chain of them).
fn resolved<'a>(mut schema: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => schema = target,
                None => return schema,
            },
            None => return schema,
        }
    }
    schema
}

/// Sets `to`'s value at rkit path `path` (`A.B`, `A[*].B`) to `from`'s, where `from` has
/// one (elements of `[*]` matched by position).
fn copy_path(from: &Value, to: &mut Value, path: &str) {
    let (head, rest) = match path.find(['.', '[']) {
        Some(at) => (&path[..at], Some(&path[at..])),
        None => (path, None),
    };
    let Some(value) = from.get(head) else {
        return;
    };
    let Some(map) = to.as_object_mut() else {
        return;
    };
    match rest {
        None => {
            map.insert(head.to_string(), value.clone());
        }
        Some(rest) => {
            let Some(target) = map.get_mut(head) else {
                return;
            };
            if let Some(rest) = rest.strip_prefix("[*].") {
                if let (Some(from), Some(to)) = (value.as_array(), target.as_array_mut()) {
                    for (f, t) in from.iter().zip(to.iter_mut()) {
                        copy_path(f, t, rest);
                    }
                }
            } else if let Some(rest) = rest.strip_prefix('.') {
                copy_path(value, target, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A type whose schema has an unordered list, an ordered one, a nested object and a
    /// write-only password.
    fn spec() -> TypeSpec {
        TypeSpec {
            name: "AWS::Test::Thing".into(),
            updatable: true,
            listable: true,
            properties_schema: json!({
                "type": "object",
                "properties": {
                    "Rules": {"type": "array", "insertionOrder": false, "items": {"$ref": "#/$defs/Rule"}},
                    "Order": {"type": "array", "items": {"type": "string"}},
                    "Config": {"type": "object", "properties": {"Size": {"type": "integer"}}},
                    "Password": {"type": "string"},
                    "Db": {"type": "object", "properties": {"Secret": {"type": "string"}}},
                },
                "$defs": {"Rule": {"type": "object", "properties": {"Port": {"type": "integer"}}}},
            }),
            attributes_schema: json!({}),
            force_new: vec![],
            write_only: vec!["Password".into(), "Db.Secret".into()],
            read_only: vec![],
            identifier: vec!["Id".into()],
            tagging: None,
            create_before_destroy: false,
        }
    }

    #[test]
    fn defaults_the_service_fills_in_are_not_drift() {
        let known = json!({"Config": {"Size": 2}, "Rules": [{"Port": 22}]});
        let observed = json!({
            "Config": {"Size": 2, "Mode": "default"},
            "Rules": [{"Port": 22, "Protocol": "tcp"}],
            "Arn": "arn:aws:x",
            "Extra": 1,
        });
        assert_eq!(as_known(&observed, &known, &spec()), known);
    }

    #[test]
    fn unordered_lists_compare_as_sets_and_ordered_ones_do_not() {
        let known = json!({"Rules": [{"Port": 22}, {"Port": 80}], "Order": ["a", "b"]});
        let observed = json!({
            "Rules": [{"Port": 80, "Cidr": "0.0.0.0/0"}, {"Port": 22, "Cidr": "0.0.0.0/0"}],
            "Order": ["b", "a"],
        });
        let shown = as_known(&observed, &known, &spec());
        assert_eq!(shown["Rules"], known["Rules"]);
        assert_eq!(shown["Order"], json!(["b", "a"]));
        let changed = json!({"Rules": [{"Port": 443}, {"Port": 22}]});
        assert_eq!(
            as_known(&changed, &known, &spec())["Rules"],
            json!([{"Port": 443}, {"Port": 22}])
        );
    }

    #[test]
    fn what_the_service_lost_shows_as_unset_and_write_only_as_known() {
        let known = json!({"Config": {"Size": 2}, "Password": "p", "Db": {"Secret": "s"}});
        let observed = json!({"Db": {}});
        assert_eq!(
            as_known(&observed, &known, &spec()),
            json!({"Password": "p", "Db": {"Secret": "s"}})
        );
    }
}
