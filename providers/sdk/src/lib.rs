//! # rkit-sdk: write an rkit provider in tens of lines per resource type
//!
//! A provider is a WebAssembly component exporting the `rkit:provider` SPI (see `wit/`).
//! With this crate, an author implements [`Provider`] once and [`Resource`] per resource
//! type with typed (serde) properties, then calls [`export_provider!`]. The SDK supplies the
//! WIT exports, JSON (de)serialisation with errors naming the field, JSON Schemas derived from
//! the property types (schemars), dispatch by type name and error mapping.
//!
//! The smallest complete provider is `providers/null` (one type, about a hundred lines with
//! docs); `providers/local` shows files, sidecar tags and validation.

pub mod bindings;
mod error;
pub mod json;
mod provider;
mod resource;
#[doc(hidden)]
pub mod runtime;

pub use error::{Error, ErrorKind, Result};
pub use provider::{Capabilities, Provider, Registry};
pub use resource::{Created, Diagnostic, Observed, Resource, Severity, Tags};
pub use runtime::idempotency_token;

/// Configuration for a provider that takes none: an empty JSON object.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Exports provider type `$provider` (implementing [`Provider`]) as the component's
/// `rkit:provider/resources` interface. Call it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        struct __RkitExports;

        impl $crate::bindings::Guest for __RkitExports {
            fn describe() -> $crate::bindings::wit::ProviderInfo {
                $crate::runtime::describe::<$provider>()
            }
            fn describe_types(
                names: Vec<String>,
            ) -> Result<Vec<$crate::bindings::wit::TypeInfo>, $crate::bindings::wit::Error> {
                $crate::runtime::describe_types::<$provider>(names)
            }
            fn configure(config: String) -> Result<(), $crate::bindings::wit::Error> {
                $crate::runtime::configure::<$provider>(config)
            }
            fn validate(
                type_name: String,
                properties: String,
            ) -> Vec<$crate::bindings::wit::Diagnostic> {
                $crate::runtime::validate::<$provider>(type_name, properties)
            }
            fn create(
                type_name: String,
                properties: String,
                tags: Vec<$crate::bindings::wit::Tag>,
                token: String,
            ) -> Result<$crate::bindings::wit::Created, $crate::bindings::wit::Error> {
                $crate::runtime::create::<$provider>(type_name, properties, tags, token)
            }
            fn read(
                type_name: String,
                id: String,
                properties: String,
            ) -> Result<Option<$crate::bindings::wit::Observed>, $crate::bindings::wit::Error> {
                $crate::runtime::read::<$provider>(type_name, id, properties)
            }
            fn read_many(
                type_name: String,
                requests: Vec<$crate::bindings::wit::ReadRequest>,
            ) -> Result<Vec<$crate::bindings::wit::ReadAnswer>, $crate::bindings::wit::Error> {
                $crate::runtime::read_many::<$provider>(type_name, requests)
            }
            fn update(
                type_name: String,
                id: String,
                old_properties: String,
                new_properties: String,
                tags: Vec<$crate::bindings::wit::Tag>,
            ) -> Result<String, $crate::bindings::wit::Error> {
                $crate::runtime::update::<$provider>(
                    type_name,
                    id,
                    old_properties,
                    new_properties,
                    tags,
                )
            }
            fn delete(
                type_name: String,
                id: String,
                properties: String,
            ) -> Result<(), $crate::bindings::wit::Error> {
                $crate::runtime::delete::<$provider>(type_name, id, properties)
            }
            fn list(
                type_name: String,
                tags: Vec<$crate::bindings::wit::Tag>,
            ) -> Result<Vec<$crate::bindings::wit::Observed>, $crate::bindings::wit::Error> {
                $crate::runtime::list::<$provider>(type_name, tags)
            }
        }

        $crate::bindings::__export_provider_world!(__RkitExports with_types_in $crate::bindings);
    };
}
