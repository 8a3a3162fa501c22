//! rkit: infrastructure as code whose providers run as sandboxed WebAssembly components.
//!
//! - [`sandbox`] loads provider components and runs them with only what they are granted.
//! - [`spi`] holds the Resource SPI's values as the engine sees them.
//! - [`registry`] publishes and fetches provider modules (OCI registries, directories).
//! - [`text`] makes provider-supplied text safe to show on a terminal.
//! - [`output`] writes to standard output and error without panicking on a closed stream.
//! - [`tags`] holds the tag keys rkit puts on what it creates.
//! - [`cli`] is the `rkit` command.

pub mod bundle;
pub mod cli;
pub mod credentials;
pub mod duration;
pub mod engine;
pub mod graph;
pub mod heap;
pub mod interned;
pub mod json_strict;
#[cfg(test)]
mod layers;
pub mod output;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod spec;
pub mod spi;
pub mod state;
pub mod tags;
pub mod text;
pub mod tls;
