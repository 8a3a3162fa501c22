//! What policies said about one input: findings, each with its package's enforcement level,
//! and which of them block. A finding blocks when it is a `deny` of a mandatory policy, or of
//! an overridable policy not overridden.

use serde::{Deserialize, Serialize};

/// How a policy's `deny` binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Shown, never blocks.
    Advisory,
    /// Blocks unless overridden with a reason (recorded).
    Overridable,
    /// Blocks.
    Mandatory,
}

impl Level {
    /// Its name as policies spell it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Advisory => "advisory",
            Level::Overridable => "overridable",
            Level::Mandatory => "mandatory",
        }
    }

    /// The level a policy's `enforcement` rule names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "advisory" => Some(Level::Advisory),
            "overridable" => Some(Level::Overridable),
            "mandatory" => Some(Level::Mandatory),
            _ => None,
        }
    }
}

/// Which rule produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deny,
    Warn,
}

/// One message of one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    /// The policy's package (`rkit.examples.no_public_ssh`).
    pub policy: String,
    pub level: Level,
    pub kind: Kind,
    pub message: String,
    /// The resource it is about, if the policy said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The property it is about, if the policy said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// An overridable deny that `--override` let through.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
}

impl Finding {
    /// Whether it stops the plan from being applied.
    pub fn blocks(&self) -> bool {
        self.kind == Kind::Deny && !self.overridden && self.level != Level::Advisory
    }

    /// One line for people (not yet escaped): `[mandatory] rkit.x: Web: message`.
    pub fn line(&self) -> String {
        let label = match (self.kind, self.overridden) {
            (Kind::Warn, _) => "warn".to_string(),
            (Kind::Deny, true) => format!("{}, overridden", self.level.name()),
            (Kind::Deny, false) => self.level.name().to_string(),
        };
        format!("[{label}] {}: {}", self.policy, self.message)
    }
}

/// A policy let through by `--override`, as the state's history records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Override {
    pub policy: String,
    pub reason: String,
    /// Who ran the command (`RKIT_WHO`, else the user and host).
    pub who: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What it let through.
    pub messages: Vec<String>,
    /// The state's serial when the apply began.
    #[serde(default)]
    pub serial: u64,
}

/// What policies said about one input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Verdict {
    /// Every finding, in package order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// The policies' digest (`sha256:…` of every file's name and text): a saved plan made
    /// under other policies is checked again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// How many packages were evaluated.
    #[serde(default)]
    pub policies: usize,
}

impl Verdict {
    /// The findings that stop the plan.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocks())
    }

    /// Whether nothing blocks.
    pub fn passed(&self) -> bool {
        self.blocking().next().is_none()
    }

    /// Marks the denies of the `overrides` policies as overridden; refuses to override a
    /// mandatory policy or one that is not loaded.
    pub fn apply_overrides(
        &mut self,
        overrides: &[String],
        known: &[String],
    ) -> Result<(), String> {
        for name in overrides {
            if !known.contains(name) {
                return Err(format!(
                    "--override {}: no policy of that package is loaded",
                    crate::text::escaped(name)
                ));
            }
        }
        for finding in &mut self.findings {
            if finding.kind == Kind::Deny && overrides.contains(&finding.policy) {
                if finding.level == Level::Mandatory {
                    return Err(format!(
                        "--override {}: the policy is mandatory: it cannot be overridden",
                        crate::text::escaped(&finding.policy)
                    ));
                }
                finding.overridden = true;
            }
        }
        Ok(())
    }

    /// The error that stops a run, naming each blocking finding.
    pub fn refusal(&self, what: &str) -> Option<String> {
        let blocking: Vec<_> = self.blocking().collect();
        if blocking.is_empty() {
            return None;
        }
        let mut text = format!(
            "{what} is refused by {} polic{}:",
            blocking.len(),
            if blocking.len() == 1 { "y" } else { "ies" }
        );
        for finding in &blocking {
            text.push_str("\n  ");
            text.push_str(&crate::text::escape(&finding.line()));
        }
        if blocking.iter().any(|f| f.level == Level::Overridable) {
            text.push_str("\nAn overridable policy is let through with --override PACKAGE --reason TEXT (recorded in the state).");
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(policy: &str, level: Level, kind: Kind) -> Finding {
        Finding {
            policy: policy.into(),
            level,
            kind,
            message: format!("{policy} says no"),
            resource: None,
            field: None,
            overridden: false,
        }
    }

    #[test]
    fn only_unoverridden_denies_of_binding_policies_block() {
        let mut verdict = Verdict {
            findings: vec![
                finding("a", Level::Advisory, Kind::Deny),
                finding("m", Level::Mandatory, Kind::Warn),
                finding("o", Level::Overridable, Kind::Deny),
            ],
            ..Verdict::default()
        };
        assert_eq!(verdict.blocking().count(), 1);
        assert_eq!(
            verdict.refusal("the plan").unwrap(),
            "the plan is refused by 1 policy:\n  [overridable] o: o says no\nAn overridable policy \
             is let through with --override PACKAGE --reason TEXT (recorded in the state)."
        );
        let known = vec!["a".to_string(), "m".into(), "o".into()];
        verdict.apply_overrides(&["o".into()], &known).unwrap();
        assert!(verdict.passed());
        assert_eq!(
            verdict.findings[2].line(),
            "[overridable, overridden] o: o says no"
        );
    }

    #[test]
    fn a_mandatory_or_unknown_policy_is_not_overridden() {
        let mut verdict = Verdict {
            findings: vec![finding("m", Level::Mandatory, Kind::Deny)],
            ..Verdict::default()
        };
        let known = vec!["m".to_string()];
        assert_eq!(
            verdict.apply_overrides(&["m".into()], &known).unwrap_err(),
            "--override m: the policy is mandatory: it cannot be overridden"
        );
        assert_eq!(
            verdict.apply_overrides(&["x".into()], &known).unwrap_err(),
            "--override x: no policy of that package is loaded"
        );
        assert!(!verdict.passed());
    }
}
