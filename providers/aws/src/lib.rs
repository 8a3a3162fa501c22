//! # The rkit AWS provider
//!
//! EC2 (`Vpc`, `Subnet`, `InternetGateway`, `RouteTable`, `SecurityGroup`, `Volume`,
//! `VolumeAttachment`, `Instance`) and ELBv2 (`LoadBalancer`, `TargetGroup`, `Listener`),
//! spoken over the AWS Query protocol from inside the sandbox. The provider never holds a
//! credential: `configure` gives it the region and the endpoints rkit resolved, it sends
//! unsigned requests there, and rkit's sandbox signs each one (SigV4) on its way out, after
//! checking its action against [`ACTIONS`], the list this provider declares and the user
//! approves. Nothing else is reachable.
//!
//! Every created object carries rkit's tags from its creation (`TagSpecification`), so rkit
//! finds it by `list` when an answer was lost or a run was killed (it journals an intent
//! before each create and resolves it that way; with no state, it lists the stack's objects
//! once per type): a create is one request, plus a describe only when its answer does not
//! already show the object ready. Every type reads in batches (`read_many`: one describe per
//! 200 EC2 objects, per 20 ELBv2 ones): each type declares how its objects are described (a
//! `Describe` const) and what it makes of one, and its API's shared code does the reading
//! (`described_reads!`). The provider retries nothing: it classifies each failure
//! (`transient`, `outcome-unknown`, …) and rkit's engine decides.

/// A type's `Resource::read`, `READ_BATCH` and `read_many`, in its `impl Resource`: those of
/// its API's shared code (`ec2` or `elbv2`), from the type's `Described` impl (how its
/// objects are described, what it makes of one).
macro_rules! described_reads {
    ($api:ident) => {
        fn read(
            aws: &$crate::Aws,
            id: &str,
            known: &Self::Properties,
        ) -> rkit_sdk::Result<Option<rkit_sdk::Observed<Self>>> {
            $crate::$api::read::<Self>(aws, id, known)
        }

        const READ_BATCH: u32 = $crate::$api::READ_BATCH;

        fn read_many(
            aws: &$crate::Aws,
            items: &[(&str, &Self::Properties)],
        ) -> rkit_sdk::Result<Vec<rkit_sdk::Result<Option<rkit_sdk::Observed<Self>>>>> {
            $crate::$api::read_many::<Self>(aws, items)
        }
    };
}

mod client;
mod ec2;
mod elbv2;
mod query;
mod sets;
mod wait;
mod xml;

use client::Client;
use rkit_sdk::{Capabilities, Provider, Registry, Result};
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

/// Every API action the provider calls, as IAM spells them: what it declares (and the user
/// approves); rkit's sandbox refuses any other.
pub const ACTIONS: &[&str] = &[
    "ec2:AssociateRouteTable",
    "ec2:AttachInternetGateway",
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateInternetGateway",
    "ec2:CreateRoute",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:CreateVpc",
    "ec2:DeleteInternetGateway",
    "ec2:DeleteRoute",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteTags",
    "ec2:DeleteVolume",
    "ec2:DeleteVpc",
    "ec2:Describe*",
    "ec2:DetachInternetGateway",
    "ec2:DetachVolume",
    "ec2:DisassociateRouteTable",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifySubnetAttribute",
    "ec2:ModifyVolume",
    "ec2:ModifyVpcAttribute",
    "ec2:ReplaceRoute",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:TerminateInstances",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:Describe*",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
];

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
/// then the AWS SDKs' variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, …) and shared files; the
/// provider never reads the environment itself, and credentials stay with rkit (it consumes
/// `Profile`, `AccessKeyId`, `SecretAccessKey` and `SessionToken` from the spec's
/// configuration and signs the provider's requests).
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
    /// The longest wait for an object to become ready or to go away (default 600 s).
    pub wait_timeout_seconds: Option<u64>,
    /// Ignored since 0.2 (kept so older specs still load): rkit's engine owns retries, with
    /// one backoff and one deadline for every provider.
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
            api_actions: ACTIONS.iter().map(|a| a.to_string()).collect(),
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
        Ok(Aws {
            api: Client::new(ec2, elbv2),
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
