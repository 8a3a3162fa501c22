//! The integration tests, as one binary (wasmtime and rkit are linked once, not once per
//! suite): a module per suite, and `common`, the helpers they share. Each suite drives the real
//! `rkit` binary, real provider components and, where it needs one, a real server (moto,
//! docker-registry, etcd) started on 127.0.0.1 and stopped after.
//!
//! `cargo test --release -p rkit --test all SUITE::` runs one suite (`team_state::`).

mod common;

mod aws;
mod awscc;
mod bootstrap;
mod bundles;
mod cli_provider;
mod cloud_control;
mod converge;
mod engine;
mod events;
mod everyday;
mod exactly_once;
mod groups;
mod js_provider;
mod least_privilege;
mod machine_credentials;
mod policy;
mod publishing;
mod python_provider;
mod sandbox_hostile;
mod sandbox_local;
mod team_state;
