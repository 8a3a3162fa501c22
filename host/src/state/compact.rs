//! A JSON value held as its compact text: a resource's properties as the spec writes them, as
//! a plan's step carries them and as the state records them (with its attributes) are kept
//! this way, a few bytes over the text instead of a tree of maps (a `serde_json::Map` of one
//! entry costs ~470 bytes), and parsed where they are used.
//!
//! Invariants: the text is always one valid JSON value, written by `serde_json` without
//! whitespace, its keys in the order read (a pretty-printed file is compacted as it is read,
//! streamed, with no tree between); it is stored and read as that JSON value, so the formats
//! of specs, plans and states are unchanged; two are equal when their values are (whatever
//! their keys' order).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value as its compact text.
#[derive(Clone)]
pub struct Compact(Box<RawValue>);

impl Compact {
    /// `value`'s compact text.
    pub fn new(value: &Value) -> Self {
        // Written by serde_json, so not parsed again to be checked.
        Self(serde_json::value::to_raw_value(value).expect("a JSON value always serializes"))
    }

    /// The value, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("a Compact holds valid JSON")
    }

    /// Whether a string in it may hold a template mentioning `needle` (`.Groups.`): a scan of
    /// the text that builds nothing (it may say yes where a key does; never no where a value
    /// does, as `serde_json` writes `{` unescaped).
    pub fn mentions(&self, needle: &str) -> bool {
        self.text().contains("{{") && self.text().contains(needle)
    }

    /// Changes the value with `f` (parsed, changed, written compactly again).
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut value = self.value();
        let out = f(&mut value);
        *self = Self::new(&value);
        out
    }

    /// Whether it is a JSON object.
    pub fn is_object(&self) -> bool {
        self.text().starts_with('{')
    }

    /// The compact text.
    pub fn text(&self) -> &str {
        self.0.get()
    }
}

impl Default for Compact {
    fn default() -> Self {
        Self::new(&Value::Null)
    }
}

impl From<Value> for Compact {
    fn from(value: Value) -> Self {
        Self::new(&value)
    }
}

impl From<&Value> for Compact {
    fn from(value: &Value) -> Self {
        Self::new(value)
    }
}

impl PartialEq for Compact {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() || self.value() == other.value()
    }
}

impl PartialEq<Value> for Compact {
    /// By text first (what was recorded is usually written as it is read back), else by value.
    fn eq(&self, other: &Value) -> bool {
        serde_json::to_string(other).is_ok_and(|t| t == self.text()) || &self.value() == other
    }
}

impl std::fmt::Debug for Compact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Compact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The name under which serde_json hands a value over as its raw text (`RawValue`'s own
/// request). Were it ever to change, serde_json would hand over the value itself instead,
/// which is transcoded: slower, never wrong.
const RAW: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for Compact {
    /// From serde_json's text or tree, the value's text as it is (parsed again only where it
    /// holds whitespace: pretty-printed); from anything else (a buffered enum's content),
    /// written compactly as it is read. Never a tree of more than one value.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(RAW, CompactVisitor)
    }
}

struct CompactVisitor;

impl<'de> serde::de::Visitor<'de> for CompactVisitor {
    type Value = Compact;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    /// serde_json's answer to [`RAW`]: a map of one entry, the text under that name.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Compact, A::Error> {
        use serde::de::Error as _;
        let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
            return Ok(Compact::new(&Value::Object(Default::default())));
        };
        if key != RAW {
            // A map read as such: the rest of it, then the whole written compactly.
            let mut object = serde_json::Map::new();
            object.insert(key.into_owned(), map.next_value()?);
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                object.insert(k, v);
            }
            return Ok(Compact::new(&Value::Object(object)));
        }
        let text = map.next_value::<std::borrow::Cow<'de, str>>()?;
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            let value: Value = serde_json::from_str(&text).map_err(A::Error::custom)?;
            return Ok(Compact::new(&value));
        }
        RawValue::from_string(text.into_owned())
            .map(Compact)
            .map_err(A::Error::custom)
    }

    /// Anything else: written compactly as it is read.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Compact, D::Error> {
        // Written by serde_json, so not parsed again to be checked.
        serde_json::value::to_raw_value(&serde_transcode::Transcoder::new(d))
            .map(Compact)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pretty_text_is_compacted_and_written_back_as_the_same_value() {
        let c: Compact =
            serde_json::from_str("{\n  \"Input\": \"root\",\n  \"N\": [1, 2]\n}").unwrap();
        assert_eq!(c.text(), r#"{"Input":"root","N":[1,2]}"#);
        assert_eq!(c, json!({"Input": "root", "N": [1, 2]}));
        let pretty = serde_json::to_string_pretty(&json!({"P": c})).unwrap();
        assert_eq!(
            pretty,
            "{\n  \"P\": {\n    \"Input\": \"root\",\n    \"N\": [\n      1,\n      2\n    ]\n  }\n}"
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"Input": "root", "N": [1, 2]})
        );
    }

    #[test]
    fn read_from_text_a_tree_or_a_buffered_enum_alike_in_the_order_written() {
        #[derive(Deserialize)]
        #[serde(tag = "Kind")]
        enum Entry {
            Record { properties: Compact },
        }
        let text = r#"{"Kind": "Record", "properties": {"B": [1, 2.5, "a b"], "A": null}}"#;
        let Entry::Record { properties } = serde_json::from_str(text).unwrap();
        assert_eq!(properties.text(), r#"{"B":[1,2.5,"a b"],"A":null}"#);
        let tree = json!({"B": [1, 2.5, "a b"], "A": null});
        let from_tree: Compact = serde_json::from_value(tree.clone()).unwrap();
        assert_eq!(from_tree.text(), properties.text());
        assert_eq!(Compact::new(&tree).text(), properties.text());
        let err = serde_json::from_str::<Compact>(r#"{"A": [1,}"#).unwrap_err();
        assert!(err.to_string().contains("expected value"), "{err}");
    }

    #[test]
    fn equal_values_are_equal_whatever_the_order_of_their_keys() {
        let a = Compact::new(&json!({"A": 1, "B": 2}));
        let b: Compact = serde_json::from_str(r#"{"B": 2, "A": 1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Compact::new(&json!({"A": 1})));
    }
}
