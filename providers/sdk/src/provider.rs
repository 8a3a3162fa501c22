//! The trait a provider implements once, and the registry of its resource types.

use crate::error::Result;
use crate::resource::Resource;
use crate::runtime::{ErasedType, Typed};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// The capabilities a provider asks the host for; the host grants them or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Outgoing HTTP destinations, `scheme://host[:port]`.
    pub http_hosts: Vec<String>,
    /// Whether one host directory must be mapped into the sandbox.
    pub filesystem: bool,
    /// Memory needed per instance, in MiB (0: the host's default).
    pub memory_mib: u32,
    /// Credentials the host resolves and signs requests with (`aws`); the provider never
    /// receives them: `configure` gets the region and endpoints.
    pub credentials: Vec<String>,
    /// The API actions called with those credentials, `service:Action` (`ec2:CreateVpc`,
    /// `ec2:Describe*`); the host refuses every other one.
    pub api_actions: Vec<String>,
    /// The AWS Cloud Control resource types touched, as CloudFormation names them
    /// (`AWS::IAM::Role`, or a namespace: `AWS::S3::*`); the host refuses every other one.
    pub resource_types: Vec<String>,
}

/// A provider: its identity, its configuration, and the resource types it registers.
pub trait Provider: Sized + 'static {
    /// The name specs and the CLI know the provider by.
    const NAME: &'static str;
    /// The provider's version (use `env!("CARGO_PKG_VERSION")`).
    const VERSION: &'static str;
    /// One-line description.
    const DESCRIPTION: &'static str = "";

    /// Whether `describe` only names the types (an outline: no schemas), leaving each to
    /// `describe-types`, which rkit calls for the types a run uses. For providers with many
    /// types, or costly schemas; the types are the same either way.
    const OUTLINED: bool = false;

    /// The configuration (and credentials) the host passes to [`Provider::configure`].
    type Config: DeserializeOwned + JsonSchema;

    /// What the provider needs from the sandbox.
    fn capabilities() -> Capabilities {
        Capabilities::default()
    }

    /// Builds the configured provider; every resource call receives it.
    fn configure(config: Self::Config) -> Result<Self>;

    /// Registers the resource types: `types.add::<MyType>()`.
    fn register(types: &mut Registry<Self>);
}

/// The resource types of a provider, by name.
pub struct Registry<P> {
    pub(crate) types: Vec<Box<dyn ErasedType<P>>>,
}

impl<P: Provider> Registry<P> {
    pub(crate) fn build() -> Self {
        let mut registry = Self { types: Vec::new() };
        P::register(&mut registry);
        registry
    }

    /// Adds a resource type.
    pub fn add<R: Resource<Provider = P>>(&mut self) -> &mut Self {
        self.types.push(Box::new(Typed::<R>::default()));
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&dyn ErasedType<P>> {
        self.types
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.as_ref())
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.types.iter().map(|t| t.name()).collect()
    }
}
