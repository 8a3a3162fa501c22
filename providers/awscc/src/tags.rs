//! rkit's tags in a type's own tag property, as the schema's `tagging` metadata says: a list
//! of `{Key, Value}` (with any other member each tag must have) or a string map.
//!
//! Invariants: the spec's own tags are kept, and rkit's (the engine's `rkit:*` identity and
//! the stack's) are added, replacing a spec tag of the same key; reading back gives every tag
//! the object carries, whatever its spelling; a type without a tag property takes and gives
//! none (rkit then finds its objects by ID only).

use crate::schema::{TagFormat, TypeSpec};
use rkit_sdk::Tags;
use serde_json::{Map, Value, json};

/// `properties` with `tags` in the type's tag property (unchanged if it has none).
pub fn with_tags(properties: &Value, tags: &Tags, spec: &TypeSpec) -> Value {
    let mut out = properties.clone();
    let (Some(tagging), Some(map)) = (&spec.tagging, out.as_object_mut()) else {
        return out;
    };
    if tags.is_empty() {
        return out;
    }
    let own = map.remove(&tagging.property);
    let merged = match &tagging.format {
        TagFormat::Map => {
            let mut all = own
                .as_ref()
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in tags {
                all.insert(k.clone(), Value::String(v.clone()));
            }
            Value::Object(all)
        }
        TagFormat::List { also } => {
            let mut all: Vec<Value> = own
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| t["Key"].as_str().is_none_or(|k| !tags.contains_key(k)))
                .cloned()
                .collect();
            for (k, v) in tags {
                let mut tag = json!({"Key": k, "Value": v});
                for (member, value) in also {
                    tag[member] = value.clone();
                }
                all.push(tag);
            }
            Value::Array(all)
        }
    };
    map.insert(tagging.property.clone(), merged);
    out
}

/// The tags `properties` (as read) carry in the type's tag property.
pub fn tags_of(properties: &Value, spec: &TypeSpec) -> Tags {
    let Some(tagging) = &spec.tagging else {
        return Tags::new();
    };
    match &properties[&tagging.property] {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|t| {
                Some((
                    t["Key"].as_str()?.to_string(),
                    t["Value"].as_str()?.to_string(),
                ))
            })
            .collect(),
        _ => Tags::new(),
    }
}

/// Of `tags`, rkit's own (`rkit:*`): those the engine sets, which the spec does not hold.
pub fn rkits(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| k.starts_with("rkit:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `properties` (as read) without the tags in `rkit` (the engine's own, which the spec does
/// not hold): what the spec's tag property compares with.
pub fn without_tags(properties: &Value, rkit: &Tags, spec: &TypeSpec) -> Value {
    let mut out = properties.clone();
    let (Some(tagging), Some(map)) = (&spec.tagging, out.as_object_mut()) else {
        return out;
    };
    let Some(own) = map.get_mut(&tagging.property) else {
        return out;
    };
    match own {
        Value::Object(tags) => tags.retain(|k, _| !rkit.contains_key(k)),
        Value::Array(items) => {
            items.retain(|t| t["Key"].as_str().is_none_or(|k| !rkit.contains_key(k)))
        }
        _ => {}
    }
    let emptied = match own {
        Value::Object(tags) => tags.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if emptied {
        map.remove(&tagging.property);
    }
    out
}

/// An empty JSON object.
pub fn empty() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rkits_tags_join_the_specs_in_the_types_spelling() {
        let catalog = Catalog::builtin().unwrap();
        let queue = catalog.get("AWS::SQS::Queue").unwrap().unwrap();
        let props = json!({"QueueName": "q", "Tags": [{"Key": "team", "Value": "a"}, {"Key": "rkit:stack", "Value": "old"}]});
        let rkit = tags(&[("rkit:stack", "s"), ("rkit:name", "Q")]);
        let tagged = with_tags(&props, &rkit, &queue);
        assert_eq!(
            tagged["Tags"],
            json!([{"Key": "team", "Value": "a"}, {"Key": "rkit:name", "Value": "Q"}, {"Key": "rkit:stack", "Value": "s"}])
        );
        assert_eq!(tags_of(&tagged, &queue).len(), 3);
        assert_eq!(
            without_tags(&tagged, &rkit, &queue)["Tags"],
            json!([{"Key": "team", "Value": "a"}])
        );
        assert_eq!(
            without_tags(&with_tags(&json!({}), &rkit, &queue), &rkit, &queue),
            json!({})
        );

        let group = catalog
            .get("AWS::AutoScaling::AutoScalingGroup")
            .unwrap()
            .unwrap();
        let tagged = with_tags(&json!({}), &rkit, &group);
        assert_eq!(tagged["Tags"][0]["PropagateAtLaunch"], true);

        let table = catalog
            .names()
            .map(|n| catalog.get(n).unwrap().unwrap())
            .find(|t| {
                t.tagging
                    .as_ref()
                    .is_some_and(|t| t.format == TagFormat::Map)
            })
            .unwrap();
        let property = table.tagging.as_ref().unwrap().property.clone();
        let tagged = with_tags(&json!({}), &rkit, &table);
        assert_eq!(
            tagged[&property],
            json!({"rkit:name": "Q", "rkit:stack": "s"})
        );
        assert_eq!(tags_of(&tagged, &table), rkit);
    }
}
