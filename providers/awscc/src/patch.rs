//! The JSON Patch (RFC 6902) an `UpdateResource` carries: the fewest operations that turn the
//! object as Cloud Control reads it into the desired properties.
//!
//! Invariants: Cloud Control applies the patch to its read model, which lacks write-only
//! properties, so those are blanked from the recorded properties first (an object left empty
//! by that goes too): a write-only value the spec sets is sent with every update, and one it no
//! longer sets is never removed (the service cannot say it holds one). Every member set is an
//! `add` (which RFC 6902 makes a replace when the member exists), so a patch never fails on a
//! member the read model lacks; only members the spec dropped are `remove`d. Applying the patch
//! to the blanked properties gives `new` exactly (tested by applying it); objects are compared
//! key by key and patched below the top level only where they differ; an array that differs is
//! sent whole (Cloud Control's handlers read arrays whole, and an index path into a list another
//! writer may have reordered would patch the wrong element); keys are escaped as JSON Pointer
//! requires (`~0`, `~1`); the operations come in the keys' order, so the same change always
//! makes the same patch.

use serde_json::{Map, Value, json};

/// The operations turning `old` (as recorded) into `new` (both JSON objects of properties),
/// `write_only` the type's write-only property paths (`A.B`, `A[*].B`).
pub fn diff(old: &Value, new: &Value, write_only: &[String]) -> Vec<Value> {
    let mut read_model = old.clone();
    for path in write_only {
        blank(&mut read_model, path);
    }
    let mut ops = Vec::new();
    walk("", &read_model, new, &mut ops);
    ops
}

/// Removes what `path` (`A.B`, `A[*].B`) names from `value`, and an object it leaves empty.
fn blank(value: &mut Value, path: &str) {
    let (head, rest) = match path.find(['.', '[']) {
        Some(at) => (&path[..at], Some(&path[at..])),
        None => (path, None),
    };
    let Some(map) = value.as_object_mut() else {
        return;
    };
    let Some(rest) = rest else {
        map.remove(head);
        return;
    };
    let Some(child) = map.get_mut(head) else {
        return;
    };
    if let Some(rest) = rest.strip_prefix("[*].") {
        for item in child.as_array_mut().into_iter().flatten() {
            blank(item, rest);
        }
    } else if let Some(rest) = rest.strip_prefix('.') {
        blank(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            map.remove(head);
        }
    }
}

/// Adds to `ops` what turns `old` into `new` at `path`.
fn walk(path: &str, old: &Value, new: &Value, ops: &mut Vec<Value>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => objects(path, old, new, ops),
        _ if old == new => {}
        _ => ops.push(json!({"op": "add", "path": path, "value": new})),
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

    /// `doc` with `ops` applied (the operations `diff` makes: add, remove), refusing a remove
    /// of what is not there, as a JSON Patch does.
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
        let ops = diff(&old, &new, &[]);
        assert_eq!(
            ops,
            vec![
                json!({"op": "remove", "path": "/Gone"}),
                json!({"op": "add", "path": "/RedrivePolicy/maxReceiveCount", "value": 5}),
                json!({"op": "add", "path": "/Tags", "value": new["Tags"]}),
                json!({"op": "add", "path": "/VisibilityTimeout", "value": 60}),
                json!({"op": "add", "path": "/a~1b~0c", "value": 2}),
                json!({"op": "add", "path": "/DelaySeconds", "value": 0}),
            ]
        );
        assert_eq!(apply(old.clone(), &ops), new);
        assert!(diff(&new, &new, &[]).is_empty());
    }

    #[test]
    fn a_value_changing_kind_is_replaced_whole() {
        let old = json!({"Policy": "text", "Config": {"A": 1}});
        let new = json!({"Policy": {"Statement": []}, "Config": [1]});
        let ops = diff(&old, &new, &[]);
        assert_eq!(ops.len(), 2);
        assert_eq!(apply(old, &ops), new);
    }

    #[test]
    fn write_only_values_are_added_to_the_read_model_never_replaced() {
        let write_only = [
            "Password".to_string(),
            "Code.ZipFile".into(),
            "Rules[*].Key".into(),
        ];
        let old = json!({
            "Password": "old", "Code": {"ZipFile": "z1"}, "Size": 1,
            "Rules": [{"Port": 1, "Key": "k"}],
        });
        let new = json!({
            "Password": "old", "Code": {"ZipFile": "z2"}, "Size": 2,
            "Rules": [{"Port": 1, "Key": "k"}],
        });
        let ops = diff(&old, &new, &write_only);
        assert_eq!(
            ops,
            vec![
                json!({"op": "add", "path": "/Rules", "value": new["Rules"]}),
                json!({"op": "add", "path": "/Size", "value": 2}),
                json!({"op": "add", "path": "/Code", "value": {"ZipFile": "z2"}}),
                json!({"op": "add", "path": "/Password", "value": "old"}),
            ]
        );
        // What Cloud Control reads back has no write-only value; the patch applies to it.
        let read_model = json!({"Size": 1, "Rules": [{"Port": 1}]});
        assert_eq!(apply(read_model, &ops), new);
        // A write-only value the spec dropped is not removed: the read model has none.
        let dropped =
            json!({"Code": {"ZipFile": "z1"}, "Size": 1, "Rules": [{"Port": 1, "Key": "k"}]});
        let ops = diff(&old, &dropped, &write_only);
        assert!(ops.iter().all(|op| op["op"] == "add"), "{ops:?}");
    }
}
