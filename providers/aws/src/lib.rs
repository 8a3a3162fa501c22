//! # The rkit AWS provider
//!
//! EC2 (`Vpc`, `Subnet`, `InternetGateway`, `RouteTable`, `SecurityGroup`, `Volume`,
//! `VolumeAttachment`, `Instance`) and ELBv2 (`LoadBalancer`, `TargetGroup`, `Listener`),
//! spoken over the AWS Query protocol from inside the sandbox: wasi:http requests signed with
//! SigV4. Credentials, region and endpoints come from rkit (`configure`); the sandbox lets
//! the provider reach those endpoints and nothing else.
//!
//! Every created object carries rkit's tags from its creation (`TagSpecification`), and a
//! create first looks for an object already carrying its stack and name tags and adopts it,
//! so an apply killed between AWS's answer and rkit's journal never leaves a duplicate.

mod client;
mod ec2;
mod elbv2;
mod query;
mod sets;
mod wait;
mod xml;

use aws_credential_types::Credentials;
use client::Client;
use rkit_sdk::{Capabilities, Provider, Registry, Result};
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

/// The configured provider: an API client and how long to wait for readiness.
pub struct Aws {
    pub(crate) api: Client,
    pub(crate) wait: wait::Waiter,
}

/// Service endpoints (full URLs); rkit fills in the regional ones.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Endpoints {
    pub ec2: Option<String>,
    pub elbv2: Option<String>,
}

/// The configuration rkit hands over. rkit resolves it from the spec's `Providers.NAME.Config`,
/// then the AWS SDKs' variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, …)
/// and shared files; the provider never reads the environment itself.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Config {
    /// The region, e.g. `us-east-1` (also the SigV4 signing region).
    pub region: Option<String>,
    /// One endpoint URL for every service (emulators, private endpoints).
    pub endpoint: Option<String>,
    /// Per-service endpoint URLs; they win over `Endpoint`.
    #[serde(default)]
    pub endpoints: Endpoints,
    /// The shared-file profile rkit reads credentials and region from (default: `AWS_PROFILE`,
    /// else `default`); rkit consumes it.
    pub profile: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// The longest wait for an object to become ready or to go away (default 600 s).
    pub wait_timeout_seconds: Option<u64>,
    /// Attempts per API call on throttling, 5xx answers and failed connections (default 8).
    pub max_attempts: Option<u32>,
}

impl Provider for Aws {
    const NAME: &'static str = "aws";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "AWS EC2 and ELBv2 over the Query protocol (SigV4-signed wasi:http)";
    type Config = Config;

    fn capabilities() -> Capabilities {
        Capabilities {
            http_hosts: vec![
                "https://ec2.*.amazonaws.com".into(),
                "https://elasticloadbalancing.*.amazonaws.com".into(),
            ],
            credentials: vec!["aws".into()],
            ..Capabilities::default()
        }
    }

    fn configure(config: Config) -> Result<Self> {
        let region = config.region.unwrap_or_default();
        let endpoint = |own: Option<String>, prefix: &str| {
            own.or_else(|| config.endpoint.clone()).or_else(|| {
                (!region.is_empty()).then(|| format!("https://{prefix}.{region}.amazonaws.com"))
            })
        };
        let ec2 = endpoint(config.endpoints.ec2, "ec2");
        let elbv2 = endpoint(config.endpoints.elbv2, "elasticloadbalancing");
        let credentials = match (config.access_key_id, config.secret_access_key) {
            (Some(key), Some(secret)) => Some(Credentials::new(
                key,
                secret,
                config.session_token,
                None,
                "rkit",
            )),
            (None, None) => None,
            _ => {
                return Err(rkit_sdk::Error::invalid(
                    "AccessKeyId",
                    "AccessKeyId and SecretAccessKey go together",
                ));
            }
        };
        let signing_region = if region.is_empty() {
            "us-east-1".to_string()
        } else {
            region
        };
        Ok(Aws {
            api: Client::new(
                signing_region,
                credentials,
                ec2,
                elbv2,
                config.max_attempts.unwrap_or(8),
            ),
            wait: wait::Waiter::new(Duration::from_secs(
                config.wait_timeout_seconds.unwrap_or(600),
            )),
        })
    }

    fn register(types: &mut Registry<Self>) {
        types
            .add::<ec2::vpc::Vpc>()
            .add::<ec2::subnet::Subnet>()
            .add::<ec2::internet_gateway::InternetGateway>()
            .add::<ec2::route_table::RouteTable>()
            .add::<ec2::security_group::SecurityGroup>()
            .add::<ec2::volume::Volume>()
            .add::<ec2::volume_attachment::VolumeAttachment>()
            .add::<ec2::instance::Instance>()
            .add::<elbv2::load_balancer::LoadBalancer>()
            .add::<elbv2::target_group::TargetGroup>()
            .add::<elbv2::listener::Listener>();
    }
}

rkit_sdk::export_provider!(Aws);
