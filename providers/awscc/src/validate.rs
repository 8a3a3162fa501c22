//! Checks a resource's properties against its type's schema before any call, each finding
//! named by field: a property the type does not take, one it only reports, one it requires,
//! a value of the wrong JSON type, outside its enumeration, its length, range or item count,
//! or not matching its pattern; at the top level and inside the objects and arrays the schema
//! describes. Combinators (`oneOf`, `anyOf`, `allOf`, `not`) and formats are left to the
//! service, whose answer names the field too.
//!
//! Invariants: a finding names the property path (`Tags[0].Key`); a value rkit will fill in
//! (a reference, `(known after apply)`) is never judged; nothing here calls the service, and a
//! schema keyword not read here is left to the service (whose answer names the field too).

use crate::schema::{TypeSpec, resolved};
use rkit_sdk::Diagnostic;
use serde_json::Value;

/// The text the engine puts where a reference's value is not known yet.
const UNKNOWN: &str = "(known after apply)";

/// Every finding on `properties` of type `spec`.
pub fn validate(spec: &TypeSpec, properties: &Value) -> Vec<Diagnostic> {
    let Some(map) = properties.as_object() else {
        return vec![Diagnostic::error(
            "",
            "the properties must be a JSON object",
        )];
    };
    let root = &spec.properties_schema;
    let mut found = Vec::new();
    for (key, _) in map {
        if spec.attributes_schema["properties"].get(key).is_some() {
            found.push(Diagnostic::error(
                key.clone(),
                format!(
                    "{key} is read-only in {}: read it as an attribute ({{{{.Resources.NAME.Attributes.{key}}}}})",
                    spec.name
                ),
            ));
        }
    }
    let attribute = |k: &str| spec.attributes_schema["properties"].get(k).is_some();
    let mut checker = Checker {
        root,
        found: &mut found,
    };
    let filtered: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !attribute(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    checker.check(&Value::Object(filtered), root, "", 0);
    found
}

/// Walks a value and its schema.
struct Checker<'a> {
    root: &'a Value,
    found: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn check(&mut self, value: &Value, schema: &Value, path: &str, depth: u32) {
        if depth > 32 || is_unknown(value) {
            return;
        }
        let schema = resolved(schema, self.root);
        if let Some(types) = schema.get("type")
            && !matches_type(value, types)
        {
            self.error(
                path,
                format!("must be {}, not {}", describe(types), kind(value)),
            );
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
            && !case_insensitive_match(schema, allowed, value)
        {
            let listed: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.error(path, format!("must be one of {}", listed.join(", ")));
        }
        if let Some(problem) = bounds(schema, value) {
            self.error(path, problem);
        }
        match value {
            Value::Object(map) => self.object(map, schema, path, depth),
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(v, item, &format!("{path}[{i}]"), depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    fn object(
        &mut self,
        map: &serde_json::Map<String, Value>,
        schema: &Value,
        path: &str,
        depth: u32,
    ) {
        let at = |key: &str| match path.is_empty() {
            true => key.to_string(),
            false => format!("{path}.{key}"),
        };
        for name in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(name) {
                self.error(&at(name), "is required".to_string());
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        let closed = schema["additionalProperties"] == Value::Bool(false)
            && schema.get("patternProperties").is_none();
        for (key, v) in map {
            match props.and_then(|p| p.get(key)) {
                Some(child) => self.check(v, child, &at(key), depth + 1),
                None if closed => {
                    let known: Vec<&String> = props.map(|p| p.keys().collect()).unwrap_or_default();
                    let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                    self.error(
                        &at(key),
                        format!(
                            "is not a property this takes (it takes: {})",
                            names.join(", ")
                        ),
                    );
                }
                None => {}
            }
        }
    }

    fn error(&mut self, path: &str, message: String) {
        let subject = if path.is_empty() {
            "the properties".to_string()
        } else {
            path.to_string()
        };
        self.found.push(Diagnostic::error(
            path.to_string(),
            format!("{subject} {message}"),
        ));
    }
}

/// What is wrong with `value` against the schema's bounds: lengths, ranges, item counts and
/// `pattern` (ECMA-262 as the schemas write it; one the `regex-lite` syntax cannot read is
/// left to the service).
fn bounds(schema: &Value, value: &Value) -> Option<String> {
    let at = |k: &str| schema.get(k).and_then(Value::as_f64);
    match value {
        Value::String(text) => {
            let chars = text.chars().count() as f64;
            if let Some(min) = at("minLength").filter(|m| chars < *m) {
                return Some(format!("must be at least {min} characters long"));
            }
            if let Some(max) = at("maxLength").filter(|m| chars > *m) {
                return Some(format!("must be at most {max} characters long"));
            }
            let pattern = schema.get("pattern").and_then(Value::as_str)?;
            let re = regex_lite::Regex::new(pattern).ok()?;
            (!re.is_match(text)).then(|| format!("must match the pattern {pattern}"))
        }
        Value::Number(n) => {
            let n = n.as_f64()?;
            if let Some(min) = at("minimum").filter(|m| n < *m) {
                return Some(format!("must be at least {min}"));
            }
            at("maximum")
                .filter(|m| n > *m)
                .map(|max| format!("must be at most {max}"))
        }
        Value::Array(items) => {
            let count = items.len() as f64;
            if let Some(min) = at("minItems").filter(|m| count < *m) {
                return Some(format!("must have at least {min} items"));
            }
            at("maxItems")
                .filter(|m| count > *m)
                .map(|max| format!("must have at most {max} items"))
        }
        _ => None,
    }
}

/// Whether `value` is (or holds only) a value rkit fills in at apply.
fn is_unknown(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.contains(UNKNOWN) || s.contains("{{"))
}

/// Whether `value` is of (one of) JSON Schema `types`; an integer is a number too.
fn matches_type(value: &Value, types: &Value) -> bool {
    let one = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "null" => value.is_null(),
        _ => true,
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn describe(types: &Value) -> String {
    match types {
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.as_str().unwrap_or("?").to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Null => "null",
    }
}

/// CloudFormation's `enumCaseInsensitive`.
fn case_insensitive_match(schema: &Value, allowed: &[Value], value: &Value) -> bool {
    schema["enumCaseInsensitive"] == Value::Bool(true)
        && value.as_str().is_some_and(|v| {
            allowed
                .iter()
                .filter_map(Value::as_str)
                .any(|a| a.eq_ignore_ascii_case(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;
    use serde_json::json;

    fn findings(type_name: &str, properties: Value) -> Vec<(String, String)> {
        let catalog = Catalog::builtin().unwrap();
        let spec = catalog.get(type_name).unwrap().unwrap();
        validate(&spec, &properties)
            .into_iter()
            .map(|d| (d.field, d.message))
            .collect()
    }

    #[test]
    fn findings_name_the_field() {
        assert!(
            findings(
                "AWS::SQS::Queue",
                json!({"QueueName": "q", "VisibilityTimeout": 30})
            )
            .is_empty()
        );
        assert_eq!(
            findings("AWS::SQS::Queue", json!({"VisibilityTimeout": "thirty"})),
            [(
                "VisibilityTimeout".to_string(),
                "VisibilityTimeout must be integer, not a string".to_string()
            )]
        );
        let wrong = findings("AWS::SQS::Queue", json!({"Arn": "x", "Colour": 1}));
        assert_eq!(wrong[0].0, "Arn");
        assert!(
            wrong[0]
                .1
                .starts_with("Arn is read-only in AWS::SQS::Queue: read it as an attribute"),
            "{wrong:?}"
        );
        assert_eq!(wrong[1].0, "Colour");
        assert!(
            wrong[1]
                .1
                .starts_with("Colour is not a property this takes (it takes: "),
            "{wrong:?}"
        );
        let role = findings("AWS::IAM::Role", json!({"Tags": [{"Value": "v"}]}));
        let fields: Vec<&str> = role.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["AssumeRolePolicyDocument", "Tags[0].Key"],
            "{role:?}"
        );
        let bounded = findings(
            "AWS::SQS::Queue",
            json!({"VisibilityTimeout": 50000, "QueueName": "x".repeat(81)}),
        );
        let messages: Vec<&str> = bounded.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            messages.contains(&"VisibilityTimeout must be at most 43200"),
            "{bounded:?}"
        );
        // What rkit fills in at apply is not judged.
        assert!(
            findings(
                "AWS::SQS::Queue",
                json!({"VisibilityTimeout": "(known after apply)"})
            )
            .is_empty()
        );
    }
}
