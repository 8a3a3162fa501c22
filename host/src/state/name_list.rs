//! A list of names (a recorded resource's dependencies, what of it is sensitive) as one
//! packed allocation: read and written as the JSON array of strings it stands for, without
//! a `Vec`'s buffer and a `String` per name (a list of one name costs ~90 bytes as
//! `Vec<String>`, ~50 as this).
//!
//! Invariant: the order is kept as given; the bytes are [`packed`]'s, read only by it.

use super::packed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Names, in their order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NameList(Box<[u8]>);

impl NameList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> packed::Strings<'_> {
        packed::strings(&self.0)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(String::from).collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// How many names (counted: the list holds no count).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

/// A [`NameList`] made one name at a time (each name's own allocation can go as it is
/// packed: a report of 100,000 creates holds their names once).
#[derive(Default)]
pub struct NamesPacked(Vec<u8>);

impl NamesPacked {
    pub fn push(&mut self, name: &str) {
        packed::push(&mut self.0, name);
    }

    pub fn finish(self) -> NameList {
        NameList(self.0.into_boxed_slice())
    }
}

impl<'a> IntoIterator for &'a NameList {
    type Item = &'a str;
    type IntoIter = packed::Strings<'a>;

    fn into_iter(self) -> Self::IntoIter {
        packed::strings(&self.0)
    }
}

impl<S: AsRef<str>> From<&[S]> for NameList {
    fn from(names: &[S]) -> Self {
        Self(packed::pack(names.iter().map(AsRef::as_ref)))
    }
}

impl<S: AsRef<str>> From<&Vec<S>> for NameList {
    fn from(names: &Vec<S>) -> Self {
        Self::from(names.as_slice())
    }
}

impl<S: AsRef<str>> From<Vec<S>> for NameList {
    fn from(names: Vec<S>) -> Self {
        Self::from(names.as_slice())
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for NameList {
    fn eq(&self, other: &[S]) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl<S: AsRef<str>> From<&Box<[S]>> for NameList {
    fn from(names: &Box<[S]>) -> Self {
        Self::from(&names[..])
    }
}

impl<S: AsRef<str>> PartialEq<Box<[S]>> for NameList {
    fn eq(&self, other: &Box<[S]>) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for NameList {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == *other.as_slice()
    }
}

impl fmt::Debug for NameList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for NameList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for NameList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_and_writes_as_the_array_it_stands_for() {
        let names: NameList = serde_json::from_str(r#"["b", "", "a\u0000é", "b"]"#).unwrap();
        assert_eq!(names.to_vec(), ["b", "", "a\0é", "b"]);
        assert_eq!(
            serde_json::to_string(&names).unwrap(),
            r#"["b","","a\u0000é","b"]"#
        );
        assert_eq!(names, vec!["b", "", "a\0é", "b"]);
        assert_ne!(names, vec!["b", "", "a\0é"]);
        assert_eq!(format!("{names:?}"), r#"["b", "", "a\0é", "b"]"#);
        assert!(NameList::default().is_empty());
        assert_eq!(names.len(), 4);
        let mut packing = NamesPacked::default();
        for name in names.iter() {
            packing.push(name);
        }
        assert_eq!(packing.finish(), names);
        assert!(!NameList::from(vec![""]).is_empty());
        let err = serde_json::from_str::<NameList>(r#"["a", 1]"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: integer `1`, expected a string at line 1 column 7"
        );
    }
}
