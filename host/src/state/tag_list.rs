//! A recorded resource's tags as one packed allocation: the same map (stored and read as a
//! JSON object, its keys in order), without a tree's node or a string per tag (a `BTreeMap`
//! of two tags costs ~550 bytes, a list of pairs ~150; this, the tags' text and a byte a
//! string).
//!
//! Invariants: keys are unique and sorted; reading a JSON object keeps the last value of a
//! repeated key, as a map would. The bytes are each key then its value, each its length and
//! its UTF-8 text, as [`packed`] writes them.

use super::packed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Tags, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(Box<[u8]>);

impl TagList {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut strings = packed::strings(&self.0);
        std::iter::from_fn(move || Some((strings.next()?, strings.next()?)))
    }

    /// Sets `key` to `value`, in its place.
    pub fn insert(&mut self, key: String, value: String) {
        let mut map = self.to_map();
        map.insert(key, value);
        *self = Self::from(&map);
    }

    /// As a map (what a provider call takes).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The tags `pairs` (sorted by key, each key once), packed.
    fn packed<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        Self(packed::pack(pairs.flat_map(|(k, v)| [k, v])))
    }
}

impl From<BTreeMap<String, String>> for TagList {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self::from(&map)
    }
}

impl From<&BTreeMap<String, String>> for TagList {
    fn from(map: &BTreeMap<String, String>) -> Self {
        Self::packed(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
        assert_eq!(tags.get("rkit:name"), Some("B"));
        assert_eq!(tags.get("rkit:stack"), Some("s"));
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
        let odd: TagList = serde_json::from_str(r#"{"": "", "\u0000k": "v\u0000é"}"#).unwrap();
        assert_eq!(odd.get(""), Some(""));
        assert_eq!(odd.get("\0k"), Some("v\0é"));
        assert_eq!(odd.iter().count(), 2);
    }
}
