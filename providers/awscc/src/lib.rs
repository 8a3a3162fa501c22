//! # awscc: every AWS resource type Cloud Control provisions (work in progress, issue 28)
//!
//! The provider's types are generated from the CloudFormation resource provider schemas, not
//! written by hand: `tools/awscc/generate.py` extracts what rkit needs from a pinned cfn-lint
//! into `schemas/us-east-1.json.gz`, and [`schema`] reads each type from it on demand.
//! Type names and properties are CloudFormation's (`AWS::EC2::VPC`, `CidrBlock`), so a
//! CloudFormation user's `Properties` work as they are.
//!
//! What is here so far, each tested natively:
//! - [`schema`]: the artifact and its reading ([`schema::Catalog`], [`schema::TypeSpec`]:
//!   replacement paths, write-only and read-only properties, attributes, identifiers,
//!   tagging), over every type;
//! - [`patch`]: the minimal JSON Patch an `UpdateResource` carries;
//! - [`progress`]: a request's `ProgressEvent` read as what to do next, and handler error
//!   codes as rkit's error kinds;
//! - [`shape`]: a read projected onto the known properties, so that service defaults and
//!   reordered unordered lists are not drift and write-only values compare as recorded.
//!
//! The component's exports (Cloud Control requests through the sandbox, readiness through the
//! SPI's `pending`) come with the SPI version that carries resource-type capabilities and
//! schemas on demand.

pub mod patch;
pub mod progress;
pub mod schema;
pub mod shape;
