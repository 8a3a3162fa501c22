//! # awscc: every AWS resource type Cloud Control provisions
//!
//! The provider's types are generated from the CloudFormation resource provider schemas, not
//! written by hand: `tools/awscc/generate.py` extracts what rkit needs from a pinned cfn-lint
//! into `schemas/us-east-1.json.gz`, and [`schema`] reads each type from it on demand.
//! Type names and properties are CloudFormation's (`AWS::EC2::VPC`, `CidrBlock`), so a
//! CloudFormation user's `Properties` work as they are.
//!
//! - [`schema`]: the artifact and its reading ([`schema::Catalog`], [`schema::TypeSpec`]:
//!   replacement paths, write-only and read-only properties, attributes, identifiers,
//!   tagging), over every type;
//! - [`validate`]: a spec's properties checked against the schema before any call, by field;
//! - [`ops`]: the SPI's operations as Cloud Control requests (exactly-once creates by
//!   `ClientToken`, pending under a provisional ID, stuck requests cancelled);
//! - [`client`]: the JSON 1.0 client (rkit's sandbox signs) and its error kinds;
//! - [`patch`]: the minimal JSON Patch an `UpdateResource` carries;
//! - [`progress`]: a request's `ProgressEvent` read as what to do next, and handler error
//!   codes as rkit's error kinds;
//! - [`shape`]: a read projected onto the known properties, so that service defaults and
//!   reordered unordered lists are not drift and write-only values compare as recorded;
//! - [`tags`]: rkit's tags in each type's own tag property;
//! - `component` (wasm32 only): the `rkit:provider@0.4.0` exports: every type outlined in
//!   `describe`, described whole by `describe-types` for the types a run uses.

pub mod client;
#[cfg(target_arch = "wasm32")]
mod component;
pub mod ops;
pub mod patch;
pub mod progress;
pub mod schema;
pub mod shape;
pub mod tags;
pub mod validate;
