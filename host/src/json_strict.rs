//! Reading JSON strictly: no key repeated in any object at any depth (parsers differ on which
//! of two keys wins, so a repeated key could be read one way here and another way elsewhere,
//! or silently drop what a user wrote), nesting bounded. Used for request bodies the sandbox's
//! gate signs and for everything a user gives rkit as JSON (specs, var files).
//!
//! Invariants: the whole text is parsed; a repeated key is reported with the path of the
//! object holding it and the position serde_json gives; more than 128 levels is refused.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

const MAX_DEPTH: usize = 128;

/// The top-level keys of the JSON object `body` (a request body: the reason if it is not one
/// object without repeated keys).
pub fn top_keys(body: &[u8]) -> Result<Vec<String>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let keys = Checked::root()
        .deserialize(&mut de)
        .map_err(|e| format!("is not one JSON object without repeated keys: {e}"))?;
    de.end()
        .map_err(|e| format!("has text after its JSON object: {e}"))?;
    keys.ok_or_else(|| "is not a JSON object".to_string())
}

/// Checks that no object in the JSON `text` repeats a key: the error (with serde_json's line
/// and column) says which key and where (`key "Net" appears twice in Resources`). Text that is
/// not JSON passes: parsing it is the caller's, with its own messages.
pub fn unique_keys(text: &str) -> Result<(), serde_json::Error> {
    match checked(text) {
        Err(e) if e.is_data() => Err(e),
        _ => Ok(()),
    }
}

/// Checks the JSON `text` whole, building nothing: that it parses as serde_json parses (a
/// syntax error is serde_json's own) and that no object repeats a key (a data error, `is_data`,
/// saying which key and where); both carry serde_json's line and column.
pub fn checked(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Checked::root().deserialize(&mut de)?;
    de.end()
}

/// A value checked for repeated keys; at the top, the object's keys (`None`: not an object).
struct Checked {
    depth: usize,
    top: bool,
    /// Where the value is (`Resources.Net`; empty at the top).
    path: String,
}

impl Checked {
    fn root() -> Self {
        Self {
            depth: 0,
            top: true,
            path: String::new(),
        }
    }

    fn inner(&self, step: &str) -> Self {
        Self {
            depth: self.depth + 1,
            top: false,
            path: if self.path.is_empty() || step.starts_with('[') {
                format!("{}{step}", self.path)
            } else {
                format!("{}.{step}", self.path)
            },
        }
    }
}

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = Option<Vec<String>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply"));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Option<Vec<String>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(self.inner(&format!("[{i}]")))?
            .is_some()
        {
            i += 1;
        }
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let at = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in {}", self.path)
                };
                return Err(de::Error::custom(format!("key {key:?} appears twice {at}")));
            }
            map.next_value_seed(self.inner(&key))?;
            if self.top {
                keys.push(key);
            }
        }
        Ok(Some(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_without_repeated_keys() {
        assert_eq!(
            top_keys(br#"{"TypeName":"AWS::S3::Bucket","DesiredState":"{}"}"#).unwrap(),
            ["TypeName", "DesiredState"]
        );
        assert_eq!(top_keys(b"{}").unwrap(), Vec::<String>::new());
        for (bad, why) in [
            (&br#"{"TypeName":"a","TypeName":"b"}"#[..], "appears twice"),
            (br#"{"A":{"B":1,"B":2}}"#, "appears twice"),
            (br#"{"A":[{"B":1,"B":2}]}"#, "appears twice"),
            (b"[1]", "not a JSON object"),
            (b"{} {}", "after"),
            (b"", "not one JSON object"),
            (br#"{"A":1"#, "not one JSON object"),
        ] {
            let err = top_keys(bad).unwrap_err();
            assert!(err.contains(why), "{}: {err}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(top_keys(deep.as_bytes()).is_err());
    }

    #[test]
    fn repeated_keys_are_named_with_their_place() {
        let text =
            "{\n  \"Resources\": {\n    \"Net\": {},\n    \"Net\": {\"A\": [{\"B\": 1}]}\n  }\n}";
        let err = unique_keys(text).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("key \"Net\" appears twice in Resources"),
            "{err}"
        );
        assert_eq!(err.line(), 4);
        let err = unique_keys(r#"{"A": [{"B": 1}, {"B": 2, "B": 3}]}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("key \"B\" appears twice in A[1]"),
            "{err}"
        );
        assert!(unique_keys(r#"{"A": 1, "B": {"A": 2}}"#).is_ok());
        assert!(checked(r#"{"A": 1, "B": {"A": 2}}"#).is_ok());
        let err = checked(r#"{"A": {"B": 2, "B": 3}}"#).unwrap_err();
        assert!(err.is_data(), "{err}");
        for (text, message) in [
            ("{not json", "key must be a string at line 1 column 2"),
            (
                r#"{"A": "\udc00"}"#,
                "lone leading surrogate in hex escape at line 1 column 13",
            ),
            (r#"{"A": 1e400}"#, "number out of range at line 1 column 11"),
            (r#"{"A": 1} x"#, "trailing characters at line 1 column 10"),
        ] {
            let err = checked(text).unwrap_err();
            assert!(!err.is_data(), "{text}: {err}");
            assert_eq!(err.to_string(), message, "{text}");
        }
        assert!(
            unique_keys("{not json").is_ok(),
            "syntax is the caller's to report"
        );
    }
}
