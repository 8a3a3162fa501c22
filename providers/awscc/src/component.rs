//! The component's exports (`rkit:provider@0.4.0`): every type of the catalog outlined in
//! `describe`, described whole on demand, each operation carried out by [`crate::ops`] over
//! Cloud Control at the endpoint rkit resolved (rkit signs; this code never holds a key).
//!
//! Invariants: the catalog is read once per instance; `describe` names every type and gives no
//! schema (a run asks `describe-types` for the few it uses); a top-level property holding a
//! write-only path is marked `sensitive` in the schema rkit gets, so its value is masked in
//! every output; the configuration is the only thing known of the world.

use crate::client::Client;
use crate::ops::{Ops, Seen};
use crate::schema::{Catalog, TypeSpec, top_of};
use rkit_sdk::bindings::{Guest, wit};
use rkit_sdk::{Error, Tags};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;

/// The API actions the provider calls: Cloud Control's, nothing else.
pub const ACTIONS: &[&str] = &[
    "cloudformation:CreateResource",
    "cloudformation:GetResource",
    "cloudformation:UpdateResource",
    "cloudformation:DeleteResource",
    "cloudformation:ListResources",
    "cloudformation:GetResourceRequestStatus",
    "cloudformation:CancelResourceRequest",
];

/// How long a request may stay in progress before it is cancelled, unless configured
/// (`StuckAfterSeconds`).
const STUCK_AFTER: f64 = 3600.0;

thread_local! {
    static CATALOG: RefCell<Option<Rc<Catalog>>> = const { RefCell::new(None) };
    static CONFIGURED: RefCell<Option<Rc<Configured>>> = const { RefCell::new(None) };
}

/// The configured provider.
struct Configured {
    client: Client,
    stuck_after: f64,
}

fn catalog() -> Result<Rc<Catalog>, Error> {
    CATALOG.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = Rc::new(Catalog::builtin().map_err(Error::other)?);
        *slot = Some(c.clone());
        Ok(c)
    })
}

fn spec_of(type_name: &str) -> Result<TypeSpec, Error> {
    match catalog()?.get(type_name) {
        Some(spec) => spec.map_err(Error::other),
        None => Err(Error::invalid(
            "Type",
            format!(
                "provider awscc has no resource type {type_name:?}: Cloud Control does not provision it (the schemas of {} list {} types)",
                catalog()?.schema_date,
                catalog()?.len()
            ),
        )),
    }
}

fn configured() -> Result<Rc<Configured>, Error> {
    CONFIGURED
        .with(|cell| cell.borrow().clone())
        .ok_or_else(|| Error::other("the provider was called before configure"))
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs `f` on the operations of `type_name`.
fn with_ops<T>(
    type_name: &str,
    f: impl FnOnce(&Ops<'_, Client>) -> Result<T, Error>,
) -> Result<T, wit::Error> {
    let spec = spec_of(type_name)?;
    let config = configured()?;
    let ops = Ops {
        cc: &config.client,
        spec: &spec,
        stuck_after: config.stuck_after,
        now,
    };
    f(&ops).map_err(Into::into)
}

fn parse(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::other(format!("{what} are not JSON: {e}")))
}

fn tags_from(tags: Vec<wit::Tag>) -> Tags {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

fn observed(seen: Seen) -> wit::Observed {
    wit::Observed {
        id: seen.id,
        properties: seen.properties.to_string(),
        attributes: seen.attributes.to_string(),
        tags: seen
            .tags
            .into_iter()
            .map(|(key, value)| wit::Tag { key, value })
            .collect(),
        pending: seen.pending,
    }
}

/// The type whole, for `describe-types`.
fn type_info(spec: &TypeSpec) -> wit::TypeInfo {
    let mut properties = spec.properties_schema.clone();
    for path in &spec.write_only {
        if let Some(p) = properties["properties"].get_mut(top_of(path)) {
            p["sensitive"] = Value::Bool(true);
        }
    }
    wit::TypeInfo {
        name: spec.name.clone(),
        description: String::new(),
        properties_schema: properties.to_string(),
        attributes_schema: spec.attributes_schema.to_string(),
        force_new: spec.force_new.clone(),
        create_before_destroy: spec.create_before_destroy,
        read_batch: crate::ops::READ_BATCH,
    }
}

/// The configuration's JSON Schema.
fn config_schema() -> String {
    json!({
        "type": "object",
        "properties": {
            "Region": {"type": "string"},
            "Endpoints": {"type": "object"},
            "StuckAfterSeconds": {"type": "integer", "minimum": 1},
        },
    })
    .to_string()
}

struct Awscc;

impl Guest for Awscc {
    fn describe() -> wit::ProviderInfo {
        let types = catalog()
            .map(|c| {
                c.names()
                    .map(|name| wit::TypeInfo {
                        name: name.to_string(),
                        description: String::new(),
                        properties_schema: String::new(),
                        attributes_schema: String::new(),
                        force_new: vec![],
                        create_before_destroy: false,
                        read_batch: 1,
                    })
                    .collect()
            })
            .unwrap_or_default();
        wit::ProviderInfo {
            name: "awscc".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Every AWS resource type Cloud Control provisions, from the CloudFormation schemas"
                    .into(),
            config_schema: config_schema(),
            types,
            capabilities: wit::Capabilities {
                http_hosts: vec![],
                filesystem: false,
                memory_mib: 0,
                credentials: vec!["aws".into()],
                api_actions: ACTIONS.iter().map(|a| a.to_string()).collect(),
                resource_types: vec!["AWS::*".into()],
            },
        }
    }

    fn describe_types(names: Vec<String>) -> Result<Vec<wit::TypeInfo>, wit::Error> {
        names
            .iter()
            .map(|n| spec_of(n).map(|s| type_info(&s)).map_err(Into::into))
            .collect()
    }

    fn configure(config: String) -> Result<(), wit::Error> {
        let config = parse("the configuration", &config)?;
        let endpoint = config["Endpoints"]["CloudControl"]
            .as_str()
            .map(str::to_string);
        let stuck_after = config["StuckAfterSeconds"].as_f64().unwrap_or(STUCK_AFTER);
        let configured = Configured {
            client: Client::new(endpoint),
            stuck_after,
        };
        CONFIGURED.with(|cell| *cell.borrow_mut() = Some(Rc::new(configured)));
        Ok(())
    }

    fn validate(type_name: String, properties: String) -> Vec<wit::Diagnostic> {
        let found = match (spec_of(&type_name), parse("the properties", &properties)) {
            (Ok(spec), Ok(props)) => crate::validate::validate(&spec, &props),
            (Err(e), _) | (_, Err(e)) => vec![rkit_sdk::Diagnostic::error(
                e.field.unwrap_or_default(),
                e.message,
            )],
        };
        found
            .into_iter()
            .map(|d| wit::Diagnostic {
                severity: wit::Severity::Error,
                field: d.field,
                message: d.message,
            })
            .collect()
    }

    fn create(
        type_name: String,
        properties: String,
        tags: Vec<wit::Tag>,
        token: String,
    ) -> Result<wit::Created, wit::Error> {
        with_ops(&type_name, |ops| {
            let seen = ops.create(
                &parse("the properties", &properties)?,
                &tags_from(tags),
                &token,
            )?;
            Ok(wit::Created {
                id: seen.id,
                attributes: seen.attributes.to_string(),
                pending: seen.pending,
            })
        })
    }

    fn read(
        type_name: String,
        id: String,
        properties: String,
    ) -> Result<Option<wit::Observed>, wit::Error> {
        with_ops(&type_name, |ops| {
            Ok(ops
                .read(&id, &parse("the properties", &properties)?)?
                .map(observed))
        })
    }

    fn read_many(
        type_name: String,
        requests: Vec<wit::ReadRequest>,
    ) -> Result<Vec<wit::ReadAnswer>, wit::Error> {
        with_ops(&type_name, |ops| {
            let asked = requests
                .iter()
                .map(|r| Ok((r.id.clone(), parse("the properties", &r.properties)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(ops
                .read_many(&asked)
                .into_iter()
                .map(|read| match read {
                    Ok(Some(seen)) => wit::ReadAnswer::Found(observed(seen)),
                    Ok(None) => wit::ReadAnswer::Gone,
                    Err(err) => wit::ReadAnswer::Failed(err.into()),
                })
                .collect())
        })
    }

    fn update(
        type_name: String,
        id: String,
        old_properties: String,
        new_properties: String,
        tags: Vec<wit::Tag>,
    ) -> Result<String, wit::Error> {
        with_ops(&type_name, |ops| {
            let old = parse("the recorded properties", &old_properties)?;
            let new = parse("the properties", &new_properties)?;
            Ok(ops.update(&id, &old, &new, &tags_from(tags))?.to_string())
        })
    }

    fn delete(type_name: String, id: String, properties: String) -> Result<(), wit::Error> {
        with_ops(&type_name, |ops| {
            ops.delete(&id, &parse("the properties", &properties)?)
        })
    }

    fn list(type_name: String, tags: Vec<wit::Tag>) -> Result<Vec<wit::Observed>, wit::Error> {
        with_ops(&type_name, |ops| {
            Ok(ops
                .list(&tags_from(tags))?
                .into_iter()
                .map(observed)
                .collect())
        })
    }
}

rkit_sdk::bindings::__export_provider_world!(Awscc with_types_in rkit_sdk::bindings);
