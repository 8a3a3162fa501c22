//! Evaluating policies on one input document: each package's `deny` and `warn` sets, decoded
//! into findings. A rule that fails is evaluated again on one resource change at a time, so
//! the error names the first resource it fails on.

use super::load::{Package, Policies};
use super::rego::{located, query};
use super::verdict::{Finding, Kind, Verdict};
use anyhow::{Result, anyhow};
use regorus::Engine;
use serde_json::Value;

/// The input document, as the engine builds it: `masked` for every policy, `revealed` (with
/// sensitive values) for the policies granted them.
pub struct Input {
    pub masked: Value,
    pub revealed: Option<Value>,
}

/// The longest message kept from a policy (in characters).
const MESSAGE_CHARS: usize = 2_000;

impl Policies {
    /// What every package says about `input`. Packages are evaluated on every core, each
    /// thread with its own copy of the engine sharing one converted input.
    pub fn evaluate(&self, input: &Input) -> Result<Verdict> {
        let mut findings = Vec::new();
        for sensitive in [false, true] {
            let engine = if sensitive {
                &self.revealed
            } else {
                &self.masked
            };
            let Some(engine) = engine else { continue };
            let doc = match (sensitive, &input.revealed) {
                (true, Some(revealed)) => revealed,
                _ => &input.masked,
            };
            let packages: Vec<&Package> = self
                .packages
                .iter()
                .filter(|p| p.sensitive == sensitive)
                .collect();
            findings.extend(evaluate_view(engine, &packages, doc)?);
        }
        Ok(Verdict {
            findings,
            digest: self.digest().to_string(),
            policies: self.packages.len(),
        })
    }
}

/// The findings of `packages` on `doc`, in package order, the packages shared out among the
/// cores.
fn evaluate_view(engine: &Engine, packages: &[&Package], doc: &Value) -> Result<Vec<Finding>> {
    // Through text: faster than converting a copy of the document value by value.
    let value = regorus::Value::from_json_str(&serde_json::to_string(doc)?)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = packages.len().div_ceil(cores.max(1)).max(1);
    let results: Vec<Result<Vec<Finding>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = packages
            .chunks(per)
            .map(|chunk| {
                let (mut engine, value) = (engine.clone(), value.clone());
                scope.spawn(move || {
                    engine.set_input(value);
                    let mut found = Vec::new();
                    for package in chunk {
                        found.extend(package_findings(&mut engine, package, doc)?);
                    }
                    Ok(found)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a policy evaluation panicked")))
            })
            .collect()
    });
    let mut findings = Vec::new();
    for result in results {
        findings.extend(result?);
    }
    Ok(findings)
}

/// What one package's `deny` and `warn` say.
fn package_findings(engine: &mut Engine, package: &Package, doc: &Value) -> Result<Vec<Finding>> {
    let mut found = Vec::new();
    for kind in [Kind::Deny, Kind::Warn] {
        let rule = rule_name(kind);
        let value = query(engine, &package.name, rule)
            .map_err(|e| explain(engine, &package.name, rule, doc, e))?;
        for item in items(value) {
            found.push(finding(item, &package.name, package.level, kind));
        }
    }
    Ok(found)
}

fn rule_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Deny => "deny",
        Kind::Warn => "warn",
    }
}

/// The members of a rule's set (or array), or the one value it has.
fn items(value: Option<Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(Value::Object(map)) if !map.contains_key("msg") && !map.contains_key("message") => {
            // A partial object rule (`deny[key] := msg`): its values.
            map.into_iter().map(|(_, v)| v).collect()
        }
        Some(other) => vec![other],
    }
}

/// A finding from one member: a message, or `{"msg"|"message", "resource", "field"}`.
fn finding(item: Value, package: &str, level: super::Level, kind: Kind) -> Finding {
    let text = |v: Option<&Value>| -> Option<String> {
        v.map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let (message, resource, field) = match &item {
        Value::String(s) => (s.clone(), None, None),
        Value::Object(map) => (
            text(map.get("msg").or_else(|| map.get("message"))).unwrap_or_else(|| item.to_string()),
            text(map.get("resource")),
            text(map.get("field")),
        ),
        other => (other.to_string(), None, None),
    };
    Finding {
        policy: package.to_string(),
        level,
        kind,
        message: message.chars().take(MESSAGE_CHARS).collect(),
        resource,
        field,
        overridden: false,
    }
}

/// The error of a failed rule, naming the first resource change it fails on.
fn explain(
    engine: &Engine,
    package: &str,
    rule: &str,
    doc: &Value,
    error: anyhow::Error,
) -> anyhow::Error {
    let changes = doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // Looking for the culprit one change at a time is bounded: never after a time limit
    // (each try could take as long), and at most 2 s in all.
    let searching = !error.to_string().contains("time limit");
    let started = std::time::Instant::now();
    let within = std::time::Duration::from_secs(2);
    let culprit = changes
        .iter()
        .take_while(|_| searching && started.elapsed() < within)
        .find(|change| {
            let mut one = doc.clone();
            one["resource_changes"] = Value::Array(vec![(*change).clone()]);
            let mut engine = engine.clone();
            engine.set_input(regorus::Value::from(one));
            query(&mut engine, package, rule).is_err()
        });
    let on = culprit
        .and_then(|c| c.get("name").and_then(Value::as_str))
        .map(|name| format!(" on resource {}", crate::text::escaped(name)))
        .unwrap_or_default();
    anyhow!(
        "policy {package}: rule {rule} failed{on}: {}",
        located(&error)
    )
}

#[cfg(test)]
mod tests {
    use super::super::load::{File, Policies};
    use super::*;
    use serde_json::json;

    fn policies(files: &[(&str, &str)]) -> Result<Policies> {
        Policies::new(
            files
                .iter()
                .map(|(name, text)| File {
                    name: name.to_string(),
                    text: text.to_string(),
                    sensitive: false,
                    origin: String::new(),
                })
                .collect(),
        )
    }

    const SSH: &str = r#"package team.ssh
enforcement := "overridable"
deny contains {"msg": sprintf("%s: port 22 is open to the world", [rc.name]), "resource": rc.name, "field": "Port"} if {
    some rc in input.resource_changes
    rc.change.after.Port == 22
}
warn contains "looked" if { count(input.resource_changes) > 0 }
"#;

    fn input(port: u16) -> Input {
        Input {
            masked: json!({"resource_changes": [{"name": "Web", "change": {"after": {"Port": port}}}]}),
            revealed: None,
        }
    }

    #[test]
    fn denies_and_warnings_are_found_with_their_resource_and_level() {
        let policies = policies(&[("ssh.rego", SSH)]).unwrap();
        assert_eq!(policies.names(), vec!["team.ssh".to_string()]);
        let verdict = policies.evaluate(&input(22)).unwrap();
        let lines: Vec<String> = verdict.findings.iter().map(Finding::line).collect();
        assert_eq!(
            lines,
            vec![
                "[overridable] team.ssh: Web: port 22 is open to the world",
                "[warn] team.ssh: looked"
            ]
        );
        assert_eq!(verdict.findings[0].resource.as_deref(), Some("Web"));
        assert_eq!(verdict.findings[0].field.as_deref(), Some("Port"));
        assert!(policies.evaluate(&input(443)).unwrap().passed());
    }

    #[test]
    fn a_policy_that_does_not_parse_names_its_file_line_and_column() {
        let error = policies(&[(
            "bad.rego",
            "package x\n\ndeny contains msg if {\n  msg := \n}\n",
        )])
        .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.starts_with("bad.rego: not a valid Rego policy: "),
            "{text}"
        );
        assert!(
            text.starts_with(
                "bad.rego: not a valid Rego policy: bad.rego:4:7: expecting `}` while parsing set\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_package_comes_from_one_source() {
        let file = |name: &str, text: &str, origin: &str| File {
            name: name.into(),
            text: text.into(),
            sensitive: false,
            origin: origin.into(),
        };
        let error = Policies::new(vec![
            file("team/ssh.rego", SSH, "team/"),
            file(
                "mine/ssh.rego",
                "package team.ssh\nenforcement := \"advisory\"\n",
                "mine/",
            ),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "policy team.ssh: declared by two sources (mine/ and team/): a package comes from one place"
        );
        let twice = Policies::new(vec![
            file("p/ssh.rego", SSH, "p/"),
            file("p/ssh.rego", SSH, "p/"),
        ])
        .unwrap();
        assert_eq!(twice.names(), vec!["team.ssh".to_string()]);
    }

    #[test]
    fn an_unknown_enforcement_level_is_refused() {
        let error = policies(&[("l.rego", "package l\nenforcement := \"strict\"\n")]).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "policy l: enforcement is \"strict\": it must be \"advisory\", \"overridable\" or \"mandatory\""
        );
    }

    #[test]
    fn a_rule_that_fails_names_the_rule_and_the_resource() {
        let text = r#"package boom
deny contains msg if {
    some rc in input.resource_changes
    x := 1 / rc.change.after.Count
    msg := sprintf("%s %v", [rc.name, x])
}
"#;
        let policies = policies(&[("boom.rego", text)]).unwrap();
        let doc = json!({"resource_changes": [
            {"name": "Fine", "change": {"after": {"Count": 1}}},
            {"name": "Zero", "change": {"after": {"Count": 0}}}
        ]});
        let error = policies
            .evaluate(&Input {
                masked: doc,
                revealed: None,
            })
            .map(|v| v.findings)
            .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.starts_with("policy boom: rule deny failed on resource Zero: "),
            "{text}"
        );
    }
}
