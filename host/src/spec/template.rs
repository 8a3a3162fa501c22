//! Templates the spec fills in as it loads (parameters, a group member's index and logical
//! ID), as opposed to references to other resources, which wait for their values. A string
//! that is exactly one template takes the value with its JSON type; templates inside a longer
//! string are spliced in as text; a template the caller does not handle (a reference) is left
//! as it is.

use serde_json::Value;

/// Whether a string of `value` holds a template mentioning `needle` (`.Groups.`): a scan that
/// builds nothing, to leave alone what a substitution would only copy.
pub fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains("{{") && s.contains(needle),
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

/// `value` with every `{{EXPR}}` that `fill` handles (`Some`) replaced by what it gives.
pub fn substitute(
    value: &Value,
    fill: &mut dyn FnMut(&str) -> Option<Result<Value, String>>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.contains("{{") => {
            // Exactly one template: its value with its type.
            if let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
                && !inner.contains("}}")
                && !inner.contains("{{")
                && let Some(filled) = fill(inner)
            {
                return filled;
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}").map(|e| start + e) else {
                    break;
                };
                out.push_str(&rest[..start]);
                match fill(&rest[start + 2..end]) {
                    Some(filled) => match filled? {
                        Value::String(text) => out.push_str(&text),
                        other => out.push_str(&other.to_string()),
                    },
                    None => out.push_str(&rest[start..end + 2]),
                }
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, fill))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, fill)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_what_it_handles_and_leaves_the_rest() {
        let mut fill = |expr: &str| match expr.trim() {
            ".N" => Some(Ok(json!(3))),
            ".S" => Some(Ok(json!("x"))),
            ".Bad" => Some(Err("bad".to_string())),
            _ => None,
        };
        let got = substitute(
            &json!({"A": "{{.N}}", "B": ["{{ .S }}-{{.N}}"], "C": "{{.Resources.R.ID}}/{{.N}}"}),
            &mut fill,
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"A": 3, "B": ["x-3"], "C": "{{.Resources.R.ID}}/3"})
        );
        assert_eq!(
            substitute(&json!("a{{.Bad}}"), &mut fill),
            Err("bad".into())
        );
    }
}
