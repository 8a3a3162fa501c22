//! One resource as recorded: its provider and type, and, packed in one allocation, its ID,
//! properties, attributes, what it depended on, its tags, what of it is sensitive and
//! whether its ID is provisional. A state of 100,000 records holds 32 bytes beside each
//! name and one allocation a record, not 144 bytes and six; a string's length in it is
//! mostly one byte.
//!
//! Invariants:
//! - Stored and read as ever: `Plugin`, `Type`, `ID`, `Properties`, `Attributes`, then
//!   `DependsOn`, `Tags` and `Sensitive` (each left out when empty) and `Provisional` (left
//!   out when false), in that order.
//! - The packed bytes are a byte that is 1 when the ID is provisional, three counts
//!   (dependencies, tags, sensitive paths; as [`packed::push_len`] writes them), then, as
//!   [`packed`] writes strings: the ID, each dependency in its order, each tag's key then value
//!   (sorted by key, each key once, as a [`TagList`] holds them), each sensitive path in its
//!   order, then the properties' and the attributes' compact text (as a [`Compact`] wrote
//!   them). They are only made by [`Packed::new`].
//! - Two records are equal when their fields are, the properties and attributes compared as
//!   [`Compact`]s are (by value, whatever their keys' order).

use super::compact::CompactText;
use super::packed::{self, Strings};
use super::{Compact, NameList, TagList};
use crate::interned::Name;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// One resource as recorded.
#[derive(Clone, Deserialize)]
#[serde(from = "Wire")]
pub struct ResourceState {
    /// Its provider's name (held once for all of them, see `interned`).
    pub plugin: Name,
    pub type_name: Name,
    /// All the rest.
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
        let parts = Parts {
            id,
            depends_on: NONE,
            tags: TAGS_NONE,
            sensitive: NONE,
            properties: properties.text(),
            attributes: attributes.text(),
        };
        ResourceState {
            plugin,
            type_name,
            packed: Packed::new(parts),
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
        self.packed.parts().id
    }

    /// The properties it was created or last updated with (references resolved).
    pub fn properties(&self) -> CompactText<'_> {
        CompactText::of_written(self.packed.parts().properties)
    }

    /// What its provider said of it.
    pub fn attributes(&self) -> CompactText<'_> {
        CompactText::of_written(self.packed.parts().attributes)
    }

    /// What it depended on when last applied (so it is deleted before them).
    pub fn depends_on(&self) -> Names<'_> {
        self.packed.parts().depends_on
    }

    /// Its tags.
    pub fn tags(&self) -> Tags<'_> {
        self.packed.parts().tags
    }

    /// What of it must not be shown: `Properties.X`, `Attributes.Y` (see
    /// `engine::sensitive`).
    pub fn sensitive(&self) -> Names<'_> {
        self.packed.parts().sensitive
    }

    /// Its object's ID is now `id`.
    pub fn set_id(&mut self, id: &str) {
        let (deps, tags, sensitive, properties, attributes) = self.rest();
        let packed = Packed::new(Parts {
            id,
            depends_on: deps,
            tags,
            sensitive,
            properties,
            attributes,
        });
        self.keep_flag(packed);
    }

    /// Its properties are now `properties`.
    pub fn set_properties(&mut self, properties: &Compact) {
        let p = self.packed.parts();
        let packed = Packed::new(Parts {
            properties: properties.text(),
            ..p
        });
        self.keep_flag(packed);
    }

    /// Its attributes are now `attributes`.
    pub fn set_attributes(&mut self, attributes: &Compact) {
        let p = self.packed.parts();
        let packed = Packed::new(Parts {
            attributes: attributes.text(),
            ..p
        });
        self.keep_flag(packed);
    }

    /// It now depends on `names`.
    pub fn set_depends_on<S: AsRef<str>>(&mut self, names: impl IntoIterator<Item = S>) {
        let p = self.packed.parts();
        let packed = Packed::new(Parts {
            id: p.id,
            depends_on: names,
            tags: p.tags,
            sensitive: p.sensitive,
            properties: p.properties,
            attributes: p.attributes,
        });
        self.keep_flag(packed);
    }

    /// Its tags are now `tags`.
    pub fn set_tags(&mut self, tags: &TagList) {
        let p = self.packed.parts();
        let packed = Packed::new(Parts {
            id: p.id,
            depends_on: p.depends_on,
            tags: tags.iter(),
            sensitive: p.sensitive,
            properties: p.properties,
            attributes: p.attributes,
        });
        self.keep_flag(packed);
    }

    /// What of it is sensitive is now `paths`.
    pub fn set_sensitive<S: AsRef<str>>(&mut self, paths: impl IntoIterator<Item = S>) {
        let p = self.packed.parts();
        let packed = Packed::new(Parts {
            id: p.id,
            depends_on: p.depends_on,
            tags: p.tags,
            sensitive: paths,
            properties: p.properties,
            attributes: p.attributes,
        });
        self.keep_flag(packed);
    }

    /// The parts but the ID, borrowed.
    fn rest(&self) -> (Names<'_>, Tags<'_>, Names<'_>, &str, &str) {
        let p = self.packed.parts();
        (
            p.depends_on,
            p.tags,
            p.sensitive,
            p.properties,
            p.attributes,
        )
    }

    /// Takes `packed`, keeping whether the ID is provisional.
    fn keep_flag(&mut self, mut packed: Packed) {
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

impl PartialEq for ResourceState {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.packed.parts(), other.packed.parts());
        self.plugin == other.plugin
            && self.type_name == other.type_name
            && self.provisional() == other.provisional()
            && a.id == b.id
            && a.depends_on.iter().eq(b.depends_on.iter())
            && a.tags.iter().eq(b.tags.iter())
            && a.sensitive.iter().eq(b.sensitive.iter())
            && CompactText::of_written(a.properties) == CompactText::of_written(b.properties)
            && CompactText::of_written(a.attributes) == CompactText::of_written(b.attributes)
    }
}

const NONE: [&str; 0] = [];
const TAGS_NONE: [(&str, &str); 0] = [];
/// Where the packed bytes say whether the ID is provisional; the counts follow it.
const PROVISIONAL: usize = 0;

/// A record's parts, as they are packed (and read back: `D`, `T` and `S` the views).
struct Parts<'a, D, T, S> {
    id: &'a str,
    depends_on: D,
    tags: T,
    sensitive: S,
    properties: &'a str,
    attributes: &'a str,
}

/// The packed bytes (see the module's invariants).
#[derive(Clone, PartialEq)]
struct Packed(Box<[u8]>);

impl Packed {
    fn new<D, DS, T, K, V, S, SS>(parts: Parts<'_, D, T, S>) -> Self
    where
        D: IntoIterator<Item = DS>,
        DS: AsRef<str>,
        T: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
        S: IntoIterator<Item = SS>,
        SS: AsRef<str>,
    {
        thread_local! {
            static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
        }
        // The strings are written into a buffer kept per thread, then copied after the head
        // into an allocation of exactly its size (a vector grown and shrunk may keep a block
        // of twice the size).
        let mut strings = SCRATCH.take();
        strings.clear();
        packed::push(&mut strings, parts.id);
        let mut counts = [0usize; 3];
        for dep in parts.depends_on {
            packed::push(&mut strings, dep.as_ref());
            counts[0] += 1;
        }
        for (key, value) in parts.tags {
            packed::push(&mut strings, key.as_ref());
            packed::push(&mut strings, value.as_ref());
            counts[1] += 1;
        }
        for path in parts.sensitive {
            packed::push(&mut strings, path.as_ref());
            counts[2] += 1;
        }
        packed::push(&mut strings, parts.properties);
        packed::push(&mut strings, parts.attributes);
        let head: usize = 1 + counts.iter().map(|c| packed::len_size(*c)).sum::<usize>();
        let mut bytes = Vec::with_capacity(head + strings.len());
        bytes.push(0);
        for count in counts {
            packed::push_len(&mut bytes, count);
        }
        bytes.extend_from_slice(&strings);
        let packed = Packed(bytes.into_boxed_slice());
        // One large record must not stay held.
        if strings.capacity() <= 64 * 1024 {
            SCRATCH.set(strings);
        }
        packed
    }

    /// Its parts, read in place.
    fn parts(&self) -> Parts<'_, Names<'_>, Tags<'_>, Names<'_>> {
        let counted = "a record holds its counts";
        let (deps, rest) = packed::read_len(&self.0[PROVISIONAL + 1..]).expect(counted);
        let (tags, rest) = packed::read_len(rest).expect(counted);
        let (sensitive, rest) = packed::read_len(rest).expect(counted);
        let mut strings = packed::strings(rest);
        let id = strings.next().expect("a record holds its ID");
        let deps_at = strings;
        let tags_at = skip(deps_at, deps);
        let sensitive_at = skip(tags_at, 2 * tags);
        let mut values = skip(sensitive_at, sensitive);
        let properties = values.next().expect("a record holds its properties");
        let attributes = values.next().expect("a record holds its attributes");
        Parts {
            id,
            depends_on: Names {
                strings: deps_at,
                len: deps,
            },
            tags: Tags {
                strings: tags_at,
                len: tags,
            },
            sensitive: Names {
                strings: sensitive_at,
                len: sensitive,
            },
            properties,
            attributes,
        }
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

    pub fn iter(&self) -> TagPairs<'a> {
        TagPairs {
            strings: self.strings,
            left: self.len,
        }
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

impl<'a> IntoIterator for Tags<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = TagPairs<'a>;

    fn into_iter(self) -> TagPairs<'a> {
        self.iter()
    }
}

/// A record's tags, key and value, in order.
#[derive(Clone)]
pub struct TagPairs<'a> {
    strings: Strings<'a>,
    left: usize,
}

impl<'a> Iterator for TagPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let key = self.strings.next().expect("a tag's key");
        Some((key, self.strings.next().expect("a tag's value")))
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
            .field("properties", &self.properties())
            .field("attributes", &self.attributes())
            .field("depends_on", &self.depends_on())
            .field("tags", &self.tags())
            .field("sensitive", &self.sensitive())
            .field("provisional", &self.provisional())
            .finish()
    }
}

impl Serialize for ResourceState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Parts {
            id,
            depends_on: deps,
            tags,
            sensitive,
            properties,
            attributes,
        } = self.packed.parts();
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
        record.serialize_field("Properties", &CompactText::of_written(properties))?;
        record.serialize_field("Attributes", &CompactText::of_written(attributes))?;
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
#[serde(rename = "ResourceState", rename_all = "PascalCase")]
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
        let parts = Parts {
            id: &w.id,
            depends_on: w.depends_on.iter(),
            tags: w.tags.iter(),
            sensitive: w.sensitive.iter(),
            properties: w.properties.text(),
            attributes: w.attributes.text(),
        };
        ResourceState {
            plugin: w.plugin,
            type_name: w.type_name,
            packed: Packed::new(parts),
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
        // Two shared names and the packed rest: a state's map holds this beside each name.
        assert!(std::mem::size_of::<ResourceState>() <= 32);
    }
}
