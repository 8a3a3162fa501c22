//! `rkit policy test`: the policies' own `test_` rules, run as `opa test` runs them. Every
//! `.rego` file of the directories (test files included) loads into one engine; each rule
//! whose name starts with `test_` passes when it is true.

use super::load::{File, parse};
use anyhow::Result;
use std::time::Instant;

/// The result of one test rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `data.PACKAGE.test_NAME`.
    pub rule: String,
    /// `None`: passed; else why not (`false`, undefined, or the error).
    pub failure: Option<String>,
    pub micros: u128,
}

/// Runs every `test_` rule of `files`.
pub fn run(files: &[File]) -> Result<Vec<Outcome>> {
    let all: Vec<&File> = files.iter().collect();
    let (mut engine, _) = parse(&all)?;
    let mut outcomes = Vec::new();
    for (package, rule) in test_rules(files) {
        engine.set_input(regorus::Value::new_object());
        let started = Instant::now();
        let failure = match super::rego::query(&mut engine, &package, &rule) {
            Ok(Some(serde_json::Value::Bool(true))) => None,
            Ok(Some(other)) => Some(format!("it is {other}, not true")),
            Ok(None) => Some("it is undefined (a condition did not hold)".to_string()),
            Err(error) => Some(super::rego::located(&error)),
        };
        outcomes.push(Outcome {
            rule: format!("data.{package}.{rule}"),
            failure,
            micros: started.elapsed().as_micros(),
        });
    }
    Ok(outcomes)
}

/// Each file's `test_` rules (rule heads at the start of a line), with their package.
fn test_rules(files: &[File]) -> Vec<(String, String)> {
    let mut rules = Vec::new();
    for file in files {
        let mut package = None;
        for line in file.text.lines() {
            if let Some(rest) = line.strip_prefix("package ") {
                package = Some(rest.trim().to_string());
            } else if line.starts_with("test_")
                && let Some(package) = &package
            {
                let name: String = line
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let pair = (package.clone(), name);
                if !rules.contains(&pair) {
                    rules.push(pair);
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rules_pass_fail_and_say_why() {
        let files = vec![
            File {
                name: "p.rego".into(),
                text: "package p\ndeny contains \"no\" if input.x == 1\n".into(),
                sensitive: false,
                origin: String::new(),
            },
            File {
                name: "p_test.rego".into(),
                text: "package p\ntest_denies if { count(deny) == 1 with input as {\"x\": 1} }\n\
                       test_wrong if { count(deny) == 1 with input as {\"x\": 2} }\n"
                    .into(),
                sensitive: false,
                origin: String::new(),
            },
        ];
        let outcomes = run(&files).unwrap();
        let shown: Vec<_> = outcomes
            .iter()
            .map(|o| (o.rule.as_str(), o.failure.as_deref()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("data.p.test_denies", None),
                (
                    "data.p.test_wrong",
                    Some("it is undefined (a condition did not hold)")
                )
            ]
        );
    }
}
