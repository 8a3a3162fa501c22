//! Who the host acts as on AWS, found by the AWS SDK's own chain (`aws-config`), as any SDK
//! finds it on the same machine: the spec's explicit keys first; otherwise the environment
//! (`AWS_ACCESS_KEY_ID`...), the shared files' profile (static keys, an assumed role, SSO,
//! `credential_process`), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`,
//! as on EKS), the container's credentials endpoint (ECS), and the instance profile through
//! IMDSv2. The region (`AWS_REGION`, the profile, IMDS) and the endpoint for every service
//! (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`) come from the same configuration.
//!
//! Invariants:
//! - the credentials stay in the host: they go to the sandbox's signer and the state's S3
//!   client, never into a guest's configuration;
//! - temporary credentials (an instance profile's, a role's) are fetched again before they
//!   expire ([`REFRESH_AHEAD`]), others every [`STATIC_FOR`] (rotated keys are picked up), by
//!   one caller while the others wait ([`Refreshing`]), each ask bounded by [`ASK_TIMEOUT`];
//!   a failed refresh keeps using credentials not yet expired, so a `converge` running for
//!   days keeps signing;
//! - credentials not found are looked for again after [`RETRY_AFTER`] (a role attached to the
//!   machine later is picked up), and a request meanwhile is refused at once, saying where
//!   they come from;
//! - the chain is built once per process for each profile and region (the shared
//!   files read and the metadata service asked once, not per provider or per tick).
//! - where the environment settles everything the chain would find first (keys, region and
//!   an endpoint no shared file can change), it is taken from there as the chain would take
//!   it, and the chain is not built ([`from_environment`]).

use anyhow::{Result, bail};
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use aws_smithy_http_client::tls;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use std::time::{Duration, SystemTime};

/// How long before their expiry temporary credentials are fetched again.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// How long credentials without an expiry (keys) are used before the chain is asked again.
pub const STATIC_FOR: Duration = Duration::from_secs(15 * 60);
/// How long one ask of the chain may take.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after a failed ask the chain is asked again (until then, the failure stands).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Where credentials are looked up: the process environment (a seam for tests; the shared
/// files are found through it, `HOME` and `AWS_CONFIG_FILE`).
pub struct Sources {
    env: Env,
}

impl Sources {
    /// The real environment.
    pub fn process() -> Self {
        Self { env: Env::real() }
    }

    /// A made-up environment with `vars` (and the instance metadata service off).
    #[cfg(test)]
    pub fn fake(vars: &[(&str, &str)]) -> Self {
        let mut all = vec![("AWS_EC2_METADATA_DISABLED", "true")];
        all.extend_from_slice(vars);
        Self {
            env: Env::from_slice(&all),
        }
    }

    /// The variable `name`, if set and not empty.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).ok().filter(|v| !v.is_empty())
    }
}

/// What the spec's configuration says of who the host acts as.
#[derive(Default)]
pub struct Settings {
    /// Access key, secret key, session token.
    pub explicit: (Option<String>, Option<String>, Option<String>),
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// Who the host acts as on AWS.
pub struct Identity {
    pub region: Option<String>,
    /// The endpoint for every service (the spec's, `AWS_ENDPOINT_URL`, the profile's).
    pub endpoint: Option<String>,
    /// The chain, refreshed before expiry; asked on every use.
    pub provider: SharedCredentialsProvider,
    /// What the first ask gave: the credentials, or why there were none.
    pub first: Result<Credentials, String>,
}

impl Identity {
    /// Where the credentials came from, in words (`the environment`).
    pub fn from(&self) -> String {
        match &self.first {
            Ok(credentials) => from_words(credentials),
            Err(_) => "nowhere yet".into(),
        }
    }
}

/// Finds who the host acts as: the spec's `settings` before the SDK's chain.
pub async fn identity(settings: Settings, sources: &Sources) -> Result<Identity> {
    if let Some(found) = from_environment(&settings, sources) {
        return Ok(found);
    }
    let config = sdk_config(&settings, sources).await;
    let provider = match settings.explicit {
        (Some(key), Some(secret), token) => {
            SharedCredentialsProvider::new(Credentials::new(key, secret, token, None, SPEC))
        }
        (None, None, None) => match config.credentials_provider() {
            Some(chain) => SharedCredentialsProvider::new(Refreshing::new(chain)),
            None => bail!("the AWS SDK's configuration has no credentials chain"),
        },
        _ => bail!("AccessKeyId and SecretAccessKey go together"),
    };
    let first = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("{:#}", anyhow::Error::from(e)));
    Ok(Identity {
        region: config.region().map(ToString::to_string),
        endpoint: settings
            .endpoint
            .or_else(|| config.endpoint_url().map(String::from)),
        provider,
        first,
    })
}

/// Who the host acts as when the environment settles all of it, as the SDK's chain would
/// find it there first (keys, region, endpoint), without building the chain: no shared file
/// is read and no service asked, and the SDK's configuration code is not run (~1.5 MiB of
/// code a run would otherwise page in). `None` when anything is left to the chain: explicit
/// keys or a profile in the spec, no keys or no region in the environment (or one of them
/// set to blanks), a shared file that may exist without an endpoint from the spec (it may
/// name one, or tell the chain to ignore `AWS_ENDPOINT_URL`), or
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`.
fn from_environment(settings: &Settings, sources: &Sources) -> Option<Identity> {
    let (None, None, None, None) = (
        &settings.explicit.0,
        &settings.explicit.1,
        &settings.explicit.2,
        &settings.profile,
    ) else {
        return None;
    };
    // Each variable the chain would read set to nothing but blanks: left to the chain,
    // which reads such values its own way.
    let set = |name: &str| match sources.env.get(name) {
        Ok(value) if value.trim().is_empty() => Err(()),
        Ok(value) => Ok(Some(value)),
        Err(_) => Ok(None),
    };
    let key = set("AWS_ACCESS_KEY_ID").ok()??;
    let secret = set("AWS_SECRET_ACCESS_KEY").ok()??;
    // A token of blanks is none, as the chain reads it.
    let token = set("AWS_SESSION_TOKEN").unwrap_or(None);
    let token = token.map(|t| t.trim().to_string());
    let region = match settings.region.clone() {
        Some(region) => region,
        None => set("AWS_REGION")
            .ok()?
            .or(set("AWS_DEFAULT_REGION").ok()?)?,
    };
    if sources.var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some() {
        return None;
    }
    // `AWS_ENDPOINT_URL` is the chain's, and a profile may tell it to ignore it: taken only
    // where no shared file is (the spec's endpoint, or `AWS_ENDPOINT_URL_S3`, is taken as
    // given either way).
    let endpoint = match settings.endpoint.clone() {
        Some(endpoint) => Some(endpoint),
        None if shared_files_may_exist(sources) => return None,
        None => set("AWS_ENDPOINT_URL").ok()?,
    };
    let credentials = Credentials::new(key, secret, token, None, ENVIRONMENT);
    Some(Identity {
        region: Some(region),
        endpoint,
        provider: SharedCredentialsProvider::new(credentials.clone()),
        first: Ok(credentials),
    })
}

/// The name the SDK gives credentials from the environment.
const ENVIRONMENT: &str = "EnvironmentVariable";

/// Whether a shared file the SDK reads profiles from may exist: the config file
/// (`AWS_CONFIG_FILE`, else `~/.aws/config`) or the credentials file
/// (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`; the SDK merges both). A home
/// not known counts as may.
fn shared_files_may_exist(sources: &Sources) -> bool {
    let home = sources.var("HOME");
    [
        ("AWS_CONFIG_FILE", "config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
    .into_iter()
    .any(|(var, name)| {
        let path = match (sources.var(var), &home) {
            // The SDK expands a leading `~`: whatever it names may exist.
            (Some(file), _) if file.starts_with('~') => return true,
            (Some(file), _) => std::path::PathBuf::from(file),
            (None, Some(home)) => std::path::Path::new(home).join(".aws").join(name),
            (None, None) => return true,
        };
        !matches!(std::fs::metadata(&path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
    })
}

/// The provider name given to the spec's explicit keys.
const SPEC: &str = "rkit-spec";

/// The SDK's configuration: region, endpoint and credentials chain, for the spec's profile
/// and region when it names them.
async fn sdk_config(settings: &Settings, sources: &Sources) -> aws_types::SdkConfig {
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(client);
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    #[cfg(test)]
    {
        loader = loader.env(sources.env.clone());
    }
    #[cfg(not(test))]
    let _ = sources; // the real environment is the SDK's own default
    loader.load().await
}

/// Where `credentials` came from, in words, by the name the SDK's provider gave them.
fn from_words(credentials: &Credentials) -> String {
    // The SDK names the provider in the credentials' debug form only.
    let debug = format!("{credentials:?}");
    let name = debug
        .split_once("provider_name: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("", |(name, _)| name);
    match name {
        SPEC => "the spec's configuration".into(),
        ENVIRONMENT => "the environment".into(),
        "ProfileFile" => "the shared credentials file".into(),
        "AssumeRoleProvider" => "a role the profile assumes".into(),
        "SSO" => "the profile's SSO session".into(),
        "CredentialProcess" => "the profile's credential_process".into(),
        "WebIdentityToken" => "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".into(),
        "EcsContainer" => "the container's credentials endpoint".into(),
        "IMDSv2" => "the instance profile (IMDSv2)".into(),
        other => format!("the AWS SDK's chain ({})", crate::text::escape(other)),
    }
}

/// A chain whose answer is kept until [`REFRESH_AHEAD`] before it expires (keys without an
/// expiry: [`STATIC_FOR`]); one caller asks the chain again while the others wait for its
/// answer; a failure stands for [`RETRY_AFTER`], and credentials not yet expired are used
/// meanwhile.
#[derive(Debug)]
struct Refreshing {
    chain: SharedCredentialsProvider,
    last: tokio::sync::Mutex<Asked>,
}

/// What the chain said last.
#[derive(Debug, Default)]
struct Asked {
    /// The credentials and when they were fetched.
    found: Option<(Credentials, SystemTime)>,
    /// When the last ask failed, and why.
    failed: Option<(std::time::Instant, String)>,
}

impl Refreshing {
    fn new(chain: SharedCredentialsProvider) -> Self {
        Self {
            chain,
            last: tokio::sync::Mutex::new(Asked::default()),
        }
    }

    async fn current(&self) -> Result<Credentials, CredentialsError> {
        let mut last = self.last.lock().await;
        let now = SystemTime::now();
        if let Some((found, _)) = last.found.as_ref().filter(|(c, at)| fresh(c, *at, now)) {
            return Ok(found.clone());
        }
        let recent = last
            .failed
            .as_ref()
            .filter(|(at, _)| at.elapsed() < RETRY_AFTER);
        let why = match recent {
            Some((_, why)) => why.clone(),
            None => match tokio::time::timeout(ASK_TIMEOUT, self.chain.provide_credentials()).await
            {
                Ok(Ok(credentials)) => {
                    *last = Asked {
                        found: Some((credentials.clone(), now)),
                        failed: None,
                    };
                    return Ok(credentials);
                }
                Ok(Err(e)) => format!("{:#}", anyhow::Error::from(e)),
                Err(_) => format!("the chain gave no answer within {ASK_TIMEOUT:?}"),
            },
        };
        last.failed
            .get_or_insert((std::time::Instant::now(), why.clone()));
        match &last.found {
            Some((found, _)) if found.expiry().is_none_or(|at| at > now) => Ok(found.clone()),
            _ => Err(CredentialsError::provider_error(why)),
        }
    }
}

/// Whether `credentials` fetched `at` may be used at `now` without asking again: they expire
/// later than [`REFRESH_AHEAD`] from now, or (without an expiry) were fetched less than
/// [`STATIC_FOR`] ago.
fn fresh(credentials: &Credentials, at: SystemTime, now: SystemTime) -> bool {
    match credentials.expiry() {
        Some(expiry) => expiry > now + REFRESH_AHEAD,
        None => now < at + STATIC_FOR,
    }
}

impl ProvideCredentials for Refreshing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A chain that counts its asks and gives credentials expiring `lifetime` from now.
    #[derive(Debug)]
    struct Counting(Arc<AtomicUsize>, Duration);

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("ASIA{n:016}"),
                "secret",
                Some("token".into()),
                Some(SystemTime::now() + self.1),
                "IMDSv2",
            )))
        }
    }

    #[tokio::test]
    async fn temporary_credentials_are_kept_until_near_their_expiry() {
        let asks = Arc::new(AtomicUsize::new(0));
        let long = Refreshing::new(SharedCredentialsProvider::new(Counting(
            asks.clone(),
            Duration::from_secs(3600),
        )));
        let a = long.provide_credentials().await.unwrap();
        let b = long.provide_credentials().await.unwrap();
        assert_eq!(a.access_key_id(), b.access_key_id());
        assert_eq!(asks.load(Ordering::SeqCst), 1);
        assert_eq!(from_words(&a), "the instance profile (IMDSv2)");

        let asks = Arc::new(AtomicUsize::new(0));
        let short = Refreshing::new(SharedCredentialsProvider::new(Counting(
            asks.clone(),
            Duration::from_secs(60),
        )));
        let a = short.provide_credentials().await.unwrap();
        let b = short.provide_credentials().await.unwrap();
        assert_ne!(a.access_key_id(), b.access_key_id(), "asked again");
        assert_eq!(asks.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn freshness_is_measured_against_the_refresh_margin() {
        let now = SystemTime::now();
        let at =
            |secs| Credentials::new("A", "S", None, Some(now + Duration::from_secs(secs)), "x");
        let keys = Credentials::new("A", "S", None, None, "x");
        assert!(fresh(&keys, now, now));
        assert!(
            !fresh(&keys, now - STATIC_FOR, now),
            "keys are asked for again"
        );
        assert!(fresh(&at(301), now, now));
        assert!(!fresh(&at(299), now, now));
    }

    /// A chain that fails, counting its asks.
    #[derive(Debug)]
    struct Failing(Arc<AtomicUsize>);

    impl ProvideCredentials for Failing {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no role")))
        }
    }

    #[tokio::test]
    async fn a_failure_stands_for_a_while_and_is_asked_again_after() {
        let asks = Arc::new(AtomicUsize::new(0));
        let chain = Refreshing::new(SharedCredentialsProvider::new(Failing(asks.clone())));
        for _ in 0..5 {
            assert!(chain.provide_credentials().await.is_err());
        }
        assert_eq!(
            asks.load(Ordering::SeqCst),
            1,
            "asked once, not per request"
        );
        chain.last.lock().await.failed.as_mut().unwrap().0 -= RETRY_AFTER;
        assert!(chain.provide_credentials().await.is_err());
        assert_eq!(asks.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_credentials_not_yet_expired() {
        let asks = Arc::new(AtomicUsize::new(0));
        let chain = Refreshing::new(SharedCredentialsProvider::new(Failing(asks.clone())));
        let now = SystemTime::now();
        let soon = Credentials::new("ASIA", "S", None, Some(now + Duration::from_secs(60)), "x");
        chain.last.lock().await.found = Some((soon.clone(), now));
        let got = chain.provide_credentials().await.unwrap();
        assert_eq!(got.access_key_id(), "ASIA");
        assert_eq!(
            asks.load(Ordering::SeqCst),
            1,
            "it asked, and kept the old ones"
        );
    }

    #[test]
    fn keys_region_and_endpoint_all_in_the_environment_build_no_chain() {
        let home = tempfile::tempdir().unwrap();
        let home_path = home.path().to_str().unwrap();
        let keys = [
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE0001"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("HOME", home_path),
        ];
        let with = |more: &[(&str, &str)], settings: Settings| {
            let vars: Vec<_> = keys.iter().chain(more).copied().collect();
            from_environment(&settings, &Sources::fake(&vars))
        };
        let found = with(
            &[("AWS_REGION", "eu-west-1"), ("AWS_SESSION_TOKEN", "T")],
            Settings::default(),
        )
        .expect("all of it in the environment");
        assert_eq!(found.region.as_deref(), Some("eu-west-1"));
        assert_eq!(found.endpoint, None);
        assert_eq!(found.from(), "the environment");
        let first = found.first.as_ref().unwrap();
        assert_eq!(
            (first.access_key_id(), first.session_token()),
            ("AKIAEXAMPLE0001", Some("T"))
        );
        // The spec's region and endpoint come first, as the chain would take them.
        let spec = Settings {
            region: Some("us-west-2".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..Settings::default()
        };
        let found = with(&[("AWS_DEFAULT_REGION", "eu-west-1")], spec).unwrap();
        assert_eq!(found.region.as_deref(), Some("us-west-2"));
        assert_eq!(found.endpoint.as_deref(), Some("http://127.0.0.1:9000"));

        // Anything left to the chain builds it.
        let profile = || Settings {
            profile: Some("dev".into()),
            ..Settings::default()
        };
        let explicit = || Settings {
            explicit: (Some("K".into()), Some("S".into()), None),
            ..Settings::default()
        };
        let region = ("AWS_REGION", "eu-west-1");
        assert!(with(&[region], profile()).is_none());
        assert!(with(&[region], explicit()).is_none());
        assert!(with(&[], Settings::default()).is_none(), "no region");
        let ignore = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
        assert!(with(&[region, ignore], Settings::default()).is_none());
        let blank = |name| [region, (name, "  ")];
        assert!(with(&blank("AWS_ACCESS_KEY_ID"), Settings::default()).is_none());
        assert!(with(&blank("AWS_SECRET_ACCESS_KEY"), Settings::default()).is_none());
        assert!(with(&blank("AWS_REGION")[1..], Settings::default()).is_none());
        let found = with(&blank("AWS_SESSION_TOKEN"), Settings::default()).unwrap();
        assert_eq!(found.first.unwrap().session_token(), None);
        let endpoint = ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
        let found = with(&[region, endpoint], Settings::default()).unwrap();
        assert_eq!(found.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let tilde = ("AWS_CONFIG_FILE", "~/elsewhere");
        assert!(with(&[region, tilde], Settings::default()).is_none());
        // A shared file may name an endpoint, or have `AWS_ENDPOINT_URL` ignored: only the
        // spec's is taken as given.
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(home.path().join(".aws/credentials"), "").unwrap();
        assert!(with(&[region], Settings::default()).is_none());
        assert!(with(&[region, endpoint], Settings::default()).is_none());
        let spec = Settings {
            endpoint: Some("http://127.0.0.1:9001".into()),
            ..Settings::default()
        };
        let found = with(&[region, endpoint], spec).unwrap();
        assert_eq!(found.endpoint.as_deref(), Some("http://127.0.0.1:9001"));
    }

    #[test]
    fn an_unknown_provider_name_is_escaped() {
        let c = Credentials::new("A", "S", None, None, "\u{1b}[31mred");
        assert_eq!(from_words(&c), "the AWS SDK's chain (\\u{1b}[31mred)");
    }
}
