//! The CloudFormation resource schemas as rkit reads them: the artifact
//! `schemas/us-east-1.json.gz` (made by `tools/awscc/generate.py` from a pinned cfn-lint,
//! never edited by hand) and what each type means to rkit, a [`TypeSpec`].
//!
//! Invariants: only the artifact's index is read up front (`build.rs` splits it into a
//! deflated blob per type) and each type is inflated and parsed only when asked for (a plan
//! using three types reads three); a type offered has Cloud Control's create, read and
//! delete handlers, and one without an update handler is immutable (every property it takes
//! forces replacement); property paths are rkit's (`Export.Name`, `Peers[*].Asn`), converted
//! from the schema's JSON pointers (`/properties/Export/Name`, `/properties/Peers/*/Asn`), and a
//! pointer outside `/properties` is refused, never guessed; the properties schema a spec is
//! checked against holds every property the type takes and none it only reports (top-level
//! `readOnlyProperties` are attributes: `{{.Resources.Role.Attributes.Arn}}`), and every
//! `$ref` in it resolves inside it.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::io::Read;

/// The artifact, split by `build.rs`: each type's schema deflated, one after another…
const BLOBS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/types.bin"));
/// …where each is (`NAME\tOFFSET\tLENGTH` per line, sorted by name)…
const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.tsv"));
/// …and the artifact's outline (format, region, schema date, source).
const META: &str = include_str!(concat!(env!("OUT_DIR"), "/meta.json"));

/// The artifact format this code reads (`Format` in the artifact).
const FORMAT: u32 = 1;

/// Every type's schema, by name, parsed on demand.
pub struct Catalog {
    /// When AWS published the schemas (the artifact's `SchemaDate`).
    pub schema_date: String,
    /// Where they came from (`cfn-lint==1.58.0`).
    pub source: String,
    /// The region they describe.
    pub region: String,
    /// Each type's name and where its schema is, sorted by name.
    types: Vec<(String, Stored)>,
}

/// Where a type's schema text is.
enum Stored {
    /// Deflated, in the built-in blobs.
    Deflated(&'static [u8]),
    /// As text (a catalog parsed from an artifact's JSON).
    Text(Box<RawValue>),
}

/// The artifact's outline.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    format: u32,
    region: String,
    schema_date: String,
    source: String,
}

/// The artifact's JSON: its outline and each type as text.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Artifact {
    #[serde(flatten)]
    meta: Meta,
    types: Vec<Box<RawValue>>,
}

/// What the outline reads of a type: its name.
#[derive(Deserialize)]
struct Named {
    #[serde(rename = "TypeName")]
    type_name: String,
}

impl Catalog {
    /// The catalog of the artifact built into this provider: only its index is read here.
    pub fn builtin() -> Result<Self, String> {
        let meta: Meta = serde_json::from_str(META)
            .map_err(|e| format!("the schema artifact's outline cannot be read: {e}"))?;
        let mut types = Vec::with_capacity(2048);
        for line in INDEX.lines() {
            let mut fields = line.split('\t');
            let (Some(name), Some(at), Some(len)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!("the schema index has a bad line: {line:?}"));
            };
            let (at, len): (usize, usize) = match (at.parse(), len.parse()) {
                (Ok(at), Ok(len)) if at + len <= BLOBS.len() => (at, len),
                _ => return Err(format!("the schema index has a bad line: {line:?}")),
            };
            types.push((name.to_string(), Stored::Deflated(&BLOBS[at..at + len])));
        }
        Self::with(meta, types)
    }

    /// A catalog from the artifact's JSON text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let artifact: Artifact = serde_json::from_str(text)
            .map_err(|e| format!("the schema artifact is not what rkit wrote: {e}"))?;
        let mut types = Vec::with_capacity(artifact.types.len());
        for raw in artifact.types {
            let named: Named = serde_json::from_str(raw.get())
                .map_err(|e| format!("a type of the schema artifact has no name: {e}"))?;
            types.push((named.type_name, Stored::Text(raw)));
        }
        Self::with(artifact.meta, types)
    }

    fn with(meta: Meta, mut types: Vec<(String, Stored)>) -> Result<Self, String> {
        if meta.format != FORMAT {
            return Err(format!(
                "the schema artifact is of format {}; this provider reads format {FORMAT}",
                meta.format
            ));
        }
        types.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            schema_date: meta.schema_date,
            source: meta.source,
            region: meta.region,
            types,
        })
    }

    /// Every type's name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.iter().map(|(name, _)| name.as_str())
    }

    /// How many types are offered.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether no type is offered.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The type `name` as rkit sees it; `None` if Cloud Control does not provision it.
    pub fn get(&self, name: &str) -> Option<Result<TypeSpec, String>> {
        let at = self
            .types
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()?;
        let parsed = match &self.types[at].1 {
            Stored::Text(raw) => serde_json::from_str::<RawType>(raw.get()),
            Stored::Deflated(blob) => {
                let mut text = String::new();
                if let Err(e) = flate2::read::DeflateDecoder::new(*blob).read_to_string(&mut text) {
                    return Some(Err(format!("{name}: its schema cannot be inflated: {e}")));
                }
                serde_json::from_str::<RawType>(&text)
            }
        };
        Some(
            parsed
                .map_err(|e| format!("{name}: its schema cannot be read: {e}"))
                .and_then(TypeSpec::from_raw),
        )
    }
}

/// One type as the artifact holds it (the schema's own keys).
#[derive(Deserialize)]
struct RawType {
    #[serde(rename = "TypeName")]
    type_name: String,
    #[serde(rename = "Handlers")]
    handlers: Vec<String>,
    #[serde(rename = "Properties")]
    properties: Map<String, Value>,
    #[serde(rename = "Definitions")]
    definitions: Map<String, Value>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(rename = "primaryIdentifier")]
    primary_identifier: Vec<String>,
    #[serde(default, rename = "createOnlyProperties")]
    create_only: Vec<String>,
    #[serde(default, rename = "conditionalCreateOnlyProperties")]
    conditional_create_only: Vec<String>,
    #[serde(default, rename = "readOnlyProperties")]
    read_only: Vec<String>,
    #[serde(default, rename = "writeOnlyProperties")]
    write_only: Vec<String>,
    #[serde(default, rename = "replacementStrategy")]
    replacement_strategy: Option<String>,
    #[serde(default)]
    tagging: Option<RawTagging>,
    /// Pointer → the JSONata expression the service applies to what it is given.
    #[serde(default, rename = "propertyTransform")]
    property_transform: Map<String, Value>,
}

/// The schema's `tagging` metadata.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTagging {
    #[serde(default)]
    taggable: Option<bool>,
    #[serde(default)]
    tag_property: Option<String>,
    #[serde(default)]
    tag_on_create: Option<bool>,
    #[serde(default)]
    tag_updatable: Option<bool>,
}

/// A resource type as rkit sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSpec {
    /// CloudFormation's name: `AWS::SQS::Queue`.
    pub name: String,
    /// Cloud Control can update it in place (it has an update handler); else every
    /// property forces replacement.
    pub updatable: bool,
    /// Cloud Control can list it (by tags, for adoption and orphans).
    pub listable: bool,
    /// JSON Schema (draft 2020-12) of the properties a spec may set.
    pub properties_schema: Value,
    /// JSON Schema of the attributes: the top-level properties the type only reports.
    pub attributes_schema: Value,
    /// Property paths whose change forces replacement.
    pub force_new: Vec<String>,
    /// Property paths whose change may force replacement, depending on the object
    /// (`conditionalCreateOnlyProperties`): updated in place, and a handler answering
    /// `NotUpdatable` is reported as needing a replacement.
    pub conditional_force_new: Vec<String>,
    /// Property paths the service rewrites (`propertyTransform`: a name lowercased, an ID
    /// read back as an ARN): a value read back there is the known one when it is the same
    /// text in another case, or the known text after a `/` or `:` (or the reverse).
    pub transformed: Vec<String>,
    /// Property paths set but never read back (passwords): compared with what was recorded,
    /// never with what is read, and never shown.
    pub write_only: Vec<String>,
    /// Property paths the type only reports (top-level ones are the attributes).
    pub read_only: Vec<String>,
    /// The property paths whose values, joined with `|`, are an object's identifier.
    pub identifier: Vec<String>,
    /// How rkit's tags reach the object, if they can.
    pub tagging: Option<Tagging>,
    /// A replacement creates the new object before deleting the old one.
    pub create_before_destroy: bool,
}

/// Where a type keeps its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagging {
    /// The top-level property holding them (`Tags`).
    pub property: String,
    /// How that property spells them.
    pub format: TagFormat,
    /// Tags can change in place (else a tag change forces replacement).
    pub updatable: bool,
}

/// How a tag property spells tags.
#[derive(Debug, Clone, PartialEq)]
pub enum TagFormat {
    /// `[{"Key": …, "Value": …}]`, as most types do, with the other members each tag must
    /// have (`PropagateAtLaunch: true` for an Auto Scaling group's tags).
    List {
        /// Required members besides `Key` and `Value`, with the value rkit gives them.
        also: Vec<(String, Value)>,
    },
    /// `{"key": "value"}`.
    Map,
}

impl TypeSpec {
    /// Reads one type's schema: paths converted, read-only properties split off as
    /// attributes, `$ref`s rewritten for draft 2020-12.
    fn from_raw(raw: RawType) -> Result<Self, String> {
        let name = raw.type_name.clone();
        let at = |what: &str, e: String| format!("{name}: {what}: {e}");
        let paths = |pointers: &[String], what: &str| -> Result<Vec<String>, String> {
            pointers
                .iter()
                .map(|p| path_of(p).map_err(|e| at(what, e)))
                .collect()
        };
        let read_only = paths(&raw.read_only, "readOnlyProperties")?;
        let write_only = paths(&raw.write_only, "writeOnlyProperties")?;
        let identifier = paths(&raw.primary_identifier, "primaryIdentifier")?;
        let create_only = paths(&raw.create_only, "createOnlyProperties")?;
        let conditional_force_new = paths(
            &raw.conditional_create_only,
            "conditionalCreateOnlyProperties",
        )?;
        // A transform only loosens a comparison: one at a malformed pointer (one schema has
        // `properties/X`) is left out, so that path compares exactly.
        let transformed = raw
            .property_transform
            .keys()
            .filter_map(|p| path_of(p).ok())
            .collect();
        let updatable = raw.handlers.iter().any(|h| h == "update");
        let (properties_schema, attributes_schema) = split_schemas(&raw, &read_only);
        let writable = properties_schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let force_new = if updatable { create_only } else { writable };
        let tagging = tagging_of(&raw, &properties_schema).map_err(|e| at("tagging", e))?;
        let spec = Self {
            updatable,
            listable: raw.handlers.iter().any(|h| h == "list"),
            properties_schema,
            attributes_schema,
            force_new,
            conditional_force_new,
            transformed,
            write_only,
            read_only,
            identifier,
            tagging,
            create_before_destroy: raw.replacement_strategy.as_deref()
                == Some("create_then_delete"),
            name,
        };
        spec.check()?;
        Ok(spec)
    }

    /// Every `$ref` of the schemas resolves inside them, and every identifier path names a
    /// property or an attribute.
    fn check(&self) -> Result<(), String> {
        for schema in [&self.properties_schema, &self.attributes_schema] {
            if let Some(bad) = unresolved_ref(schema, schema) {
                return Err(format!("{}: $ref {bad} resolves to nothing", self.name));
            }
        }
        for path in &self.identifier {
            let top = top_of(path);
            let known = |s: &Value| s["properties"].get(top).is_some();
            if !known(&self.properties_schema) && !known(&self.attributes_schema) {
                return Err(format!(
                    "{}: its identifier {path} is not a property",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

/// rkit's path (`Export.Name`, `Peers[*].Asn`) of a schema pointer (`/properties/Export/Name`,
/// `/properties/Peers/*/Asn`).
pub fn path_of(pointer: &str) -> Result<String, String> {
    let rest = pointer
        .strip_prefix("/properties/")
        .ok_or_else(|| format!("{pointer:?} is not a property's pointer"))?;
    let mut path = String::new();
    for part in rest.split('/') {
        match part {
            "" => return Err(format!("{pointer:?} has an empty step")),
            "*" if !path.is_empty() => path.push_str("[*]"),
            "*" => return Err(format!("{pointer:?} starts with *")),
            name => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name.replace("~1", "/").replace("~0", "~"));
            }
        }
    }
    Ok(path)
}

/// The top-level property of a path.
pub fn top_of(path: &str) -> &str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    &path[..end]
}

/// The properties schema (what a spec may set: every top-level property that is not
/// read-only) and the attributes schema (the read-only top-level ones), with the type's
/// definitions under `$defs`.
fn split_schemas(raw: &RawType, read_only: &[String]) -> (Value, Value) {
    let reported = |name: &str| read_only.iter().any(|p| p == name);
    let mut properties = Map::new();
    let mut attributes = Map::new();
    for (name, schema) in &raw.properties {
        let schema = inline_property_refs(with_2020_refs(schema.clone()), &raw.properties);
        if reported(name) {
            attributes.insert(name.clone(), schema);
        } else {
            properties.insert(name.clone(), schema);
        }
    }
    let defs: Map<String, Value> = raw
        .definitions
        .iter()
        .map(|(name, schema)| {
            let schema = inline_property_refs(with_2020_refs(schema.clone()), &raw.properties);
            (name.clone(), schema)
        })
        .collect();
    let required: Vec<&String> = raw.required.iter().filter(|r| !reported(r)).collect();
    let mut props = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    let mut attrs = json!({ "type": "object", "properties": attributes });
    if !required.is_empty() {
        props["required"] = json!(required);
    }
    if !defs.is_empty() {
        props["$defs"] = Value::Object(defs.clone());
        attrs["$defs"] = Value::Object(defs);
    }
    (props, attrs)
}

/// `schema` with draft-07 `#/definitions/X` references spelled as draft 2020-12's `#/$defs/X`.
fn with_2020_refs(mut schema: Value) -> Value {
    match &mut schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/definitions/") {
                            *target = format!("#/$defs/{name}");
                        }
                    }
                    (_, value) => *value = with_2020_refs(value.take()),
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = with_2020_refs(item.take());
            }
        }
        _ => {}
    }
    schema
}

/// `schema` with each `$ref` to another top-level property (`#/properties/Arn`, which may
/// be an attribute, not in the properties schema) replaced by that property's schema.
fn inline_property_refs(mut schema: Value, properties: &Map<String, Value>) -> Value {
    let target = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/properties/"));
    if let Some(inlined) = target.and_then(|name| properties.get(name)) {
        return with_2020_refs(inlined.clone());
    }
    match &mut schema {
        Value::Object(map) => {
            for value in map.values_mut() {
                *value = inline_property_refs(value.take(), properties);
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = inline_property_refs(item.take(), properties);
            }
        }
        _ => {}
    }
    schema
}

/// The first `$ref` in `schema` that does not resolve inside `root`.
fn unresolved_ref(schema: &Value, root: &Value) -> Option<String> {
    match schema {
        Value::Object(map) => map
            .iter()
            .find_map(|(key, value)| match (key.as_str(), value) {
                ("$ref", Value::String(target)) => {
                    let pointer = target.strip_prefix('#')?;
                    root.pointer(pointer).is_none().then(|| target.clone())
                }
                _ => unresolved_ref(value, root),
            }),
        Value::Array(items) => items.iter().find_map(|item| unresolved_ref(item, root)),
        _ => None,
    }
}

/// Where the type keeps tags: a top-level property of a list of `{Key, Value}` (whose other
/// required members are booleans, set true) or of a string map; `None` when the type takes no
/// tags, keeps them deeper than the top level, or spells them otherwise (rkit then cannot find
/// its objects by tags).
fn tagging_of(raw: &RawType, properties: &Value) -> Result<Option<Tagging>, String> {
    let Some(t) = &raw.tagging else {
        return Ok(None);
    };
    let (Some(true), Some(pointer)) = (t.taggable, &t.tag_property) else {
        return Ok(None);
    };
    let path = path_of(pointer)?;
    if path != top_of(&path) {
        return Ok(None);
    }
    let Some(schema) = properties["properties"].get(&path) else {
        return Err(format!(
            "the tag property {path} is not a property it takes"
        ));
    };
    let schema = resolved(schema, properties);
    let listed = schema["type"] == "array" || schema.get("items").is_some();
    let format = if listed {
        list_format(resolved(&schema["items"], properties))
    } else {
        map_format(schema)
    };
    Ok(format.map(|format| Tagging {
        property: path,
        format,
        updatable: t.tag_updatable.unwrap_or(true) && t.tag_on_create != Some(false),
    }))
}

/// A list of tags whose items have `Key` and `Value`, and only booleans besides among their
/// required members.
fn list_format(item: &Value) -> Option<TagFormat> {
    let members = item["properties"].as_object()?;
    if !members.contains_key("Key") || !members.contains_key("Value") {
        return None;
    }
    let mut also = Vec::new();
    for name in item["required"].as_array().into_iter().flatten() {
        let name = name.as_str()?;
        if name == "Key" || name == "Value" {
            continue;
        }
        if members.get(name)?["type"] != "boolean" {
            return None;
        }
        also.push((name.to_string(), Value::Bool(true)));
    }
    Some(TagFormat::List { also })
}

/// A map of tags: an object that takes names it does not list.
fn map_format(schema: &Value) -> Option<TagFormat> {
    let closed = schema.get("patternProperties").is_none()
        && schema["additionalProperties"] == Value::Bool(false);
    (!closed).then_some(TagFormat::Map)
}

/// `schema`, or what its `$ref` points to inside `root` (following a chain of them, at most
/// 16 steps).
pub fn resolved<'a>(mut schema: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => schema = target,
                None => return schema,
            },
            None => return schema,
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_in_the_artifact_converts() {
        let catalog = Catalog::builtin().unwrap();
        assert!(catalog.len() > 1500, "{} types", catalog.len());
        assert!(!catalog.schema_date.is_empty() && catalog.source.starts_with("cfn-lint=="));
        let mut failed = Vec::new();
        for name in catalog.names() {
            match catalog.get(name).unwrap() {
                Ok(spec) => assert_eq!(spec.name, name),
                Err(e) => failed.push(e),
            }
        }
        assert!(failed.is_empty(), "{} failed: {failed:#?}", failed.len());
    }

    #[test]
    fn a_queue_reads_as_cloudformation_defines_it() {
        let catalog = Catalog::builtin().unwrap();
        let queue = catalog.get("AWS::SQS::Queue").unwrap().unwrap();
        assert!(queue.updatable && queue.listable);
        assert_eq!(queue.force_new, ["FifoQueue", "QueueName"]);
        assert_eq!(queue.identifier, ["QueueUrl"]);
        let attributes = queue.attributes_schema["properties"].as_object().unwrap();
        assert_eq!(attributes.keys().collect::<Vec<_>>(), ["Arn", "QueueUrl"]);
        assert!(queue.properties_schema["properties"].get("Arn").is_none());
        assert!(queue.properties_schema["properties"]["VisibilityTimeout"].is_object());
        assert_eq!(
            queue.tagging,
            Some(Tagging {
                property: "Tags".into(),
                format: TagFormat::List { also: vec![] },
                updatable: true,
            })
        );
        assert!(catalog.get("AWS::SQS::NoSuchThing").is_none());
    }

    #[test]
    fn nested_create_only_and_write_only_paths_are_rkits() {
        assert_eq!(path_of("/properties/Export/Name").unwrap(), "Export.Name");
        assert_eq!(
            path_of("/properties/Config/Bgp/*/PeerAsn").unwrap(),
            "Config.Bgp[*].PeerAsn"
        );
        assert_eq!(path_of("/properties/a~1b").unwrap(), "a/b");
        assert_eq!(
            path_of("/definitions/X").unwrap_err(),
            "\"/definitions/X\" is not a property's pointer"
        );
        assert_eq!(top_of("Config.Bgp[*].PeerAsn"), "Config");
        assert_eq!(top_of("Tags"), "Tags");
        let catalog = Catalog::builtin().unwrap();
        let peer = catalog
            .get("AWS::EC2::TransitGatewayConnectPeer")
            .unwrap()
            .unwrap();
        assert!(
            peer.force_new
                .iter()
                .any(|p| p == "ConnectPeerConfiguration.BgpConfigurations[*].PeerAsn"),
            "{:?}",
            peer.force_new
        );
    }

    #[test]
    fn an_immutable_type_replaces_on_every_change_and_refs_are_2020s() {
        let catalog = Catalog::builtin().unwrap();
        let immutable = catalog
            .names()
            .map(|n| catalog.get(n).unwrap().unwrap())
            .find(|t| !t.updatable)
            .expect("some type has no update handler");
        let takes: Vec<&String> = immutable.properties_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(immutable.force_new.iter().collect::<Vec<_>>(), takes);
        let role = catalog.get("AWS::IAM::Role").unwrap().unwrap();
        let text = role.properties_schema.to_string();
        assert!(text.contains("#/$defs/") && !text.contains("#/definitions/"));
    }

    #[test]
    fn tags_take_the_members_a_type_requires() {
        let catalog = Catalog::builtin().unwrap();
        let group = catalog
            .get("AWS::AutoScaling::AutoScalingGroup")
            .unwrap()
            .unwrap();
        assert_eq!(
            group.tagging.unwrap().format,
            TagFormat::List {
                also: vec![("PropagateAtLaunch".into(), Value::Bool(true))]
            }
        );
        let mut formats = [0, 0];
        for name in catalog.names() {
            match catalog
                .get(name)
                .unwrap()
                .unwrap()
                .tagging
                .map(|t| t.format)
            {
                Some(TagFormat::List { .. }) => formats[0] += 1,
                Some(TagFormat::Map) => formats[1] += 1,
                None => {}
            }
        }
        assert!(formats[0] > 1000 && formats[1] > 100, "{formats:?}");
    }

    #[test]
    fn conditional_create_only_and_transformed_paths_are_read() {
        let catalog = Catalog::builtin().unwrap();
        let cluster = catalog.get("AWS::RDS::DBCluster").unwrap().unwrap();
        assert!(
            cluster
                .transformed
                .iter()
                .any(|p| p == "DBClusterIdentifier")
        );
        let counts = catalog.names().fold([0, 0], |[c, t], name| {
            let spec = catalog.get(name).unwrap().unwrap();
            let c = c + usize::from(!spec.conditional_force_new.is_empty());
            [c, t + spec.transformed.len()]
        });
        assert!(counts[0] >= 40 && counts[1] >= 200, "{counts:?}");
    }

    #[test]
    fn data_in_a_schema_is_kept_as_it_is() {
        // `default` and `dependentRequired` hold data whose keys are not keywords.
        let catalog = Catalog::builtin().unwrap();
        let stream = catalog.get("AWS::Kinesis::Stream").unwrap().unwrap();
        assert_eq!(
            stream.properties_schema["properties"]["StreamModeDetails"]["default"],
            json!({"StreamMode": "PROVISIONED"})
        );
        let table = catalog.get("AWS::DynamoDB::Table").unwrap().unwrap();
        assert_eq!(
            table.properties_schema["$defs"]["SSESpecification"]["dependentRequired"],
            json!({"KMSMasterKeyId": ["SSEType"]})
        );
    }

    #[test]
    fn a_wrong_artifact_is_refused_with_its_format() {
        let text = r#"{"Format": 9, "Region": "r", "SchemaDate": "d", "Source": "s", "Types": []}"#;
        assert_eq!(
            Catalog::parse(text).err().unwrap(),
            "the schema artifact is of format 9; this provider reads format 1"
        );
    }
}
