//! The JSON Patch (RFC 6902) an `UpdateResource` carries: the fewest operations that turn the
//! recorded properties into the desired ones.
//!
//! Invariants: applying the patch to `old` gives `new` exactly (tested by applying it); objects
//! are compared key by key and patched below the top level only where they differ; an array
//! that differs is replaced whole (Cloud Control's handlers read arrays whole, and an index
//! path into a list another writer may have reordered would patch the wrong element); keys are
//! escaped as JSON Pointer requires (`~0`, `~1`); the operations come in the keys' order, so the
//! same change always makes the same patch. Write-only properties are in `new` as the spec
//! has them: they are sent whenever they differ from what was recorded.

use serde_json::{Map, Value, json};

/// The operations turning `old` into `new` (both JSON objects of properties).
pub fn diff(old: &Value, new: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    walk("", old, new, &mut ops);
    ops
}

/// Adds to `ops` what turns `old` into `new` at `path`.
fn walk(path: &str, old: &Value, new: &Value, ops: &mut Vec<Value>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => objects(path, old, new, ops),
        _ if old == new => {}
        _ => ops.push(json!({"op": "replace", "path": path, "value": new})),
    }
}

/// The keys removed, changed and added between two objects.
fn objects(path: &str, old: &Map<String, Value>, new: &Map<String, Value>, ops: &mut Vec<Value>) {
    let at = |key: &str| format!("{path}/{}", escape(key));
    let mut before: Vec<(&String, &Value)> = old.iter().collect();
    before.sort_by_key(|(k, _)| *k);
    for (key, before) in before {
        match new.get(key) {
            None => ops.push(json!({"op": "remove", "path": at(key)})),
            Some(after) => walk(&at(key), before, after, ops),
        }
    }
    let mut added: Vec<(&String, &Value)> =
        new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
    added.sort_by_key(|(k, _)| *k);
    for (key, after) in added {
        ops.push(json!({"op": "add", "path": at(key), "value": after}));
    }
}

/// A key as a JSON Pointer step.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `doc` with `ops` applied (the operations `diff` makes: add, remove, replace).
    fn apply(mut doc: Value, ops: &[Value]) -> Value {
        for op in ops {
            let path = op["path"].as_str().unwrap();
            let (parent, key) = path.rsplit_once('/').unwrap();
            let key = key.replace("~1", "/").replace("~0", "~");
            let target = if parent.is_empty() {
                &mut doc
            } else {
                doc.pointer_mut(parent).unwrap()
            };
            let map = target.as_object_mut().unwrap();
            match op["op"].as_str().unwrap() {
                "remove" => {
                    map.remove(&key).unwrap();
                }
                _ => {
                    map.insert(key, op["value"].clone());
                }
            }
        }
        doc
    }

    #[test]
    fn the_patch_is_minimal_and_applies_to_the_new_properties() {
        let old = json!({
            "VisibilityTimeout": 30,
            "Tags": [{"Key": "a", "Value": "1"}],
            "RedrivePolicy": {"maxReceiveCount": 3, "deadLetterTargetArn": "arn:x"},
            "Gone": true,
            "a/b~c": 1,
        });
        let new = json!({
            "VisibilityTimeout": 60,
            "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
            "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": "arn:x"},
            "DelaySeconds": 0,
            "a/b~c": 2,
        });
        let ops = diff(&old, &new);
        assert_eq!(
            ops,
            vec![
                json!({"op": "remove", "path": "/Gone"}),
                json!({"op": "replace", "path": "/RedrivePolicy/maxReceiveCount", "value": 5}),
                json!({"op": "replace", "path": "/Tags", "value": new["Tags"]}),
                json!({"op": "replace", "path": "/VisibilityTimeout", "value": 60}),
                json!({"op": "replace", "path": "/a~1b~0c", "value": 2}),
                json!({"op": "add", "path": "/DelaySeconds", "value": 0}),
            ]
        );
        assert_eq!(apply(old.clone(), &ops), new);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn a_value_changing_kind_is_replaced_whole() {
        let old = json!({"Policy": "text", "Config": {"A": 1}});
        let new = json!({"Policy": {"Statement": []}, "Config": [1]});
        let ops = diff(&old, &new);
        assert_eq!(ops.len(), 2);
        assert_eq!(apply(old, &ops), new);
    }
}
