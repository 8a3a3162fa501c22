//! The __NAME__ provider: one resource type, `Greeting`, to start from.
//!
//! Replace what `Greeting` does with real calls (`wstd::http` reaches what the user grants in
//! `Grants.Http`), register more types, and build with
//! `cargo build --release --target wasm32-wasip2`.

use rkit_sdk::{Created, NoConfig, Observed, Provider, Registry, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub struct ThisProvider;

impl Provider for ThisProvider {
    const NAME: &'static str = "__NAME__";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "The __NAME__ provider";
    type Config = NoConfig;

    fn configure(_: NoConfig) -> Result<Self> {
        Ok(ThisProvider)
    }

    fn register(types: &mut Registry<Self>) {
        types.add::<Greeting>();
    }
}

rkit_sdk::export_provider!(ThisProvider);

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GreetingProperties {
    /// Who to greet (a new name makes a new greeting).
    pub name: String,
    /// How it ends.
    #[serde(default = "exclamation")]
    pub punctuation: String,
}

fn exclamation() -> String {
    "!".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct GreetingAttributes {
    /// The greeting.
    pub text: String,
}

fn text(p: &GreetingProperties) -> GreetingAttributes {
    GreetingAttributes {
        text: format!("Hello, {}{}", p.name, p.punctuation),
    }
}

/// A greeting that exists only in rkit's state.
pub struct Greeting;

impl Resource for Greeting {
    type Provider = ThisProvider;
    type Properties = GreetingProperties;
    type Attributes = GreetingAttributes;
    const TYPE: &'static str = "Greeting";
    const DESCRIPTION: &'static str = "A greeting that exists only in rkit's state";
    const FORCE_NEW: &'static [&'static str] = &["Name"];

    fn create(_: &ThisProvider, p: &GreetingProperties, _: &Tags) -> Result<Created<GreetingAttributes>> {
        // A real provider passes rkit_sdk::idempotency_token() where its API takes one.
        Ok(Created {
            id: format!("greeting-{}", p.name),
            attributes: text(p),
        })
    }

    fn read(_: &ThisProvider, id: &str, p: &GreetingProperties) -> Result<Option<Observed<Self>>> {
        Ok(Some(Observed {
            id: id.to_string(),
            properties: p.clone(),
            attributes: text(p),
            tags: Tags::new(),
        }))
    }

    fn update(
        _: &ThisProvider,
        _: &str,
        _: &GreetingProperties,
        new: &GreetingProperties,
        _: &Tags,
    ) -> Result<GreetingAttributes> {
        Ok(text(new))
    }

    fn delete(_: &ThisProvider, _: &str, _: &GreetingProperties) -> Result<()> {
        Ok(())
    }

    fn list(_: &ThisProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_greeting_says_hello() {
        let p: GreetingProperties = serde_json::from_str(r#"{"Name": "world"}"#).unwrap();
        assert_eq!(text(&p).text, "Hello, world!");
    }
}
