//! Names that repeat across a large estate (a provider's name, a resource type), held once.
//!
//! Invariant: two [`Name`]s with the same text made by [`Name::new`] (or read by serde) share
//! one allocation while the table has room, so a state or spec of 100,000 resources of one
//! type holds that type's text once, not 100,000 times (a `String` costs its 24 bytes and a
//! 32-byte allocation; a [`Name`] its 8, one pointer to the shared text). A [`Name`] reads, compares, orders, hashes
//! and serialises exactly as its text does, so it stands where a `String` stood in every
//! format, shared or not. The table lives as long as the process and holds each distinct
//! text once, at most [`MOST`] texts of at most [`LONGEST`] bytes (past either, a text gets
//! its own allocation): it grows with the kinds of resources and property paths, never
//! with their number, and nothing a spec or a provider sends can make it large.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex};

/// The longest text shared through the table (longer ones get their own allocation).
pub const LONGEST: usize = 128;

/// How many distinct texts the table holds at most (past it, a new text is not shared).
pub const MOST: usize = 4096;

static TABLE: LazyLock<Mutex<HashSet<Shared>>> = LazyLock::new(Default::default);

/// A text in the table, found by the text itself.
#[derive(PartialEq, Eq, Hash)]
struct Shared(Arc<Box<str>>);

impl Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A short text held once per process (see the module's header).
/// One pointer: the text is behind the `Arc`'s own allocation, and a `Name` stands in every
/// record, spec resource and step.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<Box<str>>);

impl Name {
    /// The shared `text`.
    pub fn new(text: &str) -> Name {
        if text.len() > LONGEST {
            return Name(Arc::new(text.into()));
        }
        let mut table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = table.get(text) {
            return Name(shared.0.clone());
        }
        let shared = Arc::new(Box::<str>::from(text));
        if table.len() < MOST {
            table.insert(Shared(shared.clone()));
        }
        Name(shared)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::new("")
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name::new(&text)
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Self {
        Name::new(text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.as_str().to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Name, E> {
                Ok(Name::new(text))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_is_held_once_and_reads_as_itself() {
        let a = Name::new("aws_instance");
        let b: Name = serde_json::from_str(r#""aws_instance""#).unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "aws_instance");
        assert_eq!(serde_json::to_string(&b).unwrap(), r#""aws_instance""#);
        assert_eq!(format!("{a} {a:?}"), r#"aws_instance "aws_instance""#);
        assert!(Name::new("a") < Name::new("b"));
    }

    #[test]
    fn a_long_text_is_not_kept_in_the_table() {
        let long = "x".repeat(LONGEST + 1);
        let a = Name::new(&long);
        let b = Name::new(&long);
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert!(!TABLE.lock().unwrap().contains(long.as_str()));
    }

    #[test]
    fn a_name_that_is_not_a_string_is_refused() {
        let err = serde_json::from_str::<Name>("1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: integer `1`, expected a string at line 1 column 1"
        );
    }
}
