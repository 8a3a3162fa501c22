//! The spec: the JSON document a user writes (parameters, resources, providers, outputs),
//! loaded with errors that name the file, the resource and the field. Parameters are
//! substituted as it loads; what a sensitive parameter flows into is noted.

pub mod bootstrap;
pub mod diagnostic;
pub mod group;
mod jsonc;
pub mod parameters;
pub mod reference;
pub mod source;
pub mod template;

use crate::interned::Name;
use crate::state::Compact;
use anyhow::Result;
use diagnostic::{SpecError, SpecErrors, locate, offset_of, steps};
use indexmap::IndexMap;
use parameters::{Given, ParameterSpec};
use reference::Reference;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use source::Source;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One resource of the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// The provider that manages it (held once for all of them, see `interned`).
    pub plugin: Name,
    /// Its type in that provider.
    #[serde(rename = "Type")]
    pub type_name: Name,
    /// Its properties, possibly holding references, held as their compact text (parsed where
    /// they are used: a tree per resource would cost several times the spec's file).
    #[serde(default = "no_properties")]
    pub properties: Compact,
    /// Dependencies no reference shows.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub depends_on: Box<[String]>,
    /// Tags added to rkit's own (`rkit:stack`, `rkit:name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: ResourceTags,
    /// Its references, each with the property path where it stands: found as the spec
    /// loads (not written in it), held with the resource (not in a map of every name), in
    /// one allocation, the paths shared (most resources of a type have the same ones).
    #[serde(skip)]
    pub references: Box<[(Name, Reference)]>,
}

/// A resource's own tags in the spec, read and written as the map they are: most resources
/// have none, held as nothing rather than an empty map (its 24 bytes, at 100,000 resources).
#[derive(Debug, Clone, Default)]
#[expect(
    clippy::box_collection,
    reason = "boxed so that no tags cost one pointer, not an empty map's 24 bytes"
)]
pub struct ResourceTags(Option<Box<BTreeMap<String, String>>>);

static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();

impl std::ops::Deref for ResourceTags {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        self.0.as_deref().unwrap_or(&NO_TAGS)
    }
}

impl ResourceTags {
    /// Each tag, its value to change (no map made for a resource without tags).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut String)> {
        self.0.iter_mut().flat_map(|tags| tags.iter_mut())
    }
}

impl PartialEq for ResourceTags {
    /// As maps: no tags equal an empty map.
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ResourceTags {}

impl From<BTreeMap<String, String>> for ResourceTags {
    fn from(tags: BTreeMap<String, String>) -> Self {
        ResourceTags((!tags.is_empty()).then(|| Box::new(tags)))
    }
}

impl Serialize for ResourceTags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ResourceTags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Self::from)
    }
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn no_properties() -> Compact {
    Compact::new(&empty_object())
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
    /// Only these of the Cloud Control resource types the provider declares
    /// (`AWS::SQS::*`, `AWS::IAM::Role`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
}

/// A whole spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Sets of interchangeable members of one template (expanded into `resources` as the
    /// spec loads: `Web[0]`, `Web[1]`, …).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub groups: IndexMap<String, group::GroupSpec>,
    /// Where the state lives (default: a file beside the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::state::location::StateSpec>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub providers: IndexMap<String, ProviderSpec>,
    /// Values printed and recorded after apply; may hold references. Each is a value, or
    /// `{"Value": …, "Sensitive": true, "Description": …}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, Value>,
    /// Rego policies every plan of this spec is checked against: a `.rego` file, a
    /// directory, or a bundle's reference; or `{"Source": …, "Sensitive": true,
    /// "TrustedKeys": […]}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyEntry>,
    /// How the stack's machines run rkit (`rkit bootstrap`): fills `{{.Bootstrap.UserData}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<bootstrap::BootstrapSpec>,
}

/// The `Policies` the spec file at `path` lists now (none when it cannot be read): a saved
/// plan is checked against them too, so a policy added to its spec since binds it.
pub fn policies_of(path: &Path) -> Vec<PolicyEntry> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let relaxed = jsonc::relax(&text);
    serde_json::from_str::<Value>(&relaxed.text)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("Policies")?.clone()).ok())
        .unwrap_or_default()
}

/// One entry of a spec's `Policies`: a place, or its long form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyEntry {
    Place(String),
    Long(crate::policy::Source),
}

impl PolicyEntry {
    /// The source it names.
    pub fn source(&self) -> crate::policy::Source {
        match self {
            PolicyEntry::Place(place) => crate::policy::Source::at(place),
            PolicyEntry::Long(source) => source.clone(),
        }
    }
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
#[derive(Debug, Clone, Default)]
pub struct LoadedSpec {
    pub path: PathBuf,
    pub spec: Spec,
    /// The stack name in force.
    pub stack: String,
    /// What was accepted but deserves a word (a file ending with brackets left open).
    pub warnings: Vec<String>,
    /// The outputs, read (parameters substituted).
    pub outputs: IndexMap<String, OutputSpec>,
    /// Per resource, the top-level properties a sensitive parameter flows into.
    pub sensitive_fields: BTreeMap<String, BTreeSet<String>>,
    /// The text the spec was read from (comments blanked), to point errors at: held when
    /// small, else found again in the file (see [`source`]).
    pub source: Source,
    /// What it was loaded from, fingerprinted (see [`source::inputs`]); none when it was not
    /// read from a file (parsed from text, a saved plan's).
    pub inputs: Option<u64>,
    /// Each group's members (resource names, in logical-ID order).
    pub members: IndexMap<String, Vec<String>>,
    /// The properties, as written, of resources (not members) using `{{.Groups.X.IDs}}`.
    pub group_users: BTreeMap<String, Value>,
    /// The values, as written, of outputs using `{{.Groups.X.IDs}}`.
    pub group_outputs: BTreeMap<String, Value>,
    /// `sha256:HEX` of the spec as read (parameters substituted, groups not yet expanded):
    /// the state records which spec each apply used, so that converge never applies an older
    /// one over a person's apply. Empty: not known (a saved plan's).
    pub digest: String,
    /// The parameters' values, and which of them are sensitive (for policies' input).
    pub parameters: Parameters,
}

/// The values a run gave the spec's parameters.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    pub values: BTreeMap<String, Value>,
    pub sensitive: BTreeSet<String>,
}

impl LoadedSpec {
    /// `names` with each group's name replaced by its members' (`--target Web` targets the
    /// group's members, as `--target` on a resource would).
    pub fn with_members(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .flat_map(|n| match self.members.get(n) {
                Some(members) => members.clone(),
                None => vec![n.clone()],
            })
            .collect()
    }

    /// An error about `field` (a path below the resource, `Properties.X`) of resource `name`,
    /// located in the file.
    pub fn resource_error(&self, name: &str, field: &str, message: impl Into<String>) -> SpecError {
        located(
            &self.path,
            self.source.text(&self.path).as_ref(),
            Some(format!("resource {name}")),
            Some(field),
            &format!("Resources.{name}.{field}"),
            false,
            message.into(),
        )
    }

    /// Lets go of its resources, for a run whose plan is made and carries all applying needs
    /// (a saved plan's spec has none either, see `engine::saved`). What else is held per
    /// resource (group members' names, sensitive fields) is small and kept.
    pub fn release_resources(&mut self) {
        self.spec.resources = IndexMap::new();
    }

    /// The directory relative paths in the spec are resolved from.
    pub fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The spec with these members in its groups (group → logical IDs, in order; groups not
    /// named keep theirs): the engine's choice from what exists (see `engine::group`).
    pub fn regroup(&self, chosen: &BTreeMap<String, Vec<String>>) -> Result<LoadedSpec> {
        let mut s = self.clone();
        for (g, ids) in chosen {
            let Some(gs) = self.spec.groups.get(g) else {
                continue;
            };
            let secret = self.sensitive_fields.get(&format!("group {g}")).cloned();
            let old: BTreeSet<&String> = self.members[g].iter().collect();
            // One pass (removing members one by one would be quadratic in a large group).
            s.spec.resources.retain(|name, _| !old.contains(name));
            for m in &old {
                s.sensitive_fields.remove(*m);
            }
            let expanded = gs
                .expand_ids(g, ids)
                .map_err(|(field, m)| anyhow::anyhow!("group {g}: {field}: {m}"))?;
            let mut names = Vec::with_capacity(expanded.len());
            for (member, resource) in expanded {
                if let Some(fields) = &secret {
                    s.sensitive_fields.insert(member.clone(), fields.clone());
                }
                names.push(member.clone());
                s.spec.resources.insert(member, resource);
            }
            s.members.insert(g.clone(), names);
        }
        let renamed: Vec<String> = chosen
            .keys()
            .filter_map(|g| s.members.get(g))
            .flatten()
            .cloned()
            .chain(self.group_users.keys().cloned())
            .collect();
        for name in renamed {
            let written = self
                .group_users
                .get(&name)
                .cloned()
                .unwrap_or_else(|| s.spec.resources[&name].properties.value());
            let properties = group::rewrite_group_refs(&written, &s.members)
                .map_err(|m| anyhow::anyhow!("resource {name}: {m}"))?;
            let found = reference::references(&properties)
                .map_err(|(field, m)| anyhow::anyhow!("resource {name}: {field}: {m}"))?;
            let resource = &mut s.spec.resources[&name];
            resource.properties = properties.into();
            resource.references = reference::held(found);
        }
        for (name, written) in &self.group_outputs {
            s.outputs[name].value = group::rewrite_group_refs(written, &s.members)
                .map_err(|m| anyhow::anyhow!("output {name}: {m}"))?;
        }
        Ok(s)
    }

    /// The references of resource `name` (of the spec), each with the property path where it
    /// stands.
    pub fn references(&self, name: &str) -> &[(Name, Reference)] {
        &self.spec.resources[name].references
    }

    /// The names a resource depends on: its references and `DependsOn`, once each.
    pub fn dependencies(&self, name: &str) -> Vec<&str> {
        let mut deps: Vec<&str> = self
            .references(name)
            .iter()
            .map(|(_, r)| &*r.resource)
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

/// Where the spec at `path` keeps its state (its `"State"` section, else a file beside it,
/// `<dir>/<stem>.rkit-state.json`) and where the state's key comes from, if it is
/// encrypted. Reads only that section (no parameters needed): the rest is skipped as it is
/// read, no tree made of it (a spec of 100,000 resources would make ~100 MB of one).
pub fn state_of(path: &Path) -> Result<(crate::state::Location, Option<String>)> {
    let beside = || (crate::state::location::beside(path), None);
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(beside());
    };
    let relaxed = jsonc::relax(&text);
    drop(text);
    // Each top-level section as its text (a repeated one: the last, as a tree's map keeps).
    let Ok(sections) = serde_json::from_str::<IndexMap<String, &RawValue>>(&relaxed.text) else {
        return Ok(beside());
    };
    match sections.get("State") {
        None => Ok(beside()),
        Some(section) => {
            let section: Value = serde_json::from_str(section.get())?;
            let state: crate::state::location::StateSpec = serde_json::from_value(section)
                .map_err(|e| SpecError::file(path, format!("State: {e}")))?;
            let location = state
                .location(path)
                .map_err(|m| SpecError::file(path, format!("State: {m}")))?;
            Ok((location, state.key_from().map(str::to_string)))
        }
    }
}

/// Reads and checks the spec at `path`, its parameters given no value but their defaults.
pub fn load(path: &Path) -> Result<LoadedSpec> {
    load_with(path, &Given::default())
}

/// Reads and checks the spec at `path` with the `given` parameter values.
/// The file's text is let go as soon as its relaxed copy is made (a spec of 100,000
/// resources is ~10 MB: its text is held once while it is read, not three times).
pub fn load_with(path: &Path, given: &Given) -> Result<LoadedSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| SpecError::file(path, format!("cannot read the spec: {err}")))?;
    let inputs = source::inputs(path, text.as_bytes(), given);
    let relaxed = jsonc::relax(&text);
    drop(text);
    let mut loaded = parse_relaxed(path, relaxed, given, Source::is_file(path))?;
    loaded.inputs = Some(inputs);
    Ok(loaded)
}

/// Parses and checks spec `text` read from `path` (parameters get their defaults).
pub fn parse(path: &Path, text: &str) -> Result<LoadedSpec> {
    parse_with(path, text, &Given::default())
}

/// Parses and checks spec `text` read from `path` with the `given` parameter values. The
/// passes, in order: the JSON read (no key written twice), the group settings given their
/// parameters, the spec read, the parameters substituted, the groups expanded, the state's
/// location and the references checked.
pub fn parse_with(path: &Path, text: &str, given: &Given) -> Result<LoadedSpec> {
    parse_relaxed(path, jsonc::relax(text), given, false)
}

/// [`parse_with`] of text already relaxed; `in_file`: `path` holds it (so a large one need
/// not be held, see [`source`]).
fn parse_relaxed(
    path: &Path,
    relaxed: jsonc::Relaxed,
    given: &Given,
    in_file: bool,
) -> Result<LoadedSpec> {
    let source = std::sync::Arc::new(relaxed.text);
    let at = |subject: Option<String>, field: Option<&str>, json_path: &str, message: String| {
        located(
            path,
            Some(&source),
            subject,
            field,
            json_path,
            false,
            message,
        )
    };
    let (mut value, resources) = read_json(path, &source)?;
    group_settings_with_parameters(path, &source, &mut value, given)?;
    let mut spec = read_spec(path, &source, value, resources)?;
    let (mut outputs, mut sensitive_fields, parameters) =
        substitute_parameters(path, &source, &mut spec, given)?;
    fill_bootstrap(path, &mut spec, &at)?;
    let digest = digest_of(&spec);
    let (members, group_users, group_outputs) = expand_groups(
        path,
        &source,
        &mut spec,
        &mut outputs,
        &mut sensitive_fields,
    )?;
    check_state(path, &spec, &at)?;
    let stack = stack_of(path, &spec);
    check_references(&mut spec, &outputs, &at)?;
    let warnings = left_open(path, &relaxed.closed_at_end);
    let source = match in_file {
        true => Source::of(&source),
        false => Source::Held(source),
    };
    Ok(LoadedSpec {
        path: path.to_path_buf(),
        spec,
        stack,
        warnings,
        outputs,
        sensitive_fields,
        source,
        inputs: None,
        members,
        group_users,
        group_outputs,
        digest,
        parameters,
    })
}

/// The spec's JSON (comments blanked, in `source`), checked whole (invalid JSON, or a key
/// written twice, is refused where it is), as a tree of its sections but `Resources`, left as
/// its text: most of a spec, read straight into its resources with no tree between.
fn read_json<'s>(
    path: &Path,
    source: &'s std::sync::Arc<String>,
) -> Result<(Value, Option<&'s RawValue>)> {
    crate::json_strict::checked(source).map_err(|err| {
        let message = strip_position(&err.to_string());
        let message = match err.is_data() {
            true => message,
            false => format!("invalid JSON: {message}"),
        };
        json_error(path, source, &err, message)
    })?;
    let Ok(sections) = serde_json::from_str::<IndexMap<String, &RawValue>>(source) else {
        // Not an object: what reading it as a spec says.
        return Ok((serde_json::from_str(source)?, None));
    };
    let mut tree = serde_json::Map::new();
    let mut resources = None;
    for (key, text) in sections {
        match key.as_str() {
            "Resources" => resources = Some(text),
            _ => {
                tree.insert(key, serde_json::from_str(text.get())?);
            }
        }
    }
    Ok((Value::Object(tree), resources))
}

/// An error serde_json found reading `source`, at its line and column.
fn json_error(
    path: &Path,
    source: &std::sync::Arc<String>,
    err: &serde_json::Error,
    message: String,
) -> SpecError {
    let offset = offset_of(source, err.line(), err.column());
    SpecError {
        file: path.to_path_buf(),
        subject: None,
        field: None,
        message,
        at: Some(diagnostic::Location {
            line: err.line(),
            column: err.column(),
            span: diagnostic::char_at(source, offset),
        }),
        text: Some(source.clone()),
    }
}

/// The spec read from its JSON `value`; an error names the resource, parameter or output and
/// the field, in the user's terms, where it is.
/// The typed spec, taken out of `value` as it goes (the whole document's tree and the spec
/// are never both held in full).
fn read_spec(
    path: &Path,
    source: &std::sync::Arc<String>,
    value: Value,
    resources: Option<&RawValue>,
) -> Result<Spec> {
    let mut spec: Spec = serde_path_to_error::deserialize(value)
        .map_err(|err| typed_error(path, source, None, err))?;
    if let Some(text) = resources {
        let mut de = serde_json::Deserializer::from_str(text.get());
        spec.resources = serde_path_to_error::deserialize(&mut de)
            .map_err(|err| typed_error(path, source, Some("Resources"), err))?;
    }
    Ok(spec)
}

/// What reading the spec's section `within` (`None`: the spec) as its type refused, located
/// by its path.
fn typed_error(
    path: &Path,
    source: &std::sync::Arc<String>,
    within: Option<&str>,
    err: serde_path_to_error::Error<serde_json::Error>,
) -> SpecError {
    let json_path = match (within, err.path().to_string()) {
        (Some(section), inner) if inner == "." => section.to_string(),
        (Some(section), inner) => format!("{section}.{inner}"),
        (None, inner) => inner,
    };
    let message = in_user_terms(&strip_position(&err.inner().to_string()));
    let unknown = message.starts_with("unknown field");
    let mut segments = json_path.splitn(3, '.');
    let (first, second, rest) = (segments.next(), segments.next(), segments.next());
    let subject = match (first, second) {
        (Some("Resources"), Some(name)) => Some(format!("resource {name}")),
        (Some("Parameters"), Some(name)) => Some(format!("parameter {name}")),
        (Some("Outputs"), Some(name)) => Some(format!("output {name}")),
        _ => None,
    };
    let field = match (&subject, rest) {
        (Some(_), rest) => rest.map(String::from),
        (None, _) if json_path == "." => None,
        (None, _) => Some(json_path.clone()),
    };
    located(
        path,
        Some(source),
        subject,
        field.as_deref(),
        &json_path,
        unknown,
        message,
    )
}

/// The spec's `"State"` section, if it has one, names a place the state can be kept.
fn check_state(path: &Path, spec: &Spec, at: &Locate) -> Result<()> {
    if let Some(state) = &spec.state {
        state
            .location(path)
            .map_err(|m| at(None, Some("State"), "State", m))?;
    }
    Ok(())
}

/// Fills `{{.Bootstrap.UserData}}` in resources' properties and group templates with the
/// script of the `Bootstrap` section (checked here, with the S3 state it needs); the template
/// without the section is an error.
fn fill_bootstrap(path: &Path, spec: &mut Spec, at: &Locate) -> Result<()> {
    let script = match &spec.bootstrap {
        None => None,
        Some(section) => {
            section.check().map_err(|(f, m)| {
                let field = format!("Bootstrap.{f}");
                at(None, Some(&field), &field, m)
            })?;
            Some(section.user_data(&machines_state(path, spec, at)?))
        }
    };
    substitute_user_data(spec, script, at)
}

/// The state's location as the machines are given it: S3 (what they reach), as text that
/// reads back the same.
fn machines_state(path: &Path, spec: &Spec, at: &Locate) -> Result<String> {
    let location = match spec.state.as_ref().map(|s| s.location(path)) {
        Some(Ok(location @ crate::state::Location::S3(_))) => location,
        Some(Err(m)) => return Err(at(None, Some("State"), "State", m).into()),
        _ => {
            return Err(at(
                None,
                Some("Bootstrap"),
                "Bootstrap",
                "the machines reach the stack's state over S3: give the spec a \
                 \"State\" with \"Backend\": \"s3\""
                    .into(),
            )
            .into());
        }
    };
    let text = location.to_string();
    let same = text.parse::<crate::state::Location>().ok().as_ref() == Some(&location);
    if !same || text.contains(char::is_control) {
        return Err(at(
            None,
            Some("State"),
            "State",
            format!(
                "{:?}: the machines are given the state's location as text, and this one does \
                 not read back the same (a ?, & or control character in Key, Region or \
                 Endpoint)",
                crate::text::escaped(&text)
            ),
        )
        .into());
    }
    Ok(text)
}

/// Substitutes the script for `{{.Bootstrap.UserData}}` in the fields that mention it (the
/// rest stays as loaded); `None`: the spec has no section, and a mention is an error.
fn substitute_user_data(spec: &mut Spec, script: Option<String>, at: &Locate) -> Result<()> {
    let mut fill = |expr: &str| {
        (expr.trim() == bootstrap::USER_DATA).then(|| {
            script.clone().map(Value::String).ok_or_else(|| {
                "{{.Bootstrap.UserData}} is the script of a \"Bootstrap\" section, and this \
                 spec has none"
                    .to_string()
            })
        })
    };
    let mut fill_in = |subject: String, section: String, properties: &mut Value| {
        let Some(props) = properties.as_object_mut() else {
            return Ok(());
        };
        // Only what mentions it is rebuilt: the rest stays as loaded.
        for (field, value) in props
            .iter_mut()
            .filter(|(_, v)| template::mentions(v, ".Bootstrap."))
        {
            *value = template::substitute(value, &mut fill).map_err(|m| {
                let field = format!("Properties.{field}");
                at(
                    Some(subject.clone()),
                    Some(&field),
                    &format!("{section}.{field}"),
                    m,
                )
            })?;
        }
        Ok::<_, anyhow::Error>(())
    };
    for (n, r) in spec.resources.iter_mut() {
        if r.properties.mentions(".Bootstrap.") {
            let (subject, section) = (format!("resource {n}"), format!("Resources.{n}"));
            r.properties.edit(|p| fill_in(subject, section, p))?;
        }
    }
    for (n, g) in spec.groups.iter_mut() {
        fill_in(
            format!("group {n}"),
            format!("Groups.{n}"),
            &mut g.properties,
        )?;
    }
    Ok(())
}

/// The stack's name: the spec's `"Stack"`, else the spec file's stem.
fn stack_of(path: &Path, spec: &Spec) -> String {
    match &spec.stack {
        Some(stack) => stack.clone(),
        None => path
            .file_stem()
            .map_or("default".into(), |s| s.to_string_lossy().into_owned()),
    }
}

/// A warning when the file ends with brackets left open (`closed` closes them).
fn left_open(path: &Path, closed: &str) -> Vec<String> {
    let file = path.display();
    match closed {
        "" => Vec::new(),
        closed => vec![format!(
            "{file}: the file ends with {} left open; read as if it ended with {closed:?}",
            if closed.len() == 1 {
                "a bracket"
            } else {
                "brackets"
            }
        )],
    }
}

/// A group's settings besides its member template (`Size`, `LogicalIDs`, `Updating`) take
/// parameters too: they are substituted in the JSON, before it is read as numbers and lists
/// (the template's own are substituted with the resources'). Parameters that cannot be read
/// are left to the spec's full reading, which reports them where they are.
fn group_settings_with_parameters(
    path: &Path,
    source: &std::sync::Arc<String>,
    value: &mut Value,
    given: &Given,
) -> Result<()> {
    const TEMPLATE: [&str; 5] = ["Plugin", "Type", "Properties", "Tags", "DependsOn"];
    let settings = |g: &Value| -> bool {
        g.as_object().is_some_and(|g| {
            g.iter()
                .any(|(k, v)| !TEMPLATE.contains(&k.as_str()) && v.to_string().contains("{{"))
        })
    };
    let Some(groups) = value.get("Groups").and_then(Value::as_object) else {
        return Ok(());
    };
    if !groups.values().any(settings) {
        return Ok(());
    }
    let declared = value
        .get("Parameters")
        .cloned()
        .unwrap_or_else(empty_object);
    let Ok(declared) = serde_json::from_value::<IndexMap<String, ParameterSpec>>(declared) else {
        return Ok(());
    };
    let values = parameters::values(&path.display().to_string(), &declared, given)?;
    let Some(groups) = value.get_mut("Groups").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for (name, group) in groups.iter_mut() {
        let Some(group) = group.as_object_mut() else {
            continue;
        };
        for (key, setting) in group
            .iter_mut()
            .filter(|(k, _)| !TEMPLATE.contains(&k.as_str()))
        {
            let (new, _) =
                parameters::substitute(setting, &values, &BTreeSet::new()).map_err(|m| {
                    let json_path = format!("Groups.{name}.{key}");
                    located(
                        path,
                        Some(source),
                        Some(format!("group {name}")),
                        Some(key),
                        &json_path,
                        false,
                        m,
                    )
                })?;
            *setting = new;
        }
    }
    Ok(())
}

/// A reading error in the user's terms: `expected u32` is `expected a whole number`.
fn in_user_terms(message: &str) -> String {
    const TERMS: [(&str, &str); 9] = [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected an object"),
    ];
    let mut out = message.to_string();
    for (rust, user) in TERMS {
        if let Some(at) = out.find(rust)
            && !out[at + rust.len()..].starts_with(|c: char| c.is_alphanumeric())
        {
            out.replace_range(at..at + rust.len(), user);
        }
    }
    out
}

/// Makes an error at (subject, field, JSON path) with a message.
type Locate<'a> = dyn Fn(Option<String>, Option<&str>, &str, String) -> SpecError + 'a;

/// What each resource references, by field; every reference and `DependsOn` naming no
/// resource, and every malformed template, is reported at once (with a likely name).
fn check_references(
    spec: &mut Spec,
    outputs: &IndexMap<String, OutputSpec>,
    at: &Locate,
) -> Result<(), SpecErrors> {
    let names = || spec.resources.keys().map(String::as_str);
    let unknown = |what: &str, name: &str| {
        let hint = crate::text::did_you_mean(name, names());
        format!("{what} names no resource of this spec{hint}")
    };
    let mut errors = Vec::new();
    let mut references = Vec::with_capacity(spec.resources.len());
    for (name, resource) in &spec.resources {
        let subject = || Some(format!("resource {name}"));
        let json_path = |field: &str| format!("Resources.{name}.{field}");
        if !resource.properties.is_object() {
            errors.push(at(
                subject(),
                Some("Properties"),
                &json_path("Properties"),
                "must be an object".into(),
            ));
            continue;
        }
        let found = match reference::references(&resource.properties.value()) {
            Ok(found) => found,
            Err((field, message)) => {
                let field = format!("Properties.{field}");
                errors.push(at(subject(), Some(&field), &json_path(&field), message));
                continue;
            }
        };
        for (field, r) in &found {
            if !spec.resources.contains_key(&*r.resource) {
                let field = format!("Properties.{field}");
                let message = unknown(&format!("reference {r}"), &r.resource);
                errors.push(at(subject(), Some(&field), &json_path(&field), message));
            }
        }
        for (i, dep) in resource.depends_on.iter().enumerate() {
            if !spec.resources.contains_key(dep) {
                let message = unknown(&format!("{dep:?}"), dep);
                errors.push(at(
                    subject(),
                    Some("DependsOn"),
                    &json_path(&format!("DependsOn[{i}]")),
                    message,
                ));
            }
        }
        references.push(found);
    }
    for (name, output) in outputs {
        let subject = || Some(format!("output {name}"));
        let json_path = format!("Outputs.{name}");
        match reference::references(&output.value) {
            Err((_, message)) => errors.push(at(subject(), None, &json_path, message)),
            Ok(refs) => {
                for (_, r) in refs {
                    if !spec.resources.contains_key(&*r.resource) {
                        let message = unknown(&format!("reference {r}"), &r.resource);
                        errors.push(at(subject(), None, &json_path, message));
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    for (resource, found) in spec.resources.values_mut().zip(references) {
        resource.references = reference::held(found);
    }
    Ok(())
}

/// `sha256:HEX` of `spec` as JSON, hashed as it is written (no copy of a large spec's text).
fn digest_of(spec: &Spec) -> String {
    use sha2::Digest as _;
    struct Hashing(sha2::Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(sha2::Sha256::new());
    // Writing to a hasher cannot fail, nor can serialising a spec that was just read.
    let _ = serde_json::to_writer(&mut hashing, spec);
    format!("sha256:{}", hex::encode(hashing.0.finalize()))
}

/// An error at `json_path` of the file (its key with `key`), about `field` of `subject`.
fn located(
    file: &Path,
    text: Option<&std::sync::Arc<String>>,
    subject: Option<String>,
    field: Option<&str>,
    json_path: &str,
    key: bool,
    message: String,
) -> SpecError {
    SpecError {
        file: file.to_path_buf(),
        subject,
        field: field.map(String::from),
        message,
        at: text.and_then(|t| locate(t, &steps(json_path), key)),
        text: text.cloned(),
    }
}

/// What [`expand_groups`] gives: each group's members, and the properties and outputs, as
/// written, that use a group's IDs.
type Expanded = (
    IndexMap<String, Vec<String>>,
    BTreeMap<String, Value>,
    BTreeMap<String, Value>,
);

/// Adds each group's members to the resources (with the sensitive fields of their group's
/// template; a member's name must not be a resource's), and turns `{{.Groups.X.IDs}}` in
/// properties and outputs into the members' ID references.
fn expand_groups(
    path: &Path,
    source: &std::sync::Arc<String>,
    spec: &mut Spec,
    outputs: &mut IndexMap<String, OutputSpec>,
    sensitive_fields: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<Expanded> {
    let members = add_members(path, source, spec, sensitive_fields)?;
    let users = rewrite_resources_group_refs(path, source, spec, &members)?;
    let output_users = rewrite_outputs_group_refs(path, source, outputs, &members)?;
    Ok((members, users, output_users))
}

/// Adds each group's members to the resources (with the sensitive fields of their group's
/// template); each group's members, by group.
fn add_members(
    path: &Path,
    source: &std::sync::Arc<String>,
    spec: &mut Spec,
    sensitive_fields: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<IndexMap<String, Vec<String>>> {
    let mut members = IndexMap::new();
    for (name, g) in &spec.groups {
        let at = |field: &str, json_path: String, message: String| {
            located(
                path,
                Some(source),
                Some(format!("group {name}")),
                Some(field),
                &json_path,
                false,
                message,
            )
        };
        if name.is_empty()
            || name.contains(['[', ']', '.', '{', '}'])
            || spec.resources.contains_key(name)
        {
            return Err(at(
                "",
                format!("Groups.{name}"),
                "a group's name is not empty, has no [ ] . { } and is not a resource's".into(),
            )
            .into());
        }
        let expanded = g
            .expand(name)
            .map_err(|(field, m)| at(&field, format!("Groups.{name}.{field}"), m))?;
        let secret = sensitive_fields.get(&format!("group {name}")).cloned();
        let mut names = Vec::with_capacity(expanded.len());
        for (member, resource) in expanded {
            if spec.resources.contains_key(&member) {
                return Err(at(
                    "Size",
                    format!("Groups.{name}"),
                    format!("its member {member} has the name of a resource"),
                )
                .into());
            }
            if let Some(fields) = &secret {
                sensitive_fields.insert(member.clone(), fields.clone());
            }
            names.push(member.clone());
            spec.resources.insert(member, resource);
        }
        members.insert(name.clone(), names);
    }
    Ok(members)
}

/// Turns `{{.Groups.X.IDs}}` in resources' properties into the members' ID references; the
/// properties, as written, of the resources (not members) that use them.
fn rewrite_resources_group_refs(
    path: &Path,
    source: &std::sync::Arc<String>,
    spec: &mut Spec,
    members: &IndexMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Value>> {
    let member_of: BTreeSet<&String> = members.values().flatten().collect();
    let mut users = BTreeMap::new();
    for (name, resource) in spec.resources.iter_mut() {
        if !resource.properties.mentions(".Groups.") {
            continue;
        }
        let written = resource.properties.value();
        if !group::uses_groups(&written) {
            continue;
        }
        let (subject, json_path) = match name.split_once('[') {
            Some((g, _)) if member_of.contains(name) => {
                (format!("group {g}"), format!("Groups.{g}.Properties"))
            }
            _ => (
                format!("resource {name}"),
                format!("Resources.{name}.Properties"),
            ),
        };
        let rewritten = group::rewrite_group_refs(&written, members).map_err(|m| {
            located(
                path,
                Some(source),
                Some(subject),
                Some("Properties"),
                &json_path,
                false,
                m,
            )
        })?;
        resource.properties = rewritten.into();
        if !member_of.contains(name) {
            users.insert(name.clone(), written);
        }
    }
    Ok(users)
}

/// Turns `{{.Groups.X.IDs}}` in outputs into the members' ID references; the values, as
/// written, of the outputs that use them.
fn rewrite_outputs_group_refs(
    path: &Path,
    source: &std::sync::Arc<String>,
    outputs: &mut IndexMap<String, OutputSpec>,
    members: &IndexMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Value>> {
    let mut output_users = BTreeMap::new();
    for (name, output) in outputs.iter_mut() {
        if group::uses_groups(&output.value) {
            let rewritten = group::rewrite_group_refs(&output.value, members).map_err(|m| {
                located(
                    path,
                    Some(source),
                    Some(format!("output {name}")),
                    None,
                    &format!("Outputs.{name}"),
                    false,
                    m,
                )
            })?;
            output_users.insert(name.clone(), output.value.clone());
            output.value = rewritten;
        }
    }
    Ok(output_users)
}

/// Substitutes the parameters' values into properties, tags, provider configurations and
/// outputs; returns the outputs read and, per resource, the properties a sensitive parameter
/// flows into (outputs it flows into are marked sensitive).
#[allow(clippy::type_complexity)]
fn substitute_parameters(
    path: &Path,
    source: &std::sync::Arc<String>,
    spec: &mut Spec,
    given: &Given,
) -> Result<(
    IndexMap<String, OutputSpec>,
    BTreeMap<String, BTreeSet<String>>,
    Parameters,
)> {
    let values = parameters::values(&path.display().to_string(), &spec.parameters, given)?;
    let secret: BTreeSet<String> = spec
        .parameters
        .iter()
        .filter(|(_, p)| p.sensitive)
        .map(|(n, _)| n.clone())
        .collect();
    let substitution = Substitution {
        path,
        source,
        values,
        secret,
    };
    let mut sensitive_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    substitution.resources(&mut spec.resources, &mut sensitive_fields)?;
    substitution.group_templates(&mut spec.groups, &mut sensitive_fields)?;
    substitution.provider_configs(&mut spec.providers)?;
    let outputs = substitution.outputs(&spec.outputs)?;
    let parameters = Parameters {
        values: substitution.values,
        sensitive: substitution.secret,
    };
    Ok((outputs, sensitive_fields, parameters))
}

/// The parameters' values and the sensitive ones' names, substituted into a spec read from
/// `path` (`source` its text, to point errors at).
struct Substitution<'a> {
    path: &'a Path,
    source: &'a std::sync::Arc<String>,
    values: BTreeMap<String, Value>,
    secret: BTreeSet<String>,
}

impl Substitution<'_> {
    /// `value` with the parameters substituted, and whether a sensitive one flows into it.
    fn sub(&self, value: &Value) -> Result<(Value, bool), String> {
        parameters::substitute(value, &self.values, &self.secret)
    }

    /// An error at `json_path`, about `field` of `subject`.
    fn at(
        &self,
        subject: Option<String>,
        field: Option<&str>,
        json_path: &str,
        message: String,
    ) -> SpecError {
        located(
            self.path,
            Some(self.source),
            subject,
            field,
            json_path,
            false,
            message,
        )
    }

    /// Substitutes into each resource's properties and tags; the properties a sensitive
    /// parameter flows into are added to `sensitive_fields` under the resource's name.
    fn resources(
        &self,
        resources: &mut IndexMap<String, ResourceSpec>,
        sensitive_fields: &mut BTreeMap<String, BTreeSet<String>>,
    ) -> Result<()> {
        for (name, resource) in resources.iter_mut() {
            let touched = if resource.properties.mentions(".Parameters.") {
                resource
                    .properties
                    .edit(|p| self.properties(p, "resource", "Resources", name))?
            } else {
                BTreeSet::new()
            };
            if !touched.is_empty() {
                sensitive_fields
                    .entry(name.clone())
                    .or_default()
                    .extend(touched);
            }
            for (key, value) in resource.tags.iter_mut() {
                let (new, _) = self.sub(&Value::String(value.clone())).map_err(|m| {
                    let field = format!("Tags.{key}");
                    let json_path = format!("Resources.{name}.{field}");
                    self.at(
                        Some(format!("resource {name}")),
                        Some(&field),
                        &json_path,
                        m,
                    )
                })?;
                *value = match new {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
            }
        }
        Ok(())
    }

    /// Substitutes into each group's template properties; the properties a sensitive
    /// parameter flows into are added to `sensitive_fields` under `group NAME`.
    fn group_templates(
        &self,
        groups: &mut IndexMap<String, group::GroupSpec>,
        sensitive_fields: &mut BTreeMap<String, BTreeSet<String>>,
    ) -> Result<()> {
        for (name, g) in groups.iter_mut() {
            let touched = self.properties(&mut g.properties, "group", "Groups", name)?;
            if !touched.is_empty() {
                sensitive_fields
                    .entry(format!("group {name}"))
                    .or_default()
                    .extend(touched);
            }
        }
        Ok(())
    }

    /// Substitutes into each top-level property of `properties`, those of `kind NAME` (at
    /// `section.NAME`); the properties a sensitive parameter flows into.
    fn properties(
        &self,
        properties: &mut Value,
        kind: &str,
        section: &str,
        name: &str,
    ) -> Result<BTreeSet<String>> {
        let mut sensitive = BTreeSet::new();
        if let Some(props) = properties.as_object_mut() {
            for (field, value) in props.iter_mut() {
                let (new, touched) = self.sub(value).map_err(|m| {
                    let field = format!("Properties.{field}");
                    let json_path = format!("{section}.{name}.{field}");
                    self.at(Some(format!("{kind} {name}")), Some(&field), &json_path, m)
                })?;
                *value = new;
                if touched {
                    sensitive.insert(field.clone());
                }
            }
        }
        Ok(sensitive)
    }

    /// Substitutes into each provider's configuration.
    fn provider_configs(&self, providers: &mut IndexMap<String, ProviderSpec>) -> Result<()> {
        for (name, provider) in providers.iter_mut() {
            let field = format!("Providers.{name}.Config");
            let (new, _) = self
                .sub(&provider.config)
                .map_err(|m| self.at(None, Some(&field), &field, m))?;
            provider.config = new;
        }
        Ok(())
    }

    /// The outputs read, the parameters substituted (sensitive when a sensitive one flows
    /// into them).
    fn outputs(
        &self,
        raw_outputs: &IndexMap<String, Value>,
    ) -> Result<IndexMap<String, OutputSpec>> {
        let mut outputs = IndexMap::new();
        for (name, raw) in raw_outputs {
            let json_path = format!("Outputs.{name}");
            let error = |m: String| self.at(Some(format!("output {name}")), None, &json_path, m);
            let mut output = OutputSpec::read(raw).map_err(error)?;
            let (value, touched) = self.sub(&output.value).map_err(error)?;
            output.value = value;
            output.sensitive |= touched;
            outputs.insert(name.clone(), output);
        }
        Ok(outputs)
    }
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

    #[test]
    fn a_resource_without_tags_holds_none_and_equals_one_with_an_empty_map() {
        let mut none = ResourceTags::default();
        assert_eq!(none.iter_mut().count(), 0);
        assert!(none.0.is_none(), "changing no tags made no map");
        assert_eq!(none, ResourceTags::from(BTreeMap::new()));
        assert_eq!(none, ResourceTags(Some(Box::default())));
        let tags: ResourceTags = serde_json::from_str(r#"{"Team": "a"}"#).unwrap();
        assert_eq!(tags.get("Team").map(String::as_str), Some("a"));
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"{"Team":"a"}"#);
    }

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
    fn the_bootstrap_script_fills_its_template_and_bad_sections_name_the_field() {
        let key = crate::registry::signing::public_text(
            &ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
        );
        let spec = |bootstrap: &str, state: &str| {
            format!(
                r#"{{"State": {state}, {bootstrap}
                "Groups": {{"M": {{"Size": 1, "Plugin": "p", "Type": "T",
                    "Properties": {{"UserData": "{{{{.Bootstrap.UserData}}}}"}}}}}}}}"#
            )
        };
        let s3 = r#"{"Backend": "s3", "Bucket": "bucket-b", "Key": "k.json"}"#;
        let good = format!(r#""Bootstrap": {{"TrustedKeys": ["{key}"], "Install": "true"}},"#);
        let loaded = parse(Path::new("s.json"), &spec(&good, s3)).unwrap();
        let properties = loaded.spec.resources["M[0]"].properties.value();
        let user_data = properties["UserData"].as_str().unwrap();
        assert!(
            user_data.contains("--state 's3://bucket-b/k.json'"),
            "{user_data}"
        );
        assert!(user_data.starts_with("#!/bin/sh\n# rkit bootstrap:"));
        assert_eq!(
            err(&spec("", s3)),
            "s.json:3:48: group M: field Properties.UserData: {{.Bootstrap.UserData}} is the \
             script of a \"Bootstrap\" section, and this spec has none"
        );
        assert_eq!(
            err(&spec(&good, r#"{"Path": "x.json"}"#)),
            "s.json:1:44: field Bootstrap: the machines reach the stack's state over S3: give \
             the spec a \"State\" with \"Backend\": \"s3\""
        );
        let no_keys = r#""Bootstrap": {"Install": "true"},"#;
        assert_eq!(
            err(&spec(no_keys, s3)),
            "s.json:1:82: field Bootstrap.TrustedKeys: give the public key(s) the machines trust \
             for the bundle (ed25519:…, the .pub of the key `rkit bootstrap --sign` uses)"
        );
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
    fn a_key_written_twice_is_refused_where_it_is() {
        assert_eq!(
            err(
                "{\n  \"Resources\": {\n    \"Net\": {\"Plugin\": \"p\", \"Type\": \"T\"},\n    \"Net\": {\"Plugin\": \"p\", \"Type\": \"U\"}\n  }\n}"
            ),
            "s.json:4:9: key \"Net\" appears twice in Resources"
        );
        assert!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Properties": {"X": 1, "X": 2}}}}"#)
                .contains("key \"X\" appears twice in Resources.A.Properties"),
        );
    }

    #[test]
    fn a_repeated_state_section_is_read_as_its_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let last = r#""State": {"Path": "b.json"}"#;
        std::fs::write(
            &path,
            format!(r#"{{"State": {{"Path": "a.json"}}, {last}}}"#),
        )
        .unwrap();
        let (repeated, _) = state_of(&path).unwrap();
        std::fs::write(&path, format!("{{{last}}}")).unwrap();
        assert_eq!(repeated, state_of(&path).unwrap().0);
        std::fs::write(&path, r#"{"State": null}"#).unwrap();
        let error = state_of(&path).unwrap_err().to_string();
        assert!(
            error.ends_with("State: invalid type: null, expected struct StateSpec"),
            "{error}"
        );
    }

    #[test]
    fn the_state_section_of_a_spec_with_a_byte_order_mark_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let spec = r#"{"State": {"Path": "elsewhere.json"}, "Resources": {}}"#;
        std::fs::write(&path, spec).unwrap();
        let (without, _) = state_of(&path).unwrap();
        std::fs::write(&path, format!("\u{feff}{spec}")).unwrap();
        let (with, _) = state_of(&path).unwrap();
        assert_eq!(with, without);
        assert_ne!(with, crate::state::location::beside(&path));
    }

    #[test]
    fn a_byte_order_mark_is_read_past_and_errors_at_any_character_render() {
        let spec = "\u{feff}{\"Resources\": {\"A\": {\"Plugin\": \"p\", \"Type\": \"T\"}}}";
        assert_eq!(
            parse(Path::new("s.json"), spec)
                .unwrap()
                .spec
                .resources
                .len(),
            1
        );
        // Errors located at a multi-byte character render without cutting it.
        for text in [
            "\u{feff}\u{feff}{}",
            "{\"Résumé\": é}",
            "{\"A\": 1,\n\"é\"\u{2028}}",
            "\u{1F600}",
        ] {
            let e = parse(Path::new("s.json"), text).unwrap_err();
            let shown = match e.downcast_ref::<diagnostic::SpecError>() {
                Some(spec_error) => spec_error.render(),
                None => e.to_string(),
            };
            assert!(shown.contains("s.json"), "{shown}");
        }
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
            "s.json:1:21: resource A: missing field `Type`"
        );
        assert!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Propertys": {}}}}"#)
                .starts_with("s.json:1:50: resource A: field Propertys: unknown field `Propertys`")
        );
        assert_eq!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": 3}}}"#),
            "s.json:1:45: resource A: field Type: invalid type: integer `3`, expected a string"
        );
    }

    #[test]
    fn a_group_size_takes_a_parameter_and_errors_speak_of_numbers() {
        let text = r#"{"Parameters": {"N": {"Type": "Number", "Default": 2}},
            "Groups": {"Web": {"Size": "{{.Parameters.N}}", "Plugin": "p", "Type": "T"}}}"#;
        let spec = parse(Path::new("s.json"), text).unwrap();
        assert_eq!(spec.members["Web"], ["Web[0]", "Web[1]"]);
        assert_eq!(
            err(r#"{"Groups": {"Web": {"Size": "two", "Plugin": "p", "Type": "T"}}}"#),
            "s.json:1:29: field Groups.Web.Size: invalid type: string \"two\", expected a whole number from 0 to 4294967295"
        );
    }

    #[test]
    fn unknown_references_name_resource_and_field() {
        assert_eq!(
            err(
                r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "Properties": {"X": {"Y": "{{.Resources.Nope.ID}}"}}}}}"#
            ),
            "s.json:1:76: resource A: field Properties.X.Y: reference {{.Resources.Nope.ID}} names no resource of this spec"
        );
        assert_eq!(
            err(r#"{"Resources": {"A": {"Plugin": "p", "Type": "T", "DependsOn": ["B"]}}}"#),
            "s.json:1:64: resource A: field DependsOn: \"B\" names no resource of this spec"
        );
    }
}
