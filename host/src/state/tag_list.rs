//! A recorded resource's tags as a sorted list: the same map (stored and read as a JSON
//! object, its keys in order), without a tree's node per resource (a `BTreeMap` of two tags
//! costs ~550 bytes; this, two pairs).
//!
//! Invariants: keys are unique and sorted; reading a JSON object keeps the last value of a
//! repeated key, as a map would.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Tags, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(Vec<(String, String)>);

impl TagList {
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Sets `key` to `value`, in its place.
    pub fn insert(&mut self, key: String, value: String) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// As a map (what a provider call takes).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl From<BTreeMap<String, String>> for TagList {
    fn from(map: BTreeMap<String, String>) -> Self {
        let mut list: Vec<_> = map.into_iter().collect();
        list.shrink_to_fit();
        Self(list)
    }
}

impl From<&BTreeMap<String, String>> for TagList {
    fn from(map: &BTreeMap<String, String>) -> Self {
        Self(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl Serialize for TagList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for TagList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_and_writes_as_the_map_it_stands_for() {
        let tags: TagList =
            serde_json::from_str(r#"{"rkit:stack": "s", "rkit:name": "A", "rkit:name": "B"}"#)
                .unwrap();
        assert_eq!(tags.get("rkit:name").map(String::as_str), Some("B"));
        assert_eq!(tags.get("rkit:stack").map(String::as_str), Some("s"));
        assert_eq!(tags.get("nope"), None);
        assert_eq!(
            serde_json::to_string(&tags).unwrap(),
            r#"{"rkit:name":"B","rkit:stack":"s"}"#
        );
        assert_eq!(TagList::from(tags.to_map()), tags);
        assert!(TagList::default().is_empty());
        let mut more = tags.clone();
        more.insert("a".into(), "1".into());
        more.insert("rkit:name".into(), "C".into());
        assert_eq!(
            serde_json::to_string(&more).unwrap(),
            r#"{"a":"1","rkit:name":"C","rkit:stack":"s"}"#
        );
    }
}
