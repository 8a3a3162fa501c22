//! Reading a JSON request body as a service would, strictly: one object, no key repeated at
//! any depth (parsers differ on which of two keys wins, so a repeated key could be read one
//! way here and another way there), nesting bounded.
//!
//! Invariants: the whole body is parsed; anything but one object (trailing text, another
//! type, a repeated key, more than 128 levels) is refused with the reason.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

const MAX_DEPTH: usize = 128;

/// The top-level keys of the JSON object `body`.
pub fn top_keys(body: &[u8]) -> Result<Vec<String>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let keys = Checked {
        depth: 0,
        top: true,
    }
    .deserialize(&mut de)
    .map_err(|e| format!("is not one JSON object without repeated keys: {e}"))?;
    de.end()
        .map_err(|e| format!("has text after its JSON object: {e}"))?;
    keys.ok_or_else(|| "is not a JSON object".to_string())
}

/// A value checked for repeated keys; at the top, the object's keys (`None`: not an object).
struct Checked {
    depth: usize,
    top: bool,
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
        let inner = || Checked {
            depth: self.depth + 1,
            top: false,
        };
        while seq.next_element_seed(inner())?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("key {key:?} is repeated")));
            }
            map.next_value_seed(Checked {
                depth: self.depth + 1,
                top: false,
            })?;
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
            (&br#"{"TypeName":"a","TypeName":"b"}"#[..], "repeated"),
            (br#"{"A":{"B":1,"B":2}}"#, "repeated"),
            (br#"{"A":[{"B":1,"B":2}]}"#, "repeated"),
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
}
