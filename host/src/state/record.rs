//! One resource as recorded: its provider, type, properties and attributes, and, packed in
//! one allocation, its ID, what it depended on, its tags and what of it is sensitive. A
//! state of 100,000 records holds ~100 bytes less a record than with a field (and an
//! allocation) each.
//!
//! Invariants:
//! - Stored and read as ever: `Plugin`, `Type`, `ID`, `Properties`, `Attributes`, then
//!   `DependsOn`, `Tags` and `Sensitive` (each left out when empty) and `Provisional` (left
//!   out when false), in that order.
//! - The packed bytes are three counts (dependencies, tags, sensitive paths; 4 bytes each,
//!   little-endian) and a byte that is 1 when the ID is provisional, then, as [`packed`]
//!   writes strings, the ID, each dependency in its
//!   order, each tag's key then value (sorted by key, each key once, as a [`TagList`] holds
//!   them) and each sensitive path in its order. They are only made by [`Packed::new`], so
//!   two records are equal exactly when their fields are.

use super::packed::{self, Strings};
use super::{Compact, NameList, TagList};
use crate::interned::Name;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// One resource as recorded.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(from = "Wire")]
pub struct ResourceState {
    /// Its provider's name (held once for all of them, see `interned`).
    pub plugin: Name,
    pub type_name: Name,
    /// The properties it was created or last updated with (references resolved).
    pub properties: Compact,
    pub attributes: Compact,
    /// Its ID (and whether it is provisional), dependencies, tags and sensitive paths.
    packed: Packed,
}

impl ResourceState {
    /// A record of object `id`, with no dependencies, tags or sensitive paths.
    pub fn new(
        plugin: Name,
        type_name: Name,
        id: &str,
        properties: Compact,
        attributes: Compact,
    ) -> Self {
        ResourceState {
            plugin,
            type_name,
            properties,
            attributes,
            packed: Packed::new(id, NONE, TAGS_NONE, NONE),
        }
    }

    /// Recorded under a provisional ID: a create answered `pending` under one (SPI 0.4). The
    /// first read that names the object otherwise gives its lasting ID; no other record's ID
    /// ever changes.
    pub fn provisional(&self) -> bool {
        self.packed.0[PROVISIONAL] == 1
    }

    /// Whether its ID is provisional is now `provisional`.
    pub fn set_provisional(&mut self, provisional: bool) {
        self.packed.0[PROVISIONAL] = u8::from(provisional);
    }

    /// Its object's ID.
    pub fn id(&self) -> &str {
        self.packed.parts().0
    }

    /// What it depended on when last applied (so it is deleted before them).
    pub fn depends_on(&self) -> Names<'_> {
        self.packed.parts().1
    }

    /// Its tags.
    pub fn tags(&self) -> Tags<'_> {
        self.packed.parts().2
    }

    /// What of it must not be shown: `Properties.X`, `Attributes.Y` (see
    /// `engine::sensitive`).
    pub fn sensitive(&self) -> Names<'_> {
        self.packed.parts().3
    }

    /// Its object's ID is now `id`.
    pub fn set_id(&mut self, id: &str) {
        let (_, deps, tags, sensitive) = self.packed.parts();
        let packed = Packed::new(id, deps.iter(), tags.iter(), sensitive.iter());
        self.replace(packed);
    }

    /// It now depends on `names`.
    pub fn set_depends_on<S: AsRef<str>>(&mut self, names: impl IntoIterator<Item = S>) {
        let (id, _, tags, sensitive) = self.packed.parts();
        let packed = Packed::new(id, names, tags.iter(), sensitive.iter());
        self.replace(packed);
    }

    /// Its tags are now `tags`.
    pub fn set_tags(&mut self, tags: &TagList) {
        let (id, deps, _, sensitive) = self.packed.parts();
        let packed = Packed::new(id, deps.iter(), tags.iter(), sensitive.iter());
        self.replace(packed);
    }

    /// What of it is sensitive is now `paths`.
    pub fn set_sensitive<S: AsRef<str>>(&mut self, paths: impl IntoIterator<Item = S>) {
        let (id, deps, tags, _) = self.packed.parts();
        let packed = Packed::new(id, deps.iter(), tags.iter(), paths);
        self.replace(packed);
    }

    /// Takes `packed` for its packed bytes, keeping whether the ID is provisional.
    fn replace(&mut self, mut packed: Packed) {
        packed.0[PROVISIONAL] = self.packed.0[PROVISIONAL];
        self.packed = packed;
    }

    /// This record, depending on `names`.
    pub fn with_depends_on<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.set_depends_on(names);
        self
    }

    /// This record, with `tags`.
    pub fn with_tags(mut self, tags: &TagList) -> Self {
        self.set_tags(tags);
        self
    }

    /// This record, with `paths` sensitive.
    pub fn with_sensitive<S: AsRef<str>>(mut self, paths: impl IntoIterator<Item = S>) -> Self {
        self.set_sensitive(paths);
        self
    }

    /// This record, provisional or not.
    pub fn with_provisional(mut self, provisional: bool) -> Self {
        self.set_provisional(provisional);
        self
    }
}

const NONE: [&str; 0] = [];
/// Where the packed bytes say whether the ID is provisional; the strings start after it.
const PROVISIONAL: usize = 12;
const STRINGS: usize = 13;
const TAGS_NONE: [(&str, &str); 0] = [];

/// The packed bytes (see the module's invariants).
#[derive(Clone, PartialEq)]
struct Packed(Box<[u8]>);

impl Packed {
    fn new<D, K, V, S>(
        id: &str,
        deps: impl IntoIterator<Item = D>,
        tags: impl IntoIterator<Item = (K, V)>,
        sensitive: impl IntoIterator<Item = S>,
    ) -> Self
    where
        D: AsRef<str>,
        K: AsRef<str>,
        V: AsRef<str>,
        S: AsRef<str>,
    {
        let mut bytes = vec![0; STRINGS];
        packed::push(&mut bytes, id);
        let mut counts = [0u32; 3];
        for dep in deps {
            packed::push(&mut bytes, dep.as_ref());
            counts[0] += 1;
        }
        for (key, value) in tags {
            packed::push(&mut bytes, key.as_ref());
            packed::push(&mut bytes, value.as_ref());
            counts[1] += 1;
        }
        for path in sensitive {
            packed::push(&mut bytes, path.as_ref());
            counts[2] += 1;
        }
        for (at, count) in counts.iter().enumerate() {
            bytes[4 * at..4 * at + 4].copy_from_slice(&count.to_le_bytes());
        }
        Packed(bytes.into_boxed_slice())
    }

    /// The ID, the dependencies, the tags and the sensitive paths.
    fn parts(&self) -> (&str, Names<'_>, Tags<'_>, Names<'_>) {
        let count = |at: usize| {
            let bytes: [u8; 4] = self.0[at..at + 4].try_into().expect("4 bytes");
            u32::from_le_bytes(bytes) as usize
        };
        let (deps, tags, sensitive) = (count(0), count(4), count(8));
        let mut strings = packed::strings(&self.0[STRINGS..]);
        let id = strings.next().expect("a record holds its ID");
        let deps_at = strings;
        let tags_at = skip(strings, deps);
        let sensitive_at = skip(tags_at, 2 * tags);
        (
            id,
            Names {
                strings: deps_at,
                len: deps,
            },
            Tags {
                strings: tags_at,
                len: tags,
            },
            Names {
                strings: sensitive_at,
                len: sensitive,
            },
        )
    }
}

/// `strings` after its first `n`.
fn skip(mut strings: Strings<'_>, n: usize) -> Strings<'_> {
    for _ in 0..n {
        strings.next();
    }
    strings
}

/// Names held in a record (its dependencies, its sensitive paths), read where they are.
#[derive(Clone, Copy)]
pub struct Names<'a> {
    strings: Strings<'a>,
    len: usize,
}

impl<'a> Names<'a> {
    pub fn iter(&self) -> std::iter::Take<Strings<'a>> {
        self.strings.take(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(String::from).collect()
    }

    /// As a list of its own.
    pub fn to_list(&self) -> NameList {
        NameList::from(self.iter().collect::<Vec<_>>())
    }
}

impl<'a> IntoIterator for Names<'a> {
    type Item = &'a str;
    type IntoIter = std::iter::Take<Strings<'a>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Names<'_> {
    fn eq(&self, other: &[S]) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl PartialEq<NameList> for Names<'_> {
    fn eq(&self, other: &NameList) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// A record's tags, read where they are (sorted by key, each key once).
#[derive(Clone, Copy)]
pub struct Tags<'a> {
    strings: Strings<'a>,
    /// Pairs.
    len: usize,
}

impl<'a> Tags<'a> {
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + use<'a> {
        let mut strings = self.strings;
        (0..self.len).map(move |_| {
            let key = strings.next().expect("a tag's key");
            (key, strings.next().expect("a tag's value"))
        })
    }

    /// As a map (what a provider call takes).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// As a list of their own.
    pub fn to_list(&self) -> TagList {
        TagList::from(&self.to_map())
    }
}

impl fmt::Debug for Tags<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl fmt::Debug for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceState")
            .field("plugin", &self.plugin)
            .field("type_name", &self.type_name)
            .field("id", &self.id())
            .field("properties", &self.properties)
            .field("attributes", &self.attributes)
            .field("depends_on", &self.depends_on())
            .field("tags", &self.tags())
            .field("sensitive", &self.sensitive())
            .field("provisional", &self.provisional())
            .finish()
    }
}

impl Serialize for ResourceState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (id, deps, tags, sensitive) = self.packed.parts();
        let optional = [
            !deps.is_empty(),
            !tags.is_empty(),
            !sensitive.is_empty(),
            self.provisional(),
        ];
        let len = 5 + optional.iter().filter(|o| **o).count();
        let mut record = serializer.serialize_struct("ResourceState", len)?;
        record.serialize_field("Plugin", &self.plugin)?;
        record.serialize_field("Type", &self.type_name)?;
        record.serialize_field("ID", id)?;
        record.serialize_field("Properties", &self.properties)?;
        record.serialize_field("Attributes", &self.attributes)?;
        if !deps.is_empty() {
            record.serialize_field("DependsOn", &deps)?;
        }
        if !tags.is_empty() {
            record.serialize_field("Tags", &tags)?;
        }
        if !sensitive.is_empty() {
            record.serialize_field("Sensitive", &sensitive)?;
        }
        if self.provisional() {
            record.serialize_field("Provisional", &true)?;
        }
        record.end()
    }
}

/// A record as it is read: a field each.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Wire {
    plugin: Name,
    #[serde(rename = "Type")]
    type_name: Name,
    #[serde(rename = "ID")]
    id: String,
    properties: Compact,
    attributes: Compact,
    #[serde(default)]
    depends_on: NameList,
    #[serde(default)]
    tags: TagList,
    #[serde(default)]
    sensitive: NameList,
    #[serde(default)]
    provisional: bool,
}

impl From<Wire> for ResourceState {
    fn from(w: Wire) -> Self {
        ResourceState {
            plugin: w.plugin,
            type_name: w.type_name,
            properties: w.properties,
            attributes: w.attributes,
            packed: Packed::new(
                &w.id,
                w.depends_on.iter(),
                w.tags.iter(),
                w.sensitive.iter(),
            ),
        }
        .with_provisional(w.provisional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_is_written_and_read_as_it_always_was() {
        let text = json!({"Plugin": "aws", "Type": "Instance", "ID": "i-1",
            "Properties": {"A": 1}, "Attributes": {"B": "x"}, "DependsOn": ["Sg", "Subnet"],
            "Tags": {"rkit:name": "Web", "rkit:stack": "s"}, "Sensitive": ["Properties.A"],
            "Provisional": true});
        let r: ResourceState = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(r.id(), "i-1");
        assert_eq!(r.depends_on().to_vec(), ["Sg", "Subnet"]);
        assert_eq!(r.tags().get("rkit:name"), Some("Web"));
        assert_eq!(r.tags().get("nope"), None);
        assert!(r.sensitive().contains("Properties.A"));
        assert_eq!(serde_json::to_value(&r).unwrap(), text);
        // Empty lists and a lasting ID are left out, as ever.
        let bare = ResourceState::new(
            "p".into(),
            "T".into(),
            "x",
            Compact::from(json!({})),
            Compact::from(json!({})),
        );
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"Plugin":"p","Type":"T","ID":"x","Properties":{},"Attributes":{}}"#
        );
    }

    #[test]
    fn each_part_is_changed_alone() {
        let tags = TagList::from(&BTreeMap::from([("k".to_string(), "v".to_string())]));
        let mut r = ResourceState::new(
            "p".into(),
            "T".into(),
            "old",
            Compact::from(json!({})),
            Compact::from(json!({})),
        )
        .with_depends_on(["A", "B"])
        .with_tags(&tags)
        .with_sensitive(["Attributes.S"]);
        r.set_provisional(true);
        r.set_id("new");
        assert_eq!(r.id(), "new");
        assert!(r.provisional(), "a new ID keeps the flag");
        assert_eq!(r.depends_on(), *["A", "B"].as_slice());
        assert_eq!(r.tags().to_map(), tags.to_map());
        assert_eq!(r.sensitive().to_vec(), ["Attributes.S"]);
        r.set_depends_on(NONE);
        assert!(r.depends_on().is_empty());
        assert_eq!((r.id(), r.tags().get("k")), ("new", Some("v")));
        assert_eq!(r.sensitive().to_vec(), ["Attributes.S"]);
    }

    #[test]
    fn a_record_is_small() {
        // Two shared names, two compact values and the packed rest: a state's map holds
        // this beside each name.
        assert!(std::mem::size_of::<ResourceState>() <= 64);
    }
}
