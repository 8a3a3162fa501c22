//! The `null` provider: one type, `Null`, that keeps nothing and touches nothing (like
//! Terraform's `terraform_data`). Its `Input` comes back as the `Output` attribute. Used to
//! measure the engine and the sandbox without any I/O.

use rkit_sdk::{Created, Error, NoConfig, Observed, Provider, Registry, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The provider.
pub struct NullProvider;

impl Provider for NullProvider {
    const NAME: &'static str = "null";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Resources that do nothing: for benchmarks";
    type Config = NoConfig;

    fn configure(_: NoConfig) -> Result<Self> {
        Ok(NullProvider)
    }

    fn register(types: &mut Registry<Self>) {
        types.add::<Null>();
    }
}

rkit_sdk::export_provider!(NullProvider);

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NullProperties {
    /// Any value; a change updates the resource in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct NullAttributes {
    /// The input, as given.
    pub output: Option<Value>,
}

/// A resource that exists only in rkit's state.
pub struct Null;

impl Resource for Null {
    type Provider = NullProvider;
    type Properties = NullProperties;
    type Attributes = NullAttributes;
    const TYPE: &'static str = "Null";
    const DESCRIPTION: &'static str = "Nothing, with an ID";

    fn create(_: &NullProvider, p: &NullProperties, _: &Tags) -> Result<Created<NullAttributes>> {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| Error::other(format!("random source: {e}")))?;
        Ok(Created {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            attributes: NullAttributes {
                output: p.input.clone(),
            },
        })
    }

    /// A null resource exists for as long as rkit says so: read echoes what it is given.
    fn read(_: &NullProvider, id: &str, p: &NullProperties) -> Result<Option<Observed<Self>>> {
        Ok(Some(Observed {
            id: id.to_string(),
            properties: p.clone(),
            attributes: NullAttributes {
                output: p.input.clone(),
            },
            tags: Tags::new(),
        }))
    }

    fn update(
        _: &NullProvider,
        _: &str,
        _: &NullProperties,
        new: &NullProperties,
        _: &Tags,
    ) -> Result<NullAttributes> {
        Ok(NullAttributes {
            output: new.input.clone(),
        })
    }

    fn delete(_: &NullProvider, _: &str, _: &NullProperties) -> Result<()> {
        Ok(())
    }

    /// Null resources are nowhere to be found but in rkit's state.
    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}
