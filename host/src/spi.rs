//! The Resource SPI as the engine sees it: plain Rust values (JSON as `serde_json::Value`),
//! independent of the WebAssembly bindings that carry them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Tags on a resource (key → value).
pub type Tags = BTreeMap<String, String>;

/// What a provider is: `describe`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: Value,
    pub types: Vec<TypeInfo>,
    pub capabilities: Capabilities,
}

impl ProviderInfo {
    /// The resource type called `name`.
    pub fn type_info(&self, name: &str) -> Option<&TypeInfo> {
        self.types.iter().find(|t| t.name == name)
    }
}

/// One resource type of a provider.
#[derive(Debug, Clone, Serialize)]
pub struct TypeInfo {
    pub name: String,
    pub description: String,
    pub properties_schema: Value,
    pub attributes_schema: Value,
    /// Property paths whose change forces replacement (`Name`, `Export.Name`, `Peers[*].Asn`).
    pub force_new: Vec<String>,
    /// Only named so far (`describe`'s outline): the schemas and the rest come from
    /// `describe-types` when a run uses the type ([`crate::sandbox::ProviderModule::described`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outline: bool,
    pub create_before_destroy: bool,
    /// How many resources one `read-many` call takes (1: read one by one), at most
    /// [`MAX_READ_BATCH`] whatever the provider declares.
    pub read_batch: u32,
}

/// The most resources the engine puts in one `read-many` call, whatever a provider declares:
/// it bounds what one call holds in memory and how much one failed call has to repeat.
pub const MAX_READ_BATCH: u32 = 1000;

/// The capabilities a provider asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub http_hosts: Vec<String>,
    pub filesystem: bool,
    pub memory_mib: u32,
    /// Credentials the host resolves and signs the provider's requests with (`aws`).
    pub credentials: Vec<String>,
    /// API actions called with those credentials, `service:Action` (`ec2:Describe*`).
    #[serde(default)]
    pub api_actions: Vec<String>,
    /// Cloud Control resource types touched (`AWS::S3::*`).
    #[serde(default)]
    pub resource_types: Vec<String>,
}

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of `validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Property path; empty for the whole resource.
    pub field: String,
    pub message: String,
}

/// `create`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: String,
    pub attributes: Value,
    /// Made but not ready yet: the engine reads it until it is (see `wit/provider.wit`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// A resource as the provider sees it now.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub id: String,
    pub properties: Value,
    pub attributes: Value,
    pub tags: Tags,
    /// Exists but not usable yet (an instance still starting).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// What kind of failure a provider call hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Conflict,
    /// Throttled or a passing failure: worth retrying.
    Transient,
    Denied,
    Other,
    /// The sandbox stopped the provider: a trap, a panic, a limit or a timeout. The instance
    /// is discarded; the next call gets a fresh one.
    Fault,
    /// A request was sent and no answer came: it may have happened. Not retried blindly.
    OutcomeUnknown,
}

/// A failed provider call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// The property path the error is about, if any.
    pub field: Option<String>,
}

impl ProviderError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) if !field.is_empty() => write!(f, "{field}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}
