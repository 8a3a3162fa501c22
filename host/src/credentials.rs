//! Credentials a provider asks for by name (its `capabilities.credentials`), resolved here in
//! the host from the user's environment and files. They never reach the guest: `configure`
//! gets the region and the service endpoints, HTTP is granted to exactly those endpoints, and
//! the sandbox signs the provider's requests to them ([`crate::sandbox::AwsSigner`]).
//!
//! `aws` follows the AWS SDKs: explicit configuration (the spec's `Providers.NAME.Config`)
//! first, then `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
//! `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`,
//! then the shared files (`~/.aws/credentials`, `~/.aws/config`, profile `AWS_PROFILE` or
//! `default`). The provider is granted HTTP to exactly the resolved service endpoints.

use crate::sandbox::{AwsEndpoint, AwsSigner, HttpAllow};
use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

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

/// Where credentials are looked up: the process environment and the user's home directory
/// (a seam for tests).
pub struct Sources<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
}

impl Sources<'_> {
    /// The real environment and `$HOME`.
    pub fn process() -> Sources<'static> {
        Sources {
            env: &|name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// Fills in the credentials `kinds` of a provider whose spec configuration is `config`.
/// `actions` (the provider's declared API actions) decide which services' endpoints it gets.
pub fn resolve(
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
            "aws" => aws(&mut resolved, actions, sources)?,
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
fn aws(resolved: &mut Resolved, actions: &[String], sources: &Sources) -> Result<()> {
    let Value::Object(config) = &mut resolved.config else {
        bail!("must be an object");
    };
    let settings = take_settings(config)?;
    let found = identity(
        settings.explicit,
        settings.profile,
        settings.region,
        settings.endpoint,
        sources,
    )?;
    if let Some(region) = &found.region {
        config.insert("Region".into(), region.clone().into());
    }
    let signed = service_endpoints(config, &mut resolved.http, actions, sources, &found)?;
    let (whose, signer) = signer_of(found, signed);
    resolved.whose.push(whose);
    resolved.signer = Some(signer);
    Ok(())
}

/// What a spec's configuration says of who the host acts as on AWS.
struct Settings {
    explicit: Explicit,
    profile: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
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
    let env = sources.env;
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
            None => env(&format!("AWS_ENDPOINT_URL_{var}"))
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

/// The signer for the endpoints `signed`, holding the credentials `found` (if any), and in
/// plain words whose they are.
fn signer_of(found: Identity, signed: Vec<AwsEndpoint>) -> (String, AwsSigner) {
    // An endpoint without a region (an emulator's, say) is signed for us-east-1.
    let signing_region = found.region.unwrap_or_else(|| "us-east-1".into());
    match found.credentials {
        Some((key, secret, token)) => {
            let signer = AwsSigner::new(key, secret, token, signing_region, signed);
            (
                format!(
                    "aws credentials (access key {}, from {})",
                    signer.access_key_hint(),
                    found.from
                ),
                signer,
            )
        }
        None => (
            "aws credentials (none found yet)".to_string(),
            AwsSigner::without_credentials(signing_region, signed),
        ),
    }
}

/// Who the host acts as on AWS, found as the SDKs find it: explicit values first, then the
/// environment, then the shared files of the profile.
pub struct Identity {
    pub region: Option<String>,
    /// Access key, secret key, session token.
    pub credentials: Option<(String, String, Option<String>)>,
    /// Where they came from, in words.
    pub from: &'static str,
    /// The endpoint for every service (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`).
    pub endpoint: Option<String>,
}

type Explicit = (Option<String>, Option<String>, Option<String>);

fn identity(
    explicit: Explicit,
    profile: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    sources: &Sources,
) -> Result<Identity> {
    let env = sources.env;
    let profile = profile
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let aws_dir = sources.home.as_deref().map(|h| h.join(".aws"));
    let file = |var: &str, name: &str| {
        env(var)
            .map(PathBuf::from)
            .or(aws_dir.as_ref().map(|d| d.join(name)))
    };
    let shared_config = file("AWS_CONFIG_FILE", "config")
        .map(|path| ini_section(&path, &[format!("profile {profile}"), profile.clone()]))
        .transpose()?
        .flatten()
        .unwrap_or_default();
    let region = region
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| lookup(&shared_config, "region"));
    let (credentials, from) = match explicit {
        (Some(key), Some(secret), token) => {
            (Some((key, secret, token)), "the spec's configuration")
        }
        (None, None, None) => match env("AWS_ACCESS_KEY_ID").zip(env("AWS_SECRET_ACCESS_KEY")) {
            Some((key, secret)) => (
                Some((key, secret, env("AWS_SESSION_TOKEN"))),
                "the environment",
            ),
            None => (
                file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
                    .map(|path| ini_section(&path, std::slice::from_ref(&profile)))
                    .transpose()?
                    .flatten()
                    .and_then(|s| {
                        let key = lookup(&s, "aws_access_key_id")?;
                        let secret = lookup(&s, "aws_secret_access_key")?;
                        Some((key, secret, lookup(&s, "aws_session_token")))
                    }),
                "the shared credentials file",
            ),
        },
        _ => bail!("AccessKeyId and SecretAccessKey go together"),
    };
    let endpoint = endpoint
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| lookup(&shared_config, "endpoint_url"));
    Ok(Identity {
        region,
        credentials,
        from,
        endpoint,
    })
}

/// AWS access for the host's own requests to one service (`S3`: the state): its region and
/// endpoint (`AWS_ENDPOINT_URL_<SERVICE>` before the common ones) unless given.
pub fn aws_access(
    service: &str,
    region: Option<&str>,
    endpoint: Option<&str>,
    sources: &Sources,
) -> Result<Identity> {
    let mut id = identity(
        (None, None, None),
        None,
        region.map(String::from),
        None,
        sources,
    )?;
    id.endpoint = endpoint
        .map(String::from)
        .or_else(|| (sources.env)(&format!("AWS_ENDPOINT_URL_{service}")))
        .or(id.endpoint);
    Ok(id)
}

/// The `scheme://host[:port]` grant that allows requests to `url`.
fn origin(url: &str) -> Result<HttpAllow> {
    let uri: http::Uri = url.parse().map_err(|e| anyhow!("not a URL: {e}"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        bail!("not an absolute URL (expected scheme://host[:port])");
    };
    Ok(HttpAllow::parse(&format!("{scheme}://{authority}"))?)
}

/// The `key = value` lines of the first of `sections` present in the INI file at `path`;
/// `None` if the file does not exist or has none of them.
fn ini_section(path: &Path, sections: &[String]) -> Result<Option<Vec<(String, String)>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => bail!("{}: {err}", path.display()),
    };
    let mut found: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            found.push((name.trim().to_string(), Vec::new()));
        } else if let (Some((key, value)), Some((_, entries))) =
            (line.split_once('='), found.last_mut())
        {
            entries.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(sections.iter().find_map(|wanted| {
        found
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, entries)| entries.clone())
    }))
}

fn lookup(entries: &[(String, String)], key: &str) -> Option<String> {
    entries
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn resolve_with(config: Value, vars: &[(&str, &str)], home: Option<PathBuf>) -> Resolved {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.get(name).cloned();
        let sources = Sources { env: &env, home };
        resolve(&["aws".to_string()], &config, &[], &sources).unwrap()
    }

    #[test]
    fn a_provider_gets_the_endpoints_of_the_services_it_calls() {
        let env = |name: &str| (name == "AWS_REGION").then(|| "eu-west-1".to_string());
        let sources = Sources {
            env: &env,
            home: None,
        };
        let of = |actions: &[&str]| {
            let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
            grants(&resolve(&["aws".into()], &json!({}), &actions, &sources).unwrap())
        };
        assert_eq!(
            of(&["s3:PutObject"]),
            ["https://s3.eu-west-1.amazonaws.com"]
        );
        assert_eq!(
            of(&["ec2:*"]),
            ["https://ec2.eu-west-1.amazonaws.com"],
            "only what it calls"
        );
        // Naming none of them: EC2 and ELBv2, as `aws` always meant; never S3 unasked.
        assert_eq!(
            of(&[]),
            [
                "https://ec2.eu-west-1.amazonaws.com",
                "https://elasticloadbalancing.eu-west-1.amazonaws.com"
            ]
        );
    }

    fn grants(r: &Resolved) -> Vec<String> {
        r.http.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn environment_fills_region_keys_and_regional_endpoints() {
        let r = resolve_with(
            json!({}),
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AK"),
                ("AWS_SECRET_ACCESS_KEY", "SK"),
            ],
            None,
        );
        assert_eq!(r.config["Region"], "eu-west-1");
        assert!(
            r.config.get("AccessKeyId").is_none(),
            "no secret for the guest"
        );
        assert!(r.config.get("SecretAccessKey").is_none());
        assert_eq!(
            r.whose,
            ["aws credentials (access key …, from the environment)"]
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

    #[test]
    fn endpoint_override_is_the_only_grant_and_per_service_variables_win() {
        let r = resolve_with(
            json!({"Region": "us-east-1"}),
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                (
                    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                    "http://127.0.0.1:5001/",
                ),
            ],
            None,
        );
        assert_eq!(r.config["Endpoints"]["Ec2"], "http://127.0.0.1:5000");
        assert_eq!(r.config["Endpoints"]["Elbv2"], "http://127.0.0.1:5001/");
        assert_eq!(
            grants(&r),
            ["http://127.0.0.1:5000", "http://127.0.0.1:5001"]
        );
    }

    #[test]
    fn explicit_configuration_beats_the_environment() {
        let r = resolve_with(
            json!({"Region": "ap-south-1", "Endpoint": "http://localhost:4566", "AccessKeyId": "CFG", "SecretAccessKey": "S"}),
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "ENV"),
                ("AWS_SECRET_ACCESS_KEY", "E"),
            ],
            None,
        );
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

    #[test]
    fn shared_files_supply_a_profile() {
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
        let r = resolve_with(
            json!({}),
            &[("AWS_PROFILE", "ci")],
            Some(home.path().into()),
        );
        assert!(r.config.get("SessionToken").is_none());
        assert_eq!(r.config["Region"], "sa-east-1");
        assert_eq!(
            r.whose,
            ["aws credentials (access key …, from the shared credentials file)"]
        );
        let r = resolve_with(json!({"Profile": "default"}), &[], Some(home.path().into()));
        assert!(r.config.get("Profile").is_none());
        assert!(r.config.get("Region").is_none());
        assert!(r.http.is_empty(), "no region, no endpoint: nothing granted");
    }

    #[test]
    fn a_malformed_endpoint_is_refused() {
        let env = |_: &str| None;
        let sources = Sources {
            env: &env,
            home: None,
        };
        let err = resolve(
            &["aws".into()],
            &json!({"Endpoint": "localhost"}),
            &[],
            &sources,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Endpoints.Ec2"), "{err}");
        let err = resolve(&["gcp".into()], &json!({}), &[], &sources).unwrap_err();
        assert!(err.to_string().contains("unknown kind"), "{err}");
    }
}
