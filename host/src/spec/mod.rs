//! The spec: the JSON document a user writes (parameters, resources, providers, outputs),
//! loaded with errors that name the file, the resource and the field. Parameters are
//! substituted as it loads; what a sensitive parameter flows into is noted.

mod jsonc;
pub mod parameters;
pub mod reference;

use anyhow::{Result, anyhow};
use indexmap::IndexMap;
use parameters::{Given, ParameterSpec};
use reference::Reference;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One resource of the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// The provider that manages it.
    pub plugin: String,
    /// Its type in that provider.
    #[serde(rename = "Type")]
    pub type_name: String,
    /// Its properties, possibly holding references.
    #[serde(default = "empty_object")]
    pub properties: Value,
    /// Dependencies no reference shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Tags added to rkit's own (`rkit:stack`, `rkit:name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// How a provider is obtained and what it is granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProviderSpec {
    /// A module file (`.wasm`, relative to the spec's directory) or a reference
    /// (`registry/repository:tag`, `file://dir:tag`), resolved through `rkit.lock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Configuration handed to the provider's `configure`.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Capabilities granted to it.
    #[serde(default)]
    pub grants: GrantsSpec,
    /// Publisher keys (`ed25519:BASE64`) whose signature a provider fetched by reference must
    /// carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<String>,
}

impl Default for ProviderSpec {
    /// No source, an empty configuration object, nothing granted.
    fn default() -> Self {
        Self {
            source: None,
            config: empty_object(),
            grants: GrantsSpec::default(),
            trusted_keys: Vec::new(),
        }
    }
}

/// The capabilities a spec grants a provider; absent means denied (or the default limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GrantsSpec {
    /// HTTP destinations, `scheme://host[:port]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// A directory (relative to the spec's directory) mapped into the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    #[serde(default, rename = "MemoryMiB", skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// A whole spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Spec {
    /// The stack's name, used to tag resources (default: the spec file's stem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Values given by whoever runs the spec (`--var`, `--var-file`, `RKIT_VAR_*`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, ParameterSpec>,
    #[serde(default)]
    pub resources: IndexMap<String, ResourceSpec>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub providers: IndexMap<String, ProviderSpec>,
    /// Values printed and recorded after apply; may hold references. Each is a value, or
    /// `{"Value": …, "Sensitive": true, "Description": …}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, Value>,
}

/// One output, its long form read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputSpec {
    pub value: Value,
    /// Shown as `(sensitive)` (outputs derived from sensitive values are, whatever this says).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl OutputSpec {
    /// The long form (`{"Value": …}` with only `Value`, `Sensitive`, `Description`), else
    /// the value itself.
    fn read(raw: &Value) -> Result<Self, String> {
        let long = raw.as_object().is_some_and(|o| {
            o.contains_key("Value")
                && o.keys()
                    .all(|k| matches!(k.as_str(), "Value" | "Sensitive" | "Description"))
        });
        if long {
            serde_json::from_value(raw.clone()).map_err(|e| e.to_string())
        } else {
            Ok(Self {
                value: raw.clone(),
                sensitive: false,
                description: None,
            })
        }
    }
}

/// A spec with where it came from and what its resources reference.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub path: PathBuf,
    pub spec: Spec,
    /// The stack name in force.
    pub stack: String,
    /// Each resource's references, with the property path where they stand.
    pub references: BTreeMap<String, Vec<(String, Reference)>>,
    /// What was accepted but deserves a word (a file ending with brackets left open).
    pub warnings: Vec<String>,
    /// The outputs, read (parameters substituted).
    pub outputs: IndexMap<String, OutputSpec>,
    /// Per resource, the top-level properties a sensitive parameter flows into.
    pub sensitive_fields: BTreeMap<String, BTreeSet<String>>,
}

impl LoadedSpec {
    /// The directory relative paths in the spec are resolved from.
    pub fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The names a resource depends on: its references and `DependsOn`, once each.
    pub fn dependencies(&self, name: &str) -> Vec<&str> {
        let mut deps: Vec<&str> = self.references[name]
            .iter()
            .map(|(_, r)| r.resource.as_str())
            .chain(
                self.spec.resources[name]
                    .depends_on
                    .iter()
                    .map(String::as_str),
            )
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }
}

/// Reads and checks the spec at `path`, its parameters given no value but their defaults.
pub fn load(path: &Path) -> Result<LoadedSpec> {
    load_with(path, &Given::default())
}

/// Reads and checks the spec at `path` with the `given` parameter values.
pub fn load_with(path: &Path, given: &Given) -> Result<LoadedSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| anyhow!("{}: cannot read the spec: {err}", path.display()))?;
    parse_with(path, &text, given)
}

/// Parses and checks spec `text` read from `path` (parameters get their defaults).
pub fn parse(path: &Path, text: &str) -> Result<LoadedSpec> {
    parse_with(path, text, &Given::default())
}

/// Parses and checks spec `text` read from `path` with the `given` parameter values.
pub fn parse_with(path: &Path, text: &str, given: &Given) -> Result<LoadedSpec> {
    let file = path.display();
    let relaxed = jsonc::relax(text);
    let value: Value = serde_json::from_str(&relaxed.text).map_err(|err| {
        anyhow!(
            "{file}:{}:{}: invalid JSON: {}",
            err.line(),
            err.column(),
            strip_position(&err.to_string())
        )
    })?;
    let spec: Spec = serde_path_to_error::deserialize(&value).map_err(|err| {
        let at = err.path().to_string();
        let message = strip_position(&err.inner().to_string());
        let mut segments = at.split('.');
        match (segments.next(), segments.next()) {
            (Some("Resources"), Some(name)) => {
                let field: Vec<&str> = segments.collect();
                if field.is_empty() {
                    anyhow!("{file}: resource {name}: {message}")
                } else {
                    anyhow!(
                        "{file}: resource {name}: field {}: {message}",
                        field.join(".")
                    )
                }
            }
            _ if at == "." => anyhow!("{file}: {message}"),
            _ => anyhow!("{file}: field {at}: {message}"),
        }
    })?;
    let mut spec = spec;
    let (outputs, sensitive_fields) = substitute_parameters(&file.to_string(), &mut spec, given)?;
    let stack = match &spec.stack {
        Some(stack) => stack.clone(),
        None => path
            .file_stem()
            .map_or("default".into(), |s| s.to_string_lossy().into_owned()),
    };
    let mut references = BTreeMap::new();
    for (name, resource) in &spec.resources {
        if !resource.properties.is_object() {
            return Err(anyhow!(
                "{file}: resource {name}: field Properties: must be an object"
            ));
        }
        let found = reference::references(&resource.properties).map_err(|(field, message)| {
            anyhow!("{file}: resource {name}: field Properties.{field}: {message}")
        })?;
        for (field, r) in &found {
            if !spec.resources.contains_key(&r.resource) {
                return Err(anyhow!(
                    "{file}: resource {name}: field Properties.{field}: reference {r} names no \
                     resource of this spec"
                ));
            }
        }
        for dep in &resource.depends_on {
            if !spec.resources.contains_key(dep) {
                return Err(anyhow!(
                    "{file}: resource {name}: field DependsOn: {dep:?} names no resource of \
                     this spec"
                ));
            }
        }
        references.insert(name.clone(), found);
    }
    for (name, output) in &outputs {
        for (_, r) in reference::references(&output.value)
            .map_err(|(_, message)| anyhow!("{file}: output {name}: {message}"))?
        {
            if !spec.resources.contains_key(&r.resource) {
                return Err(anyhow!(
                    "{file}: output {name}: reference {r} names no resource of this spec"
                ));
            }
        }
    }
    let warnings = match relaxed.closed_at_end.as_str() {
        "" => Vec::new(),
        closed => vec![format!(
            "{file}: the file ends with {} left open; read as if it ended with {closed:?}",
            if closed.len() == 1 {
                "a bracket"
            } else {
                "brackets"
            }
        )],
    };
    Ok(LoadedSpec {
        path: path.to_path_buf(),
        spec,
        stack,
        references,
        warnings,
        outputs,
        sensitive_fields,
    })
}

/// Substitutes the parameters' values into properties, tags, provider configurations and
/// outputs; returns the outputs read and, per resource, the properties a sensitive parameter
/// flows into (outputs it flows into are marked sensitive).
#[allow(clippy::type_complexity)]
fn substitute_parameters(
    file: &str,
    spec: &mut Spec,
    given: &Given,
) -> Result<(
    IndexMap<String, OutputSpec>,
    BTreeMap<String, BTreeSet<String>>,
)> {
    let values = parameters::values(file, &spec.parameters, given)?;
    let secret: BTreeSet<String> = spec
        .parameters
        .iter()
        .filter(|(_, p)| p.sensitive)
        .map(|(n, _)| n.clone())
        .collect();
    let sub = |v: &Value| parameters::substitute(v, &values, &secret);
    let mut sensitive_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, resource) in spec.resources.iter_mut() {
        if let Some(props) = resource.properties.as_object_mut() {
            for (field, value) in props.iter_mut() {
                let (new, touched) = sub(value).map_err(|m| {
                    anyhow!("{file}: resource {name}: field Properties.{field}: {m}")
                })?;
                *value = new;
                if touched {
                    sensitive_fields
                        .entry(name.clone())
                        .or_default()
                        .insert(field.clone());
                }
            }
        }
        for (key, value) in resource.tags.iter_mut() {
            let (new, _) = sub(&Value::String(value.clone()))
                .map_err(|m| anyhow!("{file}: resource {name}: field Tags.{key}: {m}"))?;
            *value = match new {
                Value::String(s) => s,
                other => other.to_string(),
            };
        }
    }
    for (name, provider) in spec.providers.iter_mut() {
        let (new, _) = sub(&provider.config)
            .map_err(|m| anyhow!("{file}: field Providers.{name}.Config: {m}"))?;
        provider.config = new;
    }
    let mut outputs = IndexMap::new();
    for (name, raw) in &spec.outputs {
        let mut output =
            OutputSpec::read(raw).map_err(|m| anyhow!("{file}: output {name}: {m}"))?;
        let (value, touched) =
            sub(&output.value).map_err(|m| anyhow!("{file}: output {name}: {m}"))?;
        output.value = value;
        output.sensitive |= touched;
        outputs.insert(name.clone(), output);
    }
    Ok((outputs, sensitive_fields))
}

/// serde_json's " at line L column C" suffix (positions in a value, not the file).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{
  "Resources": {
    "MyVpc": {
      "Plugin": "infrakit-resource-aws",
      "Type": "Vpc",
      "Properties": {
        "CreateVpcInput": {
          "CidrBlock": "10.0.0.0/16"
        }
      }
    },
    "MySecurityGroup": {
      "Plugin": "infrakit-resource-aws",
      "Type": "SecurityGroup",
      "Properties": {
        "CreateSecurityGroupInput": {
          "GroupName": "MySecurityGroup",
          "VpcId":  "{{.Resources.MyVpc.ID}}"
        }
      }
    },
}
"#;

    fn err(text: &str) -> String {
        parse(Path::new("s.json"), text).unwrap_err().to_string()
    }

    #[test]
    fn the_seed_example_parses_as_written() {
        let loaded = parse(Path::new("examples/seed.json"), SEED).unwrap();
        assert_eq!(loaded.stack, "seed");
        // The seed's text never closes its root object.
        assert_eq!(
            loaded.warnings,
            [
                "examples/seed.json: the file ends with a bracket left open; read as if it ended with \"}\""
            ]
        );
        assert_eq!(loaded.spec.resources.len(), 2);
        assert_eq!(loaded.dependencies("MySecurityGroup"), ["MyVpc"]);
        assert!(loaded.dependencies("MyVpc").is_empty());
    }

    #[test]
    fn an_absent_provider_entry_means_an_empty_configuration() {
        assert_eq!(ProviderSpec::default().config, serde_json::json!({}));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        assert_eq!(
            err("{\n  \"Resources\": {\n    \"A\" {}\n  }\n}"),
            "s.json:3:9: invalid JSON: expected `:`"
        );
    }

    #[test]
    fn field_errors_name_resource_and_field() {
        assert_eq!(
            err(r#"{"Resources": {"A": {"Plugin": "p"}}}"#),
            "s.json: resource A: missing field `Type`"
        );
        assert!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Propertys": {}}}}"#)
                .starts_with("s.json: resource A: field Propertys: unknown field `Propertys`")
        );
        assert_eq!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": 3}}}"#),
            "s.json: resource A: field Type: invalid type: integer `3`, expected a string"
        );
    }

    #[test]
    fn unknown_references_name_resource_and_field() {
        assert_eq!(
            err(
                r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Properties": {"X": {"Y": "{{.Resources.Nope.ID}}"}}}}}"#
            ),
            "s.json: resource A: field Properties.X.Y: reference {{.Resources.Nope.ID}} names no resource of this spec"
        );
        assert_eq!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "DependsOn": ["B"]}}}"#),
            "s.json: resource A: field DependsOn: \"B\" names no resource of this spec"
        );
    }
}
