// The `echo` test provider, shared by its two builds (echo-v1, echo-v2), which differ only
// in VERSION and HTTP_HOSTS: a provider upgrade that asks for one more HTTP host.

use rkit_sdk::{Capabilities, Created, NoConfig, Observed, Provider, Registry, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The provider.
pub struct EchoProvider;

impl Provider for EchoProvider {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = VERSION;
    const DESCRIPTION: &'static str = "Test provider: an Echo resource; versions differ in what they ask for";
    type Config = NoConfig;

    fn capabilities() -> Capabilities {
        Capabilities {
            http_hosts: HTTP_HOSTS.iter().map(|h| h.to_string()).collect(),
            ..Capabilities::default()
        }
    }

    fn configure(_: NoConfig) -> Result<Self> {
        Ok(EchoProvider)
    }

    fn register(types: &mut Registry<Self>) {
        types.add::<Echo>();
    }
}

rkit_sdk::export_provider!(EchoProvider);

/// A message, kept only in rkit's state.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EchoProps {
    pub message: String,
}

/// The message and the version that made it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct EchoAttrs {
    pub message: String,
    pub version: String,
}

/// Echoes its message.
pub struct Echo;

impl Resource for Echo {
    type Provider = EchoProvider;
    type Properties = EchoProps;
    type Attributes = EchoAttrs;
    const TYPE: &'static str = "Echo";

    fn create(_: &EchoProvider, p: &EchoProps, _: &Tags) -> Result<Created<EchoAttrs>> {
        Ok(Created {
            id: format!("echo-{}", p.message.len()),
            attributes: attributes(p),
        })
    }

    fn read(_: &EchoProvider, id: &str, p: &EchoProps) -> Result<Option<Observed<Self>>> {
        Ok(Some(Observed {
            id: id.to_string(),
            properties: p.clone(),
            attributes: attributes(p),
            tags: Tags::new(),
        }))
    }

    fn update(_: &EchoProvider, _: &str, _: &EchoProps, new: &EchoProps, _: &Tags) -> Result<EchoAttrs> {
        Ok(attributes(new))
    }

    fn delete(_: &EchoProvider, _: &str, _: &EchoProps) -> Result<()> {
        Ok(())
    }

    fn list(_: &EchoProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        // Stateless: nothing to find without rkit's state.
        Ok(Vec::new())
    }
}

fn attributes(p: &EchoProps) -> EchoAttrs {
    EchoAttrs {
        message: p.message.clone(),
        version: VERSION.to_string(),
    }
}
