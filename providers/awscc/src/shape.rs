//! What a read shows of an object, in the shape rkit compares with the spec: the properties
//! Cloud Control's `GetResource` returns, projected onto those rkit knows (the spec's, as
//! recorded), so that what the service fills in by itself is not drift.
//!
//! Invariants: a property (at any depth) the known properties do not set is left out of the
//! projection, whatever the service reports there (a default, a computed field); one they set
//! and the service does not report is left out too, so it shows as unset (real drift); a
//! write-only property (which no read returns) is shown as known at any depth, its parents
//! made where the read has none, so it is compared with what was recorded, never with what is
//! read; an array whose schema says `insertionOrder: false` that holds the same elements as the
//! known one in another order (each known element matched by a distinct read one, write-only
//! members aside: a bipartite matching, for arrays of up to [`MATCHED`] elements) is shown in
//! the known order, while any other array keeps the service's order; a string at a path the
//! schema says the service rewrites (`propertyTransform`) is shown as known when the read one
//! is the same text in another case, or the same text after a `/` or `:` (an ID read back as an
//! ARN), or the reverse; nothing is invented: every other value in the projection is the
//! service's.

use crate::schema::{TypeSpec, resolved};
use serde_json::{Map, Value};

/// The longest unordered array matched element by element (the matching takes n² projections).
pub const MATCHED: usize = 256;

/// The observed properties projected onto `known` (see the module's invariants).
pub fn as_known(observed: &Value, known: &Value, spec: &TypeSpec) -> Value {
    let root = &spec.properties_schema;
    Shape { root, spec }.project(observed, known, Some(root), "")
}

/// What a projection reads of the type.
struct Shape<'a> {
    root: &'a Value,
    spec: &'a TypeSpec,
}

impl Shape<'_> {
    /// `observed` projected onto `known` at rkit path `path`, `schema` describing both.
    fn project(
        &self,
        observed: &Value,
        known: &Value,
        schema: Option<&Value>,
        path: &str,
    ) -> Value {
        if self.spec.write_only.iter().any(|p| p == path) {
            return known.clone();
        }
        let schema = schema.map(|s| resolved(s, self.root));
        match (observed, known) {
            (Value::Object(observed), Value::Object(known)) => {
                self.objects(observed, known, schema, path)
            }
            (Value::Array(observed), Value::Array(known)) => {
                let items = schema.and_then(|s| s.get("items"));
                let unordered = schema.is_some_and(|s| s["insertionOrder"] == Value::Bool(false));
                self.arrays(observed, known, items, unordered, &format!("{path}[*]"))
            }
            (Value::String(o), Value::String(k))
                if self.spec.transformed.iter().any(|p| p == path) && rewritten(o, k) =>
            {
                known.clone()
            }
            _ => observed.clone(),
        }
    }

    /// An observed object projected onto a known one, key by key.
    fn objects(
        &self,
        observed: &Map<String, Value>,
        known: &Map<String, Value>,
        schema: Option<&Value>,
        path: &str,
    ) -> Value {
        let mut out = Map::new();
        for (key, k) in known {
            let child = schema.and_then(|s| child_schema(s, key, self.root, 8));
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let shown = match observed.get(key) {
                Some(o) => Some(self.project(o, k, child, &at)),
                None => self.unread(k, child, &at),
            };
            if let Some(shown) = shown {
                out.insert(key.clone(), shown);
            }
        }
        Value::Object(out)
    }

    /// What the read shows of a known value it does not report at all: the write-only parts
    /// (the value whole if it is write-only; else its write-only members, parents made).
    fn unread(&self, known: &Value, schema: Option<&Value>, path: &str) -> Option<Value> {
        let write_only = &self.spec.write_only;
        if write_only.iter().any(|p| p == path) {
            return Some(known.clone());
        }
        let below = |p: &String| {
            p.strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        };
        if !write_only.iter().any(below) {
            return None;
        }
        let empty = match known {
            Value::Object(_) => Value::Object(Map::new()),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Value::Array(_) => Value::Array(vec![]),
                        _ => Value::Object(Map::new()),
                    })
                    .collect(),
            ),
            _ => return None,
        };
        Some(self.project(&empty, known, schema, path))
    }

    /// An observed array projected onto a known one: element by element when they line up;
    /// in the known order when the array is unordered and holds the same elements.
    fn arrays(
        &self,
        observed: &[Value],
        known: &[Value],
        items: Option<&Value>,
        unordered: bool,
        path: &str,
    ) -> Value {
        if observed.len() != known.len() {
            return Value::Array(observed.to_vec());
        }
        let project = |o: &Value, k: &Value| self.project(o, k, items, path);
        let in_order: Vec<Value> = observed
            .iter()
            .zip(known)
            .map(|(o, k)| project(o, k))
            .collect();
        if !unordered || in_order == known || known.len() > MATCHED {
            return Value::Array(in_order);
        }
        let fits = |k: usize, o: usize| project(&observed[o], &known[k]) == known[k];
        match matching(known.len(), fits) {
            Some(_) => Value::Array(known.to_vec()),
            None => Value::Array(in_order),
        }
    }
}

/// A perfect matching of `n` known elements to `n` observed ones, `fits(k, o)` saying which
/// pairs may match (Kuhn's augmenting paths): for each known element, the observed one it is
/// matched with; `None` when there is none.
fn matching(n: usize, fits: impl Fn(usize, usize) -> bool) -> Option<Vec<usize>> {
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|k| (0..n).filter(|&o| fits(k, o)).collect())
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; n];
    for k in 0..n {
        let mut seen = vec![false; n];
        if !augment(k, &edges, &mut owner, &mut seen) {
            return None;
        }
    }
    let mut of_known = vec![0; n];
    for (o, k) in owner.iter().enumerate() {
        of_known[k.expect("a perfect matching owns every observed element")] = o;
    }
    Some(of_known)
}

/// Finds known element `k` an observed one, moving earlier matches along if it must.
fn augment(k: usize, edges: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &o in &edges[k] {
        if seen[o] {
            continue;
        }
        seen[o] = true;
        if owner[o].is_none_or(|other| augment(other, edges, owner, seen)) {
            owner[o] = Some(k);
            return true;
        }
    }
    false
}

/// Whether `observed` is `known` as the service rewrites it: in another case, or with a prefix
/// ending in `/` or `:` (or `known` is `observed` so).
fn rewritten(observed: &str, known: &str) -> bool {
    let suffix = |long: &str, short: &str| {
        long.len() > short.len()
            && long.ends_with(short)
            && long[..long.len() - short.len()].ends_with(['/', ':'])
    };
    observed.eq_ignore_ascii_case(known) || suffix(observed, known) || suffix(known, observed)
}

/// The schema of `key` inside an object schema: its property, a matching pattern, its
/// additional properties, or the same found in one of its `allOf`/`anyOf`/`oneOf` branches
/// (`depth` bounds the search through them).
fn child_schema<'a>(schema: &'a Value, key: &str, root: &'a Value, depth: u8) -> Option<&'a Value> {
    if let Some(s) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(s);
    }
    if let Some(p) = schema.get("patternProperties").and_then(Value::as_object)
        && p.len() == 1
    {
        return p.values().next();
    }
    if let Some(s) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        return Some(s);
    }
    if depth == 0 {
        return None;
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .find_map(|branch| child_schema(resolved(branch, root), key, root, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A type whose schema has an unordered list, an ordered one, a nested object and a
    /// write-only password.
    fn spec() -> TypeSpec {
        TypeSpec {
            name: "AWS::Test::Thing".into(),
            updatable: true,
            listable: true,
            properties_schema: json!({
                "type": "object",
                "properties": {
                    "Rules": {"type": "array", "insertionOrder": false, "items": {"$ref": "#/$defs/Rule"}},
                    "Order": {"type": "array", "items": {"type": "string"}},
                    "Config": {"type": "object", "properties": {"Size": {"type": "integer"}}},
                    "Password": {"type": "string"},
                    "Db": {"type": "object", "properties": {"Secret": {"type": "string"}}},
                    "Code": {"type": "object", "properties": {"ZipFile": {"type": "string"}}},
                    "Keys": {"type": "array", "items": {"type": "object"}},
                    "Name": {"type": "string"},
                    "Either": {"oneOf": [{"$ref": "#/$defs/Rule"}]},
                },
                "$defs": {"Rule": {"type": "object", "properties": {
                    "Port": {"type": "integer"},
                    "Secret": {"type": "string"},
                    "Ids": {"type": "array", "insertionOrder": false},
                }}},
            }),
            attributes_schema: json!({}),
            force_new: vec![],
            conditional_force_new: vec![],
            transformed: vec!["Name".into()],
            write_only: vec![
                "Password".into(),
                "Db.Secret".into(),
                "Code.ZipFile".into(),
                "Rules[*].Secret".into(),
                "Keys[*].Material".into(),
            ],
            read_only: vec![],
            identifier: vec!["Id".into()],
            tagging: None,
            create_before_destroy: false,
        }
    }

    #[test]
    fn defaults_the_service_fills_in_are_not_drift() {
        let known = json!({"Config": {"Size": 2}, "Rules": [{"Port": 22}]});
        let observed = json!({
            "Config": {"Size": 2, "Mode": "default"},
            "Rules": [{"Port": 22, "Protocol": "tcp"}],
            "Arn": "arn:aws:x",
            "Extra": 1,
        });
        assert_eq!(as_known(&observed, &known, &spec()), known);
    }

    #[test]
    fn unordered_lists_compare_as_sets_and_ordered_ones_do_not() {
        let known = json!({"Rules": [{"Port": 22}, {"Port": 80}], "Order": ["a", "b"]});
        let observed = json!({
            "Rules": [{"Port": 80, "Cidr": "0.0.0.0/0"}, {"Port": 22, "Cidr": "0.0.0.0/0"}],
            "Order": ["b", "a"],
        });
        let shown = as_known(&observed, &known, &spec());
        assert_eq!(shown["Rules"], known["Rules"]);
        assert_eq!(shown["Order"], json!(["b", "a"]));
        let changed = json!({"Rules": [{"Port": 443}, {"Port": 22}]});
        assert_eq!(
            as_known(&changed, &known, &spec())["Rules"],
            json!([{"Port": 443}, {"Port": 22}])
        );
    }

    #[test]
    fn what_the_service_lost_shows_as_unset_and_write_only_as_known() {
        let known = json!({"Config": {"Size": 2}, "Password": "p", "Db": {"Secret": "s"}});
        let observed = json!({"Db": {}});
        assert_eq!(
            as_known(&observed, &known, &spec()),
            json!({"Password": "p", "Db": {"Secret": "s"}})
        );
    }

    #[test]
    fn write_only_members_are_known_whatever_the_read_lacks() {
        let known = json!({
            "Code": {"ZipFile": "zip"},
            "Keys": [{"Material": "k1"}, {"Material": "k2"}],
            "Rules": [{"Port": 22, "Secret": "a"}, {"Port": 80, "Secret": "b"}],
        });
        // The read has no Code, no Keys and rules without secrets, in another order.
        let observed = json!({"Rules": [{"Port": 80}, {"Port": 22}]});
        assert_eq!(as_known(&observed, &known, &spec()), known);
        // A rule the read lacks is drift, secrets or not.
        let changed = json!({"Rules": [{"Port": 80}, {"Port": 443}], "Code": {}});
        let shown = as_known(&changed, &known, &spec());
        assert_ne!(shown["Rules"], known["Rules"]);
        assert_eq!(shown["Code"], known["Code"]);
    }

    #[test]
    fn unordered_matching_finds_a_perfect_match_where_greedy_would_not() {
        // Each element of `known` fits observed elements by projection: known[0] ({Port: 1})
        // fits both observed elements, known[1] only the first. Greedy takes the first for
        // known[0] and fails; a matching gives known[0] the second.
        let known = json!({"Rules": [{"Port": 1}, {"Port": 1, "Ids": ["x"]}]});
        let observed = json!({"Rules": [{"Port": 1, "Ids": ["x"]}, {"Port": 1}]});
        assert_eq!(as_known(&observed, &known, &spec()), known);
        assert_eq!(matching(2, |k, o| k == 0 || o == 0), Some(vec![1, 0]));
        assert_eq!(matching(2, |_, o| o == 0), None);
    }

    #[test]
    fn a_rewritten_name_is_not_drift_and_branches_are_searched() {
        let known = json!({"Name": "MyDb", "Either": {"Port": 1}});
        for same in ["mydb", "arn:aws:rds:us-east-1:1:db:MyDb", "x/MyDb"] {
            let observed = json!({"Name": same, "Either": {"Port": 1, "Extra": 2}});
            assert_eq!(as_known(&observed, &known, &spec()), known, "{same}");
        }
        let renamed = json!({"Name": "OtherDb"});
        assert_eq!(as_known(&renamed, &known, &spec())["Name"], "OtherDb");
        assert!(!rewritten("xMyDb", "MyDb"));
    }
}
