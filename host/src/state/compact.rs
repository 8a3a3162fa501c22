//! A JSON value held as its compact text: what the state records of each resource (its
//! properties and attributes) is kept this way, a few bytes over the text instead of a tree of
//! maps (a `serde_json::Map` of one entry costs ~470 bytes), and parsed where it is used.
//!
//! Invariants: the text is always one valid JSON value, written by `serde_json` without
//! whitespace (a state file's pretty-printed text is compacted as it loads); it is stored and
//! read as that JSON value, so the state's format is unchanged; two are equal when their
//! values are (whatever their keys' order).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value as its compact text.
#[derive(Clone)]
pub struct Compact(Box<RawValue>);

impl Compact {
    /// `value`'s compact text.
    pub fn new(value: &Value) -> Self {
        let text = serde_json::to_string(value).expect("a JSON value always serializes");
        Self(RawValue::from_string(text).expect("serde_json writes valid JSON"))
    }

    /// The value, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("a Compact holds valid JSON")
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

impl<'de> Deserialize<'de> for Compact {
    /// Parsed and written again compactly: one resource's tree at a time, never the whole
    /// state's.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Self::new(&v))
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
    fn equal_values_are_equal_whatever_the_order_of_their_keys() {
        let a = Compact::new(&json!({"A": 1, "B": 2}));
        let b: Compact = serde_json::from_str(r#"{"B": 2, "A": 1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Compact::new(&json!({"A": 1})));
    }
}
