//! Credentials a provider asks for by name (its `capabilities.credentials`), resolved here in
//! the host from the user's environment and files. They never reach the guest: `configure`
//! gets the region and the service endpoints, HTTP is granted to exactly those endpoints, and
//! the sandbox signs the provider's requests to them ([`crate::sandbox::AwsSigner`]).
//!
//! `aws` follows the AWS SDKs: explicit configuration (the spec's `Providers.NAME.Config`)
//! first, then the SDK's own chain ([`chain`]: the environment, the profile, web identity,
//! the container's endpoint, the instance profile), and `AWS_ENDPOINT_URL_<SERVICE>` before
//! the common endpoint. The provider is granted HTTP to exactly the resolved service
//! endpoints.

mod chain;

pub use chain::{Identity, REFRESH_AHEAD, Settings, Sources};

use crate::sandbox::{AwsEndpoint, AwsSigner, HttpAllow};
use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};

/// A provider's configuration (without secrets), the HTTP grant the credentials imply, the
/// signer holding them, and in plain words whose they are.
#[derive(Debug, Default)]
pub struct Resolved {
    pub config: Value,
    pub http: Vec<HttpAllow>,
    pub signer: Option<AwsSigner>,
    /// One line per kind: `aws credentials (access key AKIA…WXYZ, from the environment)`.
    pub whose: Vec<String>,
}

/// Fills in the credentials `kinds` of a provider whose spec configuration is `config`.
/// `actions` (the provider's declared API actions) decide which services' endpoints it gets.
pub async fn resolve(
    kinds: &[String],
    config: &Value,
    actions: &[String],
    sources: &Sources,
) -> Result<Resolved> {
    let mut resolved = Resolved {
        config: config.clone(),
        ..Resolved::default()
    };
    for kind in kinds {
        match kind.as_str() {
            "aws" => aws(&mut resolved, actions, sources).await?,
            other => bail!("the provider asks for credentials of an unknown kind {other:?}"),
        }
    }
    Ok(resolved)
}

/// The AWS services the `aws` credentials cover: config key, endpoint host prefix (also the
/// signing name), IAM prefix of its actions, and the suffix of the SDKs'
/// `AWS_ENDPOINT_URL_<SERVICE>` variable. How each routes its requests is the sandbox's table
/// (`sandbox/http/aws_api`).
const AWS_SERVICES: [(&str, &str, &str, &str); 4] = [
    ("Ec2", "ec2", "ec2", "EC2"),
    (
        "Elbv2",
        "elasticloadbalancing",
        "elasticloadbalancing",
        "ELASTIC_LOAD_BALANCING_V2",
    ),
    ("S3", "s3", "s3", "S3"),
    (
        "CloudControl",
        "cloudcontrolapi",
        "cloudformation",
        "CLOUDCONTROL",
    ),
];

/// Whether a provider calling `actions` (`service:Action` patterns) needs the endpoint of the
/// service whose actions are `iam:…`: it names one of them; a provider naming none of these
/// services gets EC2's and ELBv2's (what `aws` meant before S3), never another's unasked.
fn wanted(iam: &str, actions: &[String]) -> bool {
    let named = |p: &str| {
        actions.iter().any(|a| {
            a.split_once(':')
                .is_some_and(|(s, _)| s.eq_ignore_ascii_case(p))
        })
    };
    let by_default = matches!(iam, "ec2" | "elasticloadbalancing");
    named(iam) || (by_default && !AWS_SERVICES.iter().any(|(_, _, p, _)| named(p)))
}

/// Resolves the `aws` credentials into `resolved`. The passes: the spec's own settings taken
/// out of the configuration (the secrets stay in the host), who the host acts as, each wanted
/// service's endpoint (granted and signed for), and the signer.
async fn aws(resolved: &mut Resolved, actions: &[String], sources: &Sources) -> Result<()> {
    let Value::Object(config) = &mut resolved.config else {
        bail!("must be an object");
    };
    let settings = take_settings(config)?;
    let found = chain::identity(settings, sources).await?;
    if let Some(region) = &found.region {
        config.insert("Region".into(), region.clone().into());
    }
    let signed = service_endpoints(config, &mut resolved.http, actions, sources, &found)?;
    let (whose, signer) = signer_of(found, signed);
    resolved.whose.push(whose);
    resolved.signer = Some(signer);
    Ok(())
}

/// The spec's own AWS settings, read from `config`; the keys and `Profile` and `Endpoint`
/// are taken out of it (the secrets are consumed here: they stay in the host).
fn take_settings(config: &mut Map<String, Value>) -> Result<Settings> {
    let explicit = (
        text(config, "AccessKeyId")?,
        text(config, "SecretAccessKey")?,
        text(config, "SessionToken")?,
    );
    let profile = take_text(config, "Profile")?;
    let endpoint = take_text(config, "Endpoint")?;
    for key in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        config.remove(key);
    }
    Ok(Settings {
        explicit,
        profile,
        region: text(config, "Region")?,
        endpoint,
    })
}

/// The string at `key` of `config`, if it is set (`null` is not).
fn text(config: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(anyhow!("{key}: must be a string")),
    }
}

/// The string at `key` of `config`, taken out of it.
fn take_text(config: &mut Map<String, Value>, key: &str) -> Result<Option<String>> {
    match config.remove(key) {
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => bail!("{key}: must be a string"),
        None => Ok(None),
    }
}

/// The endpoint of each service the provider calling `actions` wants (the spec's
/// `Endpoints.KEY`, else `AWS_ENDPOINT_URL_<SERVICE>`, the common endpoint, or the region's),
/// set in `config`'s `Endpoints`, granted in `http`; those to sign for.
fn service_endpoints(
    config: &mut Map<String, Value>,
    http: &mut Vec<HttpAllow>,
    actions: &[String],
    sources: &Sources,
    found: &Identity,
) -> Result<Vec<AwsEndpoint>> {
    let mut endpoints = match config.remove("Endpoints") {
        Some(Value::Object(e)) => e,
        None => Map::new(),
        Some(_) => bail!("Endpoints: must be an object"),
    };
    let mut signed = Vec::new();
    for (key, prefix, iam, var) in AWS_SERVICES {
        if !wanted(iam, actions) {
            continue;
        }
        let endpoint = match text(&endpoints, key).map_err(|e| anyhow!("Endpoints.{e}"))? {
            Some(e) => Some(e),
            None => sources
                .var(&format!("AWS_ENDPOINT_URL_{var}"))
                .or_else(|| found.endpoint.clone())
                .or_else(|| {
                    found
                        .region
                        .as_ref()
                        .map(|r| format!("https://{prefix}.{r}.amazonaws.com"))
                }),
        };
        if let Some(endpoint) = endpoint {
            let origin =
                origin(&endpoint).map_err(|e| anyhow!("Endpoints.{key}: {endpoint:?}: {e}"))?;
            http.push(origin.clone());
            signed.push(AwsEndpoint {
                origin,
                service: prefix.to_string(),
            });
            endpoints.insert(key.into(), endpoint.into());
        }
    }
    config.insert("Endpoints".into(), Value::Object(endpoints));
    http.dedup();
    Ok(signed)
}

/// The signer for the endpoints `signed`, asking `found`'s chain, and in plain words whose
/// credentials it signs with.
fn signer_of(found: Identity, signed: Vec<AwsEndpoint>) -> (String, AwsSigner) {
    let whose = match &found.first {
        Ok(credentials) => format!(
            "aws credentials (access key {}, from {})",
            crate::sandbox::access_key_hint(credentials.access_key_id()),
            found.from()
        ),
        Err(_) => "aws credentials (none found yet)".to_string(),
    };
    // An endpoint without a region (an emulator's, say) is signed for us-east-1.
    let signing_region = found.region.unwrap_or_else(|| "us-east-1".into());
    let hint = found
        .first
        .as_ref()
        .ok()
        .map(|c| c.access_key_id().to_string());
    let signer = AwsSigner::asking(found.provider, hint, signing_region, signed);
    (whose, signer)
}

/// AWS access for the host's own requests to one service (`S3`: the state): its region and
/// endpoint (`AWS_ENDPOINT_URL_<SERVICE>` before the common ones) unless given.
pub async fn aws_access(
    service: &str,
    region: Option<&str>,
    endpoint: Option<&str>,
    sources: &Sources,
) -> Result<Identity> {
    let settings = Settings {
        region: region.map(String::from),
        endpoint: endpoint
            .map(String::from)
            .or_else(|| sources.var(&format!("AWS_ENDPOINT_URL_{service}"))),
        ..Settings::default()
    };
    chain::identity(settings, sources).await
}

/// The `scheme://host[:port]` grant that allows requests to `url`.
fn origin(url: &str) -> Result<HttpAllow> {
    let uri: http::Uri = url.parse().map_err(|e| anyhow!("not a URL: {e}"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        bail!("not an absolute URL (expected scheme://host[:port])");
    };
    Ok(HttpAllow::parse(&format!("{scheme}://{authority}"))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn resolve_with(config: Value, vars: &[(&str, &str)]) -> Resolved {
        let sources = Sources::fake(vars);
        resolve(&["aws".to_string()], &config, &[], &sources)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_provider_gets_the_endpoints_of_the_services_it_calls() {
        let sources = Sources::fake(&[("AWS_REGION", "eu-west-1")]);
        let of = async |actions: &[&str]| {
            let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
            grants(
                &resolve(&["aws".into()], &json!({}), &actions, &sources)
                    .await
                    .unwrap(),
            )
        };
        assert_eq!(
            of(&["s3:PutObject"]).await,
            ["https://s3.eu-west-1.amazonaws.com"]
        );
        assert_eq!(
            of(&["ec2:*"]).await,
            ["https://ec2.eu-west-1.amazonaws.com"],
            "only what it calls"
        );
        // Naming none of them: EC2 and ELBv2, as `aws` always meant; never S3 unasked.
        assert_eq!(
            of(&[]).await,
            [
                "https://ec2.eu-west-1.amazonaws.com",
                "https://elasticloadbalancing.eu-west-1.amazonaws.com"
            ]
        );
    }

    fn grants(r: &Resolved) -> Vec<String> {
        r.http.iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn environment_fills_region_keys_and_regional_endpoints() {
        let r = resolve_with(
            json!({}),
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE0001"),
                ("AWS_SECRET_ACCESS_KEY", "SK"),
            ],
        )
        .await;
        assert_eq!(r.config["Region"], "eu-west-1");
        assert!(
            r.config.get("AccessKeyId").is_none(),
            "no secret for the guest"
        );
        assert!(r.config.get("SecretAccessKey").is_none());
        assert_eq!(
            r.whose,
            ["aws credentials (access key AKIA…0001, from the environment)"]
        );
        assert_eq!(
            r.config["Endpoints"]["Ec2"],
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            grants(&r),
            [
                "https://ec2.eu-west-1.amazonaws.com",
                "https://elasticloadbalancing.eu-west-1.amazonaws.com"
            ]
        );
    }

    #[tokio::test]
    async fn endpoint_override_is_the_only_grant_and_per_service_variables_win() {
        let r = resolve_with(
            json!({"Region": "us-east-1"}),
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                (
                    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                    "http://127.0.0.1:5001/",
                ),
            ],
        )
        .await;
        assert_eq!(r.config["Endpoints"]["Ec2"], "http://127.0.0.1:5000");
        assert_eq!(r.config["Endpoints"]["Elbv2"], "http://127.0.0.1:5001/");
        assert_eq!(
            grants(&r),
            ["http://127.0.0.1:5000", "http://127.0.0.1:5001"]
        );
        assert_eq!(r.whose, ["aws credentials (none found yet)"]);
    }

    #[tokio::test]
    async fn explicit_configuration_beats_the_environment() {
        let r = resolve_with(
            json!({"Region": "ap-south-1", "Endpoint": "http://localhost:4566", "AccessKeyId": "CFG", "SecretAccessKey": "S"}),
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "ENV"),
                ("AWS_SECRET_ACCESS_KEY", "E"),
            ],
        )
        .await;
        assert_eq!(r.config["Region"], "ap-south-1");
        assert_eq!(
            r.config,
            json!({"Region": "ap-south-1", "Endpoints": {"Ec2": "http://localhost:4566", "Elbv2": "http://localhost:4566"}})
        );
        assert_eq!(
            r.whose,
            ["aws credentials (access key …, from the spec's configuration)"]
        );
        assert_eq!(grants(&r), ["http://localhost:4566"]);
    }

    #[tokio::test]
    async fn shared_files_supply_a_profile() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[ci]\naws_access_key_id=C\naws_secret_access_key=CS\naws_session_token=T\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[profile ci]\nregion = sa-east-1\n",
        )
        .unwrap();
        let home = home.path().to_str().unwrap();
        let r = resolve_with(json!({}), &[("AWS_PROFILE", "ci"), ("HOME", home)]).await;
        assert!(r.config.get("SessionToken").is_none());
        assert_eq!(r.config["Region"], "sa-east-1");
        assert_eq!(
            r.whose,
            ["aws credentials (access key …, from the shared credentials file)"]
        );
        let r = resolve_with(json!({"Profile": "default"}), &[("HOME", home)]).await;
        assert!(r.config.get("Profile").is_none());
        assert!(r.config.get("Region").is_none());
        assert!(r.http.is_empty(), "no region, no endpoint: nothing granted");
    }

    #[tokio::test]
    async fn a_malformed_endpoint_is_refused() {
        let sources = Sources::fake(&[]);
        let err = resolve(
            &["aws".into()],
            &json!({"Endpoint": "localhost"}),
            &[],
            &sources,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("Endpoints.Ec2"), "{err}");
        let err = resolve(&["gcp".into()], &json!({}), &[], &sources)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unknown kind"), "{err}");
    }
}
