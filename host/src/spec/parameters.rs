//! Parameters: values a spec takes from whoever runs it (`"Parameters": {"Name": {"Type":
//! "String", "Default": …, "Description": …, "Sensitive": true}}`), referenced as
//! `{{.Parameters.Name}}` in properties, tags, outputs and provider configurations.
//!
//! Where a value comes from, the last winning: the `Default`, `RKIT_VAR_Name` in the
//! environment, each `--var-file FILE` (a JSON object) in order, each `--var Name=VALUE` in
//! order. A value is checked against the declared type (`String`, `Number`, `Boolean`, `List`,
//! `Object`); on the command line and in the environment a `String` is taken as written and
//! any other type is read as JSON. Parameters are substituted when the spec is loaded: a
//! string that is exactly one reference takes the value with its type; references inside a
//! longer string are spliced in as text. What a sensitive parameter flows into is recorded as
//! sensitive (see `engine::sensitive`).

use anyhow::{Result, anyhow, bail};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The environment variable prefix of parameter values.
pub const ENV_PREFIX: &str = "RKIT_VAR_";

/// A parameter's type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterType {
    #[default]
    String,
    Number,
    Boolean,
    List,
    Object,
}

impl ParameterType {
    fn accepts(self, value: &Value) -> bool {
        match self {
            ParameterType::String => value.is_string(),
            ParameterType::Number => value.is_number(),
            ParameterType::Boolean => value.is_boolean(),
            ParameterType::List => value.is_array(),
            ParameterType::Object => value.is_object(),
        }
    }

    /// A value written on the command line or in the environment.
    fn read(self, text: &str) -> Option<Value> {
        match self {
            ParameterType::String => Some(Value::String(text.to_string())),
            _ => serde_json::from_str(text).ok().filter(|v| self.accepts(v)),
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ParameterSpec {
    #[serde(rename = "Type", default)]
    pub type_name: ParameterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shown as `(sensitive)`, and so is everything it flows into.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// The values given for a run.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// `--var NAME=VALUE`, in order.
    pub vars: Vec<(String, String)>,
    /// `--var-file FILE`, in order.
    pub files: Vec<PathBuf>,
    /// `RKIT_VAR_*` variables, by parameter name.
    pub env: BTreeMap<String, String>,
    /// A parameter without a value becomes `null` instead of an error (for commands that
    /// only read the spec's shape, such as `graph`).
    pub lenient: bool,
}

impl Given {
    /// `vars` and `files` from the command line, and `RKIT_VAR_*` from the environment.
    pub fn from_env(vars: Vec<(String, String)>, files: Vec<PathBuf>) -> Self {
        // `vars_os`: a variable that is not UTF-8 (even one rkit never reads) must not stop
        // rkit; one of rkit's own that is not UTF-8 is given lossily, and its value then
        // fails its type's check like any other wrong value.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let name = k.to_str()?.strip_prefix(ENV_PREFIX)?.to_string();
                Some((name, v.to_string_lossy().into_owned()))
            })
            .collect();
        Self {
            vars,
            files,
            env,
            lenient: false,
        }
    }
}

/// Parses `NAME=VALUE`.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{text:?}: expected NAME=VALUE")),
    }
}

/// Each parameter's value, checked; `file` names the spec for errors. The passes, the last
/// value winning: the defaults, the environment, each `--var-file`, each `--var`; then every
/// parameter must have one.
pub fn values(
    file: &str,
    declared: &IndexMap<String, ParameterSpec>,
    given: &Given,
) -> Result<BTreeMap<String, Value>> {
    let mut found = Found {
        file,
        declared,
        values: defaults(file, declared)?,
    };
    for (name, text) in &given.env {
        if declared.contains_key(name) {
            found.set(name, Some(text), None, format!("{ENV_PREFIX}{name}"))?;
        }
    }
    for path in &given.files {
        found.read_file(path)?;
    }
    for (name, text) in &given.vars {
        found.set(name, Some(text), None, format!("--var {name}"))?;
    }
    found.complete(given.lenient)
}

/// Each parameter's `Default`, checked against its type, where it declares one.
fn defaults(
    file: &str,
    declared: &IndexMap<String, ParameterSpec>,
) -> Result<BTreeMap<String, (Value, String)>> {
    let mut values = BTreeMap::new();
    for (name, p) in declared {
        if let Some(default) = &p.default {
            if !p.type_name.accepts(default) {
                bail!(
                    "{file}: parameter {name}: field Default: {} is not a {:?}",
                    short(default),
                    p.type_name
                );
            }
            values.insert(name.clone(), (default.clone(), "its Default".into()));
        }
    }
    Ok(values)
}

/// The values found so far for the parameters `declared` by the spec `file`, each with where
/// it came from.
struct Found<'a> {
    file: &'a str,
    declared: &'a IndexMap<String, ParameterSpec>,
    values: BTreeMap<String, (Value, String)>,
}

impl Found<'_> {
    /// Sets parameter `name` from `from` (`text` as written, or a `json` value), checked
    /// against its declared type.
    fn set(
        &mut self,
        name: &str,
        text: Option<&str>,
        json: Option<&Value>,
        from: String,
    ) -> Result<()> {
        let file = self.file;
        let Some(p) = self.declared.get(name) else {
            bail!(
                "{from}: the spec {file} declares no parameter {name:?} (it declares: {})",
                self.names()
            );
        };
        let value = match (text, json) {
            (Some(text), _) => p.type_name.read(text),
            (None, Some(v)) => Some(v.clone()).filter(|v| p.type_name.accepts(v)),
            (None, None) => None,
        };
        let Some(value) = value else {
            let shown = if p.sensitive {
                "the value".to_string()
            } else {
                text.map_or_else(|| json.map(short).unwrap_or_default(), |t| format!("{t:?}"))
            };
            bail!(
                "{from}: parameter {name} is a {:?}; {shown} is not{}",
                p.type_name,
                if p.type_name == ParameterType::String {
                    ""
                } else {
                    " (give it as JSON)"
                }
            );
        };
        self.values.insert(name.to_string(), (value, from));
        Ok(())
    }

    /// The declared parameters' names, for an error (`none` if there are none).
    fn names(&self) -> String {
        let names: Vec<&str> = self.declared.keys().map(String::as_str).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }

    /// Sets the parameters the `--var-file` at `path` gives (a JSON object, read as specs are).
    fn read_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("--var-file {}: {e}", path.display()))?;
        // What specs accept: a byte-order mark, comments, trailing commas; no repeated key.
        let text = super::jsonc::relax(&text).text;
        crate::json_strict::unique_keys(&text)
            .map_err(|e| anyhow!("--var-file {}: {e}", path.display()))?;
        let object: serde_json::Map<String, Value> = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "--var-file {}: expected a JSON object of parameter values: {e}",
                path.display()
            )
        })?;
        for (name, value) in &object {
            self.set(
                name,
                None,
                Some(value),
                format!("--var-file {}", path.display()),
            )?;
        }
        Ok(())
    }

    /// Each declared parameter's value; one without a value is an error, or `null` if
    /// `lenient`.
    fn complete(mut self, lenient: bool) -> Result<BTreeMap<String, Value>> {
        let file = self.file;
        let mut out = BTreeMap::new();
        for name in self.declared.keys() {
            match self.values.remove(name) {
                Some((value, _)) => {
                    out.insert(name.clone(), value);
                }
                None if lenient => {
                    out.insert(name.clone(), Value::Null);
                }
                None => bail!(
                    "{file}: parameter {name} has no value: give it with --var {name}=VALUE, \
                     --var-file FILE or {ENV_PREFIX}{name}, or declare a Default"
                ),
            }
        }
        Ok(out)
    }
}

/// A value shown in an error, shortened.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// The parameter a template expression names (`.Parameters.NAME`), if it names one.
fn parameter_of(expr: &str) -> Option<&str> {
    expr.trim()
        .strip_prefix(".Parameters.")
        .filter(|n| !n.is_empty() && !n.contains(['.', ' ']))
}

/// `value` with every `{{.Parameters.NAME}}` replaced; the second item says whether a
/// parameter in `sensitive` was used. An unknown parameter is an error (its message).
pub fn substitute(
    value: &Value,
    values: &BTreeMap<String, Value>,
    sensitive: &BTreeSet<String>,
) -> Result<(Value, bool), String> {
    let mut touched = false;
    let out = substitute_in(value, values, sensitive, &mut touched)?;
    Ok((out, touched))
}

fn substitute_in(
    value: &Value,
    values: &BTreeMap<String, Value>,
    sensitive: &BTreeSet<String>,
    touched: &mut bool,
) -> Result<Value, String> {
    super::template::substitute(value, &mut |expr| {
        let name = parameter_of(expr)?;
        let Some(value) = values.get(name) else {
            let names: Vec<&str> = values.keys().map(String::as_str).collect();
            return Some(Err(format!(
                "{{{{.Parameters.{name}}}}} names no parameter of this spec (it declares: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        *touched |= sensitive.contains(name);
        Some(Ok(value.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared(text: Value) -> IndexMap<String, ParameterSpec> {
        serde_json::from_value(text).unwrap()
    }

    #[test]
    fn later_sources_win_and_types_are_checked() {
        let d = declared(json!({
            "Env": {"Default": "dev"},
            "Count": {"Type": "Number", "Default": 1},
            "Zones": {"Type": "List"},
        }));
        let given = Given {
            vars: vec![
                ("Count".into(), "3".into()),
                ("Zones".into(), r#"["a","b"]"#.into()),
            ],
            env: [("Env".to_string(), "prod".to_string())].into(),
            ..Given::default()
        };
        let v = values("s.json", &d, &given).unwrap();
        assert_eq!(v["Env"], json!("prod"));
        assert_eq!(v["Count"], json!(3));
        assert_eq!(v["Zones"], json!(["a", "b"]));

        let bad = Given {
            vars: vec![("Count".into(), "three".into())],
            ..Given::default()
        };
        assert_eq!(
            values("s.json", &d, &bad).unwrap_err().to_string(),
            "--var Count: parameter Count is a Number; \"three\" is not (give it as JSON)"
        );
        let missing = Given::default();
        assert_eq!(
            values("s.json", &d, &missing).unwrap_err().to_string(),
            "s.json: parameter Zones has no value: give it with --var Zones=VALUE, --var-file \
             FILE or RKIT_VAR_Zones, or declare a Default"
        );
        let unknown = Given {
            vars: vec![("Nope".into(), "x".into())],
            ..Given::default()
        };
        assert_eq!(
            values("s.json", &d, &unknown).unwrap_err().to_string(),
            "--var Nope: the spec s.json declares no parameter \"Nope\" (it declares: Env, Count, Zones)"
        );
    }

    #[test]
    fn var_files_read_as_specs_do_and_refuse_a_repeated_name() {
        let d = declared(json!({"Env": {}, "Count": {"Type": "Number"}}));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.json");
        let given = Given {
            files: vec![file.clone()],
            ..Given::default()
        };
        std::fs::write(
            &file,
            "\u{feff}{\n  // where\n  \"Env\": \"prod\",\n  \"Count\": 2,\n}\n",
        )
        .unwrap();
        let v = values("s.json", &d, &given).unwrap();
        assert_eq!((&v["Env"], &v["Count"]), (&json!("prod"), &json!(2)));
        std::fs::write(&file, "{\"Env\": \"a\", \"Count\": 1, \"Env\": \"b\"}").unwrap();
        let err = values("s.json", &d, &given).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "--var-file {}: key \"Env\" appears twice at the top level",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_sensitive_value_is_never_shown_in_an_error() {
        let d = declared(json!({"Key": {"Type": "Number", "Sensitive": true}}));
        let given = Given {
            vars: vec![("Key".into(), "hunter2".into())],
            ..Given::default()
        };
        let err = values("s.json", &d, &given).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn whole_references_keep_their_type_and_others_are_spliced() {
        let values: BTreeMap<String, Value> =
            [("N".to_string(), json!(3)), ("S".to_string(), json!("x"))].into();
        let secret: BTreeSet<String> = ["S".to_string()].into();
        let (out, touched) = substitute(
            &json!({"A": "{{.Parameters.N}}", "B": "{{ .Parameters.S }}-{{.Parameters.N}}",
                    "C": "{{.Resources.R.ID}}/{{.Parameters.N}}"}),
            &values,
            &secret,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"A": 3, "B": "x-3", "C": "{{.Resources.R.ID}}/3"})
        );
        assert!(touched);
        let (_, touched) = substitute(&json!("{{.Parameters.N}}"), &values, &secret).unwrap();
        assert!(!touched);
        assert_eq!(
            substitute(&json!("{{.Parameters.Nope}}"), &values, &secret).unwrap_err(),
            "{{.Parameters.Nope}} names no parameter of this spec (it declares: N, S)"
        );
    }
}
