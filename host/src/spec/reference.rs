//! References between resources: `{{.Resources.Name.ID}}` and
//! `{{.Resources.Name.Attributes.Path.To.Value}}` inside property strings. A reference is also
//! a dependency. A string that is exactly one reference takes the referenced value with its
//! JSON type; references inside a longer string are spliced in as text.

use crate::interned::Name;
use serde_json::Value;
use std::fmt;

/// What a placeholder of a not yet known value looks like (in plans, and to validation).
pub const UNKNOWN: &str = "(known after apply)";

/// What of a resource a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The provider-assigned ID.
    Id,
    /// A computed attribute, by path.
    Attribute(Box<[String]>),
}

/// One reference to another resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub resource: Box<str>,
    pub target: Target,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{.Resources.{}.", self.resource)?;
        match &self.target {
            Target::Id => write!(f, "ID}}}}"),
            Target::Attribute(path) => write!(f, "Attributes.{}}}}}", path.join(".")),
        }
    }
}

/// A piece of a templated string.
#[derive(Debug, Clone, PartialEq)]
enum Part<'a> {
    Text(&'a str),
    Ref(Reference),
}

/// Splits `s` into text and references; an expression that is not a reference is an error.
fn parts(s: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed template in {s:?}: missing `}}}}`"))?;
        parts.push(Part::Ref(parse_expr(after[..end].trim())?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

fn parse_expr(expr: &str) -> Result<Reference, String> {
    let bad = || {
        format!(
            "unsupported template {{{{{expr}}}}}: expected {{{{.Resources.NAME.ID}}}} or \
             {{{{.Resources.NAME.Attributes.ATTR}}}}"
        )
    };
    let fields: Vec<&str> = expr.strip_prefix('.').ok_or_else(bad)?.split('.').collect();
    match fields.as_slice() {
        ["Resources", name, "ID"] if !name.is_empty() => Ok(Reference {
            resource: (*name).into(),
            target: Target::Id,
        }),
        ["Resources", name, "Attributes", path @ ..]
            if !name.is_empty() && !path.is_empty() && path.iter().all(|p| !p.is_empty()) =>
        {
            Ok(Reference {
                resource: (*name).into(),
                target: Target::Attribute(path.iter().map(|p| p.to_string()).collect()),
            })
        }
        _ => Err(bad()),
    }
}

/// Every reference in `value`, with the property path where it stands.
pub fn references(value: &Value) -> Result<Vec<(String, Reference)>, (String, String)> {
    let mut found = Vec::new();
    walk(value, String::new(), &mut |path, s| {
        for part in parts(s).map_err(|e| (path.to_string(), e))? {
            if let Part::Ref(r) = part {
                found.push((path.to_string(), r));
            }
        }
        Ok::<(), (String, String)>(())
    })?;
    Ok(found)
}

/// `found` as a resource holds them: one allocation, each path shared.
pub fn held(found: Vec<(String, Reference)>) -> Box<[(Name, Reference)]> {
    found
        .into_iter()
        .map(|(path, r)| (Name::new(&path), r))
        .collect()
}

fn walk<E>(
    value: &Value,
    path: String,
    f: &mut impl FnMut(&str, &str) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Value::String(s) => f(&path, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| walk(v, format!("{path}[{i}]"), f)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            walk(v, p, f)
        }),
        _ => Ok(()),
    }
}

/// `value` with every reference replaced by what `lookup` returns; `None` (not known yet)
/// becomes [`UNKNOWN`]. References must already have been checked with [`references`].
pub fn resolve(value: &Value, lookup: &impl Fn(&Reference) -> Option<Value>) -> Value {
    match value {
        Value::String(s) if s.contains("{{") => {
            let parts = parts(s).expect("references are checked when the spec is loaded");
            if let [Part::Ref(r)] = parts.as_slice() {
                return lookup(r).unwrap_or_else(|| Value::String(UNKNOWN.into()));
            }
            let mut out = String::new();
            for part in parts {
                match part {
                    Part::Text(t) => out.push_str(t),
                    Part::Ref(r) => match lookup(&r) {
                        Some(Value::String(v)) => out.push_str(&v),
                        Some(v) => out.push_str(&v.to_string()),
                        None => return Value::String(UNKNOWN.into()),
                    },
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, lookup)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The value at attribute `path` inside `value`.
pub fn at_path<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Whether `value` holds a value not known yet.
pub fn has_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(has_unknown),
        Value::Object(map) => map.values().any(has_unknown),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(name: &str) -> Reference {
        Reference {
            resource: (*name).into(),
            target: Target::Id,
        }
    }

    #[test]
    fn finds_references_with_their_paths() {
        let props = json!({
            "VpcId": "{{.Resources.MyVpc.ID}}",
            "Rules": [{"Note": "in {{ .Resources.Sg.Attributes.Group.Name }}!"}],
            "Plain": "no refs",
        });
        let found = references(&props).unwrap();
        assert_eq!(
            found,
            [
                ("VpcId".to_string(), id("MyVpc")),
                (
                    "Rules[0].Note".to_string(),
                    Reference {
                        resource: "Sg".into(),
                        target: Target::Attribute(Box::new(["Group".into(), "Name".into()])),
                    }
                ),
            ]
        );
    }

    #[test]
    fn rejects_other_expressions_naming_the_field() {
        for bad in [
            "{{.Resources.X}}",
            "{{.Values.X.ID}}",
            "{{.Resources.X.ID",
            "{{.Resources..ID}}",
        ] {
            let (field, message) = references(&json!({"F": bad})).unwrap_err();
            assert_eq!(field, "F");
            assert!(message.contains("template"), "{message}");
        }
    }

    #[test]
    fn whole_references_keep_their_type_and_embedded_ones_become_text() {
        let lookup = |r: &Reference| match &*r.resource {
            "N" => Some(json!(42)),
            "S" => Some(json!("abc")),
            _ => None,
        };
        let props = json!({"A": "{{.Resources.N.ID}}", "B": "x-{{.Resources.S.ID}}-{{.Resources.N.ID}}", "C": "{{.Resources.Later.ID}}"});
        let resolved = resolve(&props, &lookup);
        assert_eq!(resolved, json!({"A": 42, "B": "x-abc-42", "C": UNKNOWN}));
        assert!(has_unknown(&resolved));
        assert_eq!(id("X").to_string(), "{{.Resources.X.ID}}");
    }
}
