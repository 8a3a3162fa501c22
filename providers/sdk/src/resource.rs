//! The trait a provider implements once per resource type, and the values it passes around.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;

/// Tags on a resource (key → value). rkit tags every resource with its stack and logical name.
pub type Tags = BTreeMap<String, String>;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops planning.
    Error,
    /// Only shown.
    Warning,
}

/// One finding of validation, about one property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Property path (`Rules[2].Port`); empty for the whole resource.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    /// An error about `field`.
    pub fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A warning about `field`.
    pub fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What `create` returns: the provider-assigned ID and the computed attributes.
#[derive(Debug, Clone)]
pub struct Created<A> {
    pub id: String,
    pub attributes: A,
}

/// A resource as it exists now, as `read` and `list` return it.
#[derive(Debug, Clone)]
pub struct Observed<R: Resource + ?Sized> {
    pub id: String,
    pub properties: R::Properties,
    pub attributes: R::Attributes,
    pub tags: Tags,
}

/// One resource type of a provider. Properties and attributes are typed: the SDK parses and
/// checks the JSON the engine sends (naming the field that is wrong), derives the JSON Schemas
/// from the types, and serialises results.
pub trait Resource: 'static {
    /// The provider this type belongs to; its configured value is passed to every call.
    type Provider: crate::Provider;
    /// The properties a spec sets. Use `#[serde(deny_unknown_fields)]` to catch typos.
    type Properties: Serialize + DeserializeOwned + JsonSchema;
    /// The attributes computed by the provider (the ID is separate).
    type Attributes: Serialize + DeserializeOwned + JsonSchema;

    /// The type name used in specs.
    const TYPE: &'static str;
    /// One-line description.
    const DESCRIPTION: &'static str = "";
    /// Property paths whose change forces replacement: a top-level property (`Name`), a
    /// member of an object (`Export.Name`) or of each element of an array (`Peers[*].Asn`).
    const FORCE_NEW: &'static [&'static str] = &[];
    /// Replace by creating the new resource before deleting the old one.
    const CREATE_BEFORE_DESTROY: bool = false;
    /// A key under which specs may also wrap the properties, as InfraKit specs do
    /// (`{"CreateVpcInput": {"CidrBlock": ...}}`). Wrapped keys are read as top-level ones,
    /// and `read` returns them wrapped again, so drift is compared in the spec's own shape.
    /// List the wrapper in [`Self::FORCE_NEW`] when what it holds is fixed at creation.
    const PROPERTY_WRAPPER: Option<&'static str> = None;

    /// Checks properties beyond what their type already enforces. Touches nothing.
    fn validate(_properties: &Self::Properties) -> Vec<Diagnostic> {
        Vec::new()
    }

    /// Creates the resource carrying `tags`.
    fn create(
        provider: &Self::Provider,
        properties: &Self::Properties,
        tags: &Tags,
    ) -> Result<Created<Self::Attributes>>;

    /// Reads the resource; `None` if it is gone.
    fn read(
        provider: &Self::Provider,
        id: &str,
        properties: &Self::Properties,
    ) -> Result<Option<Observed<Self>>>;

    /// How many resources [`Self::read_many`] takes in one call (rkit never sends more, and
    /// caps it at 1,000). 1, the default: rkit reads this type one by one with [`Self::read`].
    const READ_BATCH: u32 = 1;

    /// Reads many resources in one call (at most [`Self::READ_BATCH`]): one answer per
    /// `(id, last known properties)`, in the same order (`Ok(None)`: gone; `Err`: that one
    /// failed). An `Err` for the whole call means none was read (rkit retries the batch). The
    /// default calls [`Self::read`] for each; override it where the API reads many objects in
    /// one request (a list of IDs).
    fn read_many(
        provider: &Self::Provider,
        items: &[(&str, &Self::Properties)],
    ) -> Result<Vec<Result<Option<Observed<Self>>>>> {
        Ok(items
            .iter()
            .map(|(id, known)| Self::read(provider, id, known))
            .collect())
    }

    /// Whether an object with these attributes is usable. A create whose object is not yet
    /// (an instance still starting) should return at once rather than wait: rkit records the
    /// object, then reads it, many at once with the other new objects of the type, until
    /// this says it is ready. The default: always ready.
    fn ready(_attributes: &Self::Attributes) -> bool {
        true
    }

    /// Changes the resource in place. Only called when no [`Self::FORCE_NEW`] property
    /// changed; a type whose properties are all force-new never sees it.
    fn update(
        _provider: &Self::Provider,
        _id: &str,
        _old: &Self::Properties,
        _new: &Self::Properties,
        _tags: &Tags,
    ) -> Result<Self::Attributes> {
        Err(Error::invalid(
            "",
            format!(
                "{} cannot be updated in place; its provider should mark the property force-new",
                Self::TYPE
            ),
        ))
    }

    /// Deletes the resource; deleting one that is already gone succeeds.
    fn delete(provider: &Self::Provider, id: &str, properties: &Self::Properties) -> Result<()>;

    /// Lists the resources of this type carrying all of `tags`.
    fn list(provider: &Self::Provider, tags: &Tags) -> Result<Vec<Observed<Self>>>;
}
