//! A JSON value held as its compact text: a resource's properties as the spec writes them, as
//! a plan's step carries them and as the state records them (with its attributes) are kept
//! this way, a few bytes over the text instead of a tree of maps (a `serde_json::Map` of one
//! entry costs ~470 bytes), and parsed where they are used.
//!
//! Invariants: the text is always one JSON value that serde_json parses, written by
//! serde_json without whitespace, its keys in the order read (what is read is streamed into
//! that text, with no tree between, and what serde_json's parser refuses is refused as it
//! reads); it is stored and read as that JSON value, so the formats of specs, plans and
//! states are unchanged; two are equal when their values are (whatever their keys' order).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value as its compact text.
#[derive(Clone)]
pub struct Compact(Box<RawValue>);

impl Compact {
    /// `value`'s compact text.
    pub fn new(value: &Value) -> Self {
        Self::written(value).expect("a JSON value always serializes")
    }

    /// What `value` serializes to, written compactly by serde_json into a buffer kept per
    /// thread (one allocation for the text, of its size, rather than one grown and one
    /// shrunk per value: a state is 200,000 of them).
    fn written(value: &impl Serialize) -> Result<Self, serde_json::Error> {
        thread_local! {
            static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
        }
        /// Past this, a buffer is not kept (one large value must not stay held).
        const KEPT: usize = 64 * 1024;
        let mut buffer = BUFFER.take();
        buffer.clear();
        let written = value.serialize(&mut serde_json::Serializer::new(&mut buffer));
        let text = written.map(|()| buffer.to_vec());
        if buffer.capacity() <= KEPT {
            BUFFER.set(buffer);
        }
        let text = String::from_utf8(text?).map_err(serde::ser::Error::custom)?;
        RawValue::from_string(text).map(Self)
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

impl Compact {
    /// Borrowed as [`CompactText`].
    pub fn as_text(&self) -> CompactText<'_> {
        CompactText(self.text())
    }
}

/// A [`Compact`]'s text where it is held inside something else (a record's packed bytes):
/// read as a `Compact` is, compared as one.
#[derive(Clone, Copy)]
pub struct CompactText<'a>(&'a str);

impl<'a> CompactText<'a> {
    /// Text a [`Compact`] wrote (only such text is held where these are read from).
    pub(crate) fn of_written(text: &'a str) -> Self {
        CompactText(text)
    }

    /// The value, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0).expect("a Compact's text is valid JSON")
    }

    /// The compact text.
    pub fn text(&self) -> &'a str {
        self.0
    }

    /// Whether it is a JSON object.
    pub fn is_object(&self) -> bool {
        self.0.starts_with('{')
    }

    /// See [`Compact::mentions`].
    pub fn mentions(&self, needle: &str) -> bool {
        self.0.contains("{{") && self.0.contains(needle)
    }

    /// As a `Compact` of its own.
    pub fn to_compact(&self) -> Compact {
        Compact(RawValue::from_string(self.0.to_string()).expect("a Compact's text is valid JSON"))
    }
}

impl PartialEq for CompactText<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

impl PartialEq<Compact> for CompactText<'_> {
    fn eq(&self, other: &Compact) -> bool {
        *self == other.as_text()
    }
}

impl PartialEq<Value> for CompactText<'_> {
    /// By text first, else by value (as [`Compact`]).
    fn eq(&self, other: &Value) -> bool {
        serde_json::to_string(other).is_ok_and(|t| t == self.0) || &self.value() == other
    }
}

impl std::fmt::Debug for CompactText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for CompactText<'_> {
    /// Written as the JSON value it is (its text checked by serde_json's parser, no copy).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
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
    /// Written compactly as it is read, whatever the source (a file's text, pretty-printed or
    /// not, a tree, a buffered enum's content): its tokens streamed into serde_json's writer,
    /// with no tree between. Read by serde_json's own parser, what it refuses (a lone
    /// surrogate, a number out of range, nesting past its limit) is refused here too, so every
    /// `Compact` parses again.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::written(&serde_transcode::Transcoder::new(deserializer))
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
        let scalar: Compact = serde_json::from_value(json!("a")).unwrap();
        assert_eq!(scalar.text(), r#""a""#);
    }

    /// A forged state or saved plan: what serde_json would not parse back is refused where
    /// it is read, never held (every use parses it again).
    #[test]
    fn what_serde_json_would_not_parse_again_is_refused_as_it_is_read() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for bad in [r#"{"A":"\udc00"}"#, r#"{"A":1e400}"#, deep.as_str(), "[1,]"] {
            let text = format!(r#"{{"Kind": "Record", "properties": {bad}}}"#);
            assert!(serde_json::from_str::<Compact>(bad).is_err(), "{bad}");
            assert!(
                serde_json::from_str::<Record>(&text).is_err(),
                "{bad} inside a record"
            );
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Record {
            properties: Compact,
        }
    }

    #[test]
    fn equal_values_are_equal_whatever_the_order_of_their_keys() {
        let a = Compact::new(&json!({"A": 1, "B": 2}));
        let b: Compact = serde_json::from_str(r#"{"B": 2, "A": 1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Compact::new(&json!({"A": 1})));
    }
}
