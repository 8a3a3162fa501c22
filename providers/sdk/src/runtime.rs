//! The glue between the WIT exports and a typed [`Provider`]: type dispatch, JSON
//! (de)serialisation and the configured provider's lifetime inside the instance.

use crate::bindings::wit;
use crate::error::{Error, Result};
use crate::json::{Wrapped, parse, parse_wrapped, render, rewrap, schema};
use crate::provider::{Provider, Registry};
use crate::resource::{Diagnostic, Observed, Resource, Severity, Tags};
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

/// A resource type with its types erased to JSON text.
pub(crate) trait ErasedType<P> {
    fn name(&self) -> &'static str;
    fn info(&self) -> wit::TypeInfo;
    fn validate(&self, properties: &str) -> Vec<Diagnostic>;
    fn create(&self, provider: &P, properties: &str, tags: &Tags) -> Result<wit::Created>;
    fn read(&self, provider: &P, id: &str, properties: &str) -> Result<Option<wit::Observed>>;
    fn read_many(
        &self,
        provider: &P,
        requests: Vec<wit::ReadRequest>,
    ) -> Result<Vec<wit::ReadAnswer>>;
    fn update(&self, provider: &P, id: &str, old: &str, new: &str, tags: &Tags) -> Result<String>;
    fn delete(&self, provider: &P, id: &str, properties: &str) -> Result<()>;
    fn list(&self, provider: &P, tags: &Tags) -> Result<Vec<wit::Observed>>;
}

pub(crate) struct Typed<R>(PhantomData<R>);

impl<R> Default for Typed<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// Parses properties of type `R`, flat or in its wrapped form.
fn props<R: Resource>(json: &str) -> Result<Wrapped<R::Properties>> {
    parse_wrapped(json, R::PROPERTY_WRAPPER)
}

fn observed<R: Resource>(o: Observed<R>) -> Result<wit::Observed> {
    observed_as::<R>(o, &[])
}

/// `o` for the SPI, with `wrapped_keys` put back inside the type's wrapper.
fn observed_as<R: Resource>(o: Observed<R>, wrapped_keys: &[String]) -> Result<wit::Observed> {
    let properties = match (R::PROPERTY_WRAPPER, wrapped_keys.is_empty()) {
        (Some(wrapper), false) => {
            let mut value = serde_json::to_value(&o.properties)
                .map_err(|err| Error::other(format!("serialising: {err}")))?;
            rewrap(&mut value, wrapper, wrapped_keys);
            render(&value)?
        }
        _ => render(&o.properties)?,
    };
    Ok(wit::Observed {
        pending: !R::ready(&o.attributes),
        id: o.id,
        properties,
        attributes: render(&o.attributes)?,
        tags: to_wit_tags(&o.tags),
    })
}

impl<R: Resource> ErasedType<R::Provider> for Typed<R> {
    fn name(&self) -> &'static str {
        R::TYPE
    }

    fn info(&self) -> wit::TypeInfo {
        wit::TypeInfo {
            name: R::TYPE.into(),
            description: R::DESCRIPTION.into(),
            properties_schema: schema::<R::Properties>(),
            attributes_schema: schema::<R::Attributes>(),
            force_new: R::FORCE_NEW.iter().map(|s| s.to_string()).collect(),
            create_before_destroy: R::CREATE_BEFORE_DESTROY,
            read_batch: R::READ_BATCH.max(1),
        }
    }

    fn validate(&self, properties: &str) -> Vec<Diagnostic> {
        match props::<R>(properties) {
            Ok(props) => R::validate(&props.value),
            Err(err) => vec![Diagnostic::error(
                err.field.unwrap_or_default(),
                err.message,
            )],
        }
    }

    fn create(&self, p: &R::Provider, properties: &str, tags: &Tags) -> Result<wit::Created> {
        let created = R::create(p, &props::<R>(properties)?.value, tags)?;
        Ok(wit::Created {
            pending: !R::ready(&created.attributes),
            id: created.id,
            attributes: render(&created.attributes)?,
        })
    }

    fn read(&self, p: &R::Provider, id: &str, properties: &str) -> Result<Option<wit::Observed>> {
        let known = props::<R>(properties)?;
        R::read(p, id, &known.value)?
            .map(|o| observed_as(o, &known.wrapped_keys))
            .transpose()
    }

    fn read_many(
        &self,
        p: &R::Provider,
        requests: Vec<wit::ReadRequest>,
    ) -> Result<Vec<wit::ReadAnswer>> {
        // Properties that do not parse fail their own request; the others are read together.
        let parsed: Vec<Result<Wrapped<R::Properties>>> =
            requests.iter().map(|r| props::<R>(&r.properties)).collect();
        let good: Vec<(&str, &R::Properties)> = requests
            .iter()
            .zip(&parsed)
            .filter_map(|(r, p)| Some((r.id.as_str(), &p.as_ref().ok()?.value)))
            .collect();
        let mut read = R::read_many(p, &good)?.into_iter();
        if read.len() != good.len() {
            return Err(Error::other(format!(
                "{}::read_many returned {} answers for {} requests",
                R::TYPE,
                read.len(),
                good.len()
            )));
        }
        parsed
            .into_iter()
            .map(|known| {
                let answer = match known {
                    Err(err) => Err(err),
                    Ok(known) => read
                        .next()
                        .expect("counted")
                        .and_then(|o| o.map(|o| observed_as(o, &known.wrapped_keys)).transpose()),
                };
                Ok(match answer {
                    Ok(Some(o)) => wit::ReadAnswer::Found(o),
                    Ok(None) => wit::ReadAnswer::Gone,
                    Err(err) => wit::ReadAnswer::Failed(err.into()),
                })
            })
            .collect()
    }

    fn update(
        &self,
        p: &R::Provider,
        id: &str,
        old: &str,
        new: &str,
        tags: &Tags,
    ) -> Result<String> {
        let (old, new) = (props::<R>(old)?.value, props::<R>(new)?.value);
        render(&R::update(p, id, &old, &new, tags)?)
    }

    fn delete(&self, p: &R::Provider, id: &str, properties: &str) -> Result<()> {
        R::delete(p, id, &props::<R>(properties)?.value)
    }

    fn list(&self, p: &R::Provider, tags: &Tags) -> Result<Vec<wit::Observed>> {
        R::list(p, tags)?.into_iter().map(observed).collect()
    }
}

thread_local! {
    /// The configured provider (set by `configure`) and the type registry, type-erased
    /// because a `thread_local` cannot be generic. One provider lives in one instance.
    static CONFIGURED: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
    static REGISTRY: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

fn registry<P: Provider>() -> Rc<Registry<P>> {
    REGISTRY.with(|cell| {
        let mut slot = cell.borrow_mut();
        let any = slot.get_or_insert_with(|| Rc::new(Registry::<P>::build()) as Rc<dyn Any>);
        any.clone()
            .downcast()
            .expect("one provider type per component")
    })
}

fn configured<P: Provider>() -> Result<Rc<P>> {
    CONFIGURED
        .with(|cell| cell.borrow().clone())
        .ok_or_else(|| Error::other("the provider was called before configure"))?
        .downcast()
        .map_err(|_| Error::other("one provider type per component"))
}

fn lookup<P: Provider>(registry: &Registry<P>, type_name: &str) -> Result<()> {
    match registry.get(type_name) {
        Some(_) => Ok(()),
        None => Err(Error::invalid(
            "Type",
            format!(
                "provider {} has no resource type {type_name:?}; it has: {}",
                P::NAME,
                registry.names().join(", ")
            ),
        )),
    }
}

/// Runs `f` with the configured provider and the named type.
fn with_type<P: Provider, T>(
    type_name: &str,
    f: impl FnOnce(&P, &dyn ErasedType<P>) -> Result<T>,
) -> Result<T, wit::Error> {
    let registry = registry::<P>();
    lookup(&registry, type_name)?;
    let provider = configured::<P>()?;
    let ty = registry.get(type_name).expect("looked up");
    f(&provider, ty).map_err(Into::into)
}

fn tags_from_wit(tags: Vec<wit::Tag>) -> Tags {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

fn to_wit_tags(tags: &Tags) -> Vec<wit::Tag> {
    tags.iter()
        .map(|(key, value)| wit::Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// `describe` for provider `P`.
pub fn describe<P: Provider>() -> wit::ProviderInfo {
    let caps = P::capabilities();
    wit::ProviderInfo {
        name: P::NAME.into(),
        version: P::VERSION.into(),
        description: P::DESCRIPTION.into(),
        config_schema: schema::<P::Config>(),
        types: registry::<P>()
            .types
            .iter()
            .map(|t| match P::OUTLINED {
                true => outline(t.info()),
                false => t.info(),
            })
            .collect(),
        capabilities: wit::Capabilities {
            http_hosts: caps.http_hosts,
            filesystem: caps.filesystem,
            memory_mib: caps.memory_mib,
            credentials: caps.credentials,
            api_actions: caps.api_actions,
            resource_types: caps.resource_types,
        },
    }
}

/// A type's outline: its name and description, no schemas (SPI 0.4).
fn outline(info: wit::TypeInfo) -> wit::TypeInfo {
    wit::TypeInfo {
        properties_schema: String::new(),
        attributes_schema: String::new(),
        force_new: Vec::new(),
        ..info
    }
}

/// `describe-types` for provider `P`: the named types as `describe` gives them, in the order
/// asked.
pub fn describe_types<P: Provider>(names: Vec<String>) -> Result<Vec<wit::TypeInfo>, wit::Error> {
    let registry = registry::<P>();
    names
        .iter()
        .map(|name| {
            lookup(&registry, name)?;
            Ok(registry.get(name).expect("looked up").info())
        })
        .collect::<Result<_>>()
        .map_err(Into::into)
}

/// `configure` for provider `P`.
pub fn configure<P: Provider>(config: String) -> Result<(), wit::Error> {
    let provider = P::configure(parse(&config)?)?;
    CONFIGURED.with(|cell| *cell.borrow_mut() = Some(Rc::new(provider)));
    Ok(())
}

/// `validate` for provider `P`.
pub fn validate<P: Provider>(type_name: String, properties: String) -> Vec<wit::Diagnostic> {
    let registry = registry::<P>();
    let diagnostics = match lookup(&registry, &type_name) {
        Ok(()) => registry
            .get(&type_name)
            .expect("looked up")
            .validate(&properties),
        Err(err) => vec![Diagnostic::error(
            err.field.unwrap_or_default(),
            err.message,
        )],
    };
    diagnostics
        .into_iter()
        .map(|d| wit::Diagnostic {
            severity: match d.severity {
                Severity::Error => wit::Severity::Error,
                Severity::Warning => wit::Severity::Warning,
            },
            field: d.field,
            message: d.message,
        })
        .collect()
}

/// `create` for provider `P`.
pub fn create<P: Provider>(
    type_name: String,
    properties: String,
    tags: Vec<wit::Tag>,
    token: String,
) -> Result<wit::Created, wit::Error> {
    let tags = tags_from_wit(tags);
    TOKEN.with(|t| *t.borrow_mut() = Some(token));
    let created = with_type::<P, _>(&type_name, |p, ty| ty.create(p, &properties, &tags));
    TOKEN.with(|t| *t.borrow_mut() = None);
    created
}

thread_local! {
    /// The idempotency token of the create running now.
    static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// During [`crate::Resource::create`], the idempotency token rkit gave this create: the same
/// for every attempt of it. Pass it where the API takes one (`ClientToken`). `None` outside
/// a create.
pub fn idempotency_token() -> Option<String> {
    TOKEN.with(|t| t.borrow().clone())
}

/// `read` for provider `P`.
pub fn read<P: Provider>(
    type_name: String,
    id: String,
    properties: String,
) -> Result<Option<wit::Observed>, wit::Error> {
    with_type::<P, _>(&type_name, |p, ty| ty.read(p, &id, &properties))
}

/// `read-many` for provider `P`.
pub fn read_many<P: Provider>(
    type_name: String,
    requests: Vec<wit::ReadRequest>,
) -> Result<Vec<wit::ReadAnswer>, wit::Error> {
    with_type::<P, _>(&type_name, |p, ty| ty.read_many(p, requests))
}

/// `update` for provider `P`.
pub fn update<P: Provider>(
    type_name: String,
    id: String,
    old: String,
    new: String,
    tags: Vec<wit::Tag>,
) -> Result<String, wit::Error> {
    let tags = tags_from_wit(tags);
    with_type::<P, _>(&type_name, |p, ty| ty.update(p, &id, &old, &new, &tags))
}

/// `delete` for provider `P`.
pub fn delete<P: Provider>(
    type_name: String,
    id: String,
    properties: String,
) -> Result<(), wit::Error> {
    with_type::<P, _>(&type_name, |p, ty| ty.delete(p, &id, &properties))
}

/// `list` for provider `P`.
pub fn list<P: Provider>(
    type_name: String,
    tags: Vec<wit::Tag>,
) -> Result<Vec<wit::Observed>, wit::Error> {
    let tags = tags_from_wit(tags);
    with_type::<P, _>(&type_name, |p, ty| ty.list(p, &tags))
}
