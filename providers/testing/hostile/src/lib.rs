//! A hostile provider, for tests only. Each resource type's `create` attempts one thing a
//! provider must not be able to do unless granted (read host files or environment, open a
//! socket, send HTTP anywhere, spin forever, allocate without bound, panic, steal the
//! credentials it asks for, call API actions it did not declare, plant links out of its
//! directory, burn host CPU or memory through host calls, write terminal escapes) and returns
//! what it obtained. The host's tests assert every attempt fails with a clear error (or is
//! contained) and that the sandbox keeps serving the next call.

use rkit_sdk::{
    Capabilities, Created, Error, Observed, Provider, Registry, Resource, Result, Tags,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The provider. It asks for `aws` credentials and only a few harmless actions
/// ([`ACTIONS`]), and keeps whatever configuration rkit handed it, to try to leak it.
pub struct Hostile {
    config: serde_json::Value,
}

/// All it declares: reads of EC2, writing and reading objects in S3, two actions limited
/// to some resources, and Cloud Control's create (of [`RESOURCE_TYPES`] only) and status.
pub const ACTIONS: &[&str] = &[
    "ec2:Describe*",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:DeleteObject on arn:aws:s3:::b-1/tmp/*",
    "ec2:TerminateInstances on arn:aws:ec2:*:*:instance/i-0aaa*",
    "cloudformation:CreateResource",
    "cloudformation:GetResourceRequestStatus",
];

/// The Cloud Control resource types it declares: queues only.
pub const RESOURCE_TYPES: &[&str] = &["AWS::SQS::*"];

impl Provider for Hostile {
    const NAME: &'static str = "hostile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only: every create attempts a sandbox escape";
    /// Its types are described on demand, so every hostile test goes through describe-types.
    const OUTLINED: bool = true;
    type Config = serde_json::Value;

    fn capabilities() -> Capabilities {
        Capabilities {
            credentials: vec!["aws".into()],
            api_actions: ACTIONS.iter().map(|a| a.to_string()).collect(),
            resource_types: RESOURCE_TYPES.iter().map(|t| t.to_string()).collect(),
            ..Capabilities::default()
        }
    }

    fn configure(config: Self::Config) -> Result<Self> {
        if config.get("StallConfigure").is_some() {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Ok(Hostile { config })
    }

    fn register(types: &mut Registry<Self>) {
        types
            .add::<Attack<ReadFile>>()
            .add::<Attack<ReadEnv>>()
            .add::<Attack<Connect>>()
            .add::<Attack<Http>>()
            .add::<Attack<Spin>>()
            .add::<Attack<Allocate>>()
            .add::<Attack<Panic>>()
            .add::<Attack<Sleep>>()
            .add::<Attack<StealConfig>>()
            .add::<Attack<AwsCall>>()
            .add::<Attack<AwsRaw>>()
            .add::<Attack<Symlink>>()
            .add::<Attack<HostSpin>>()
            .add::<Attack<FieldsBomb>>()
            .add::<Attack<Escape>>()
            .add::<Attack<Token>>()
            .add::<Impostor>();
    }
}

rkit_sdk::export_provider!(Hostile);

/// What an attack obtained: the text it read, or the status it got.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Loot {
    pub obtained: String,
}

/// One attempted escape, with its parameters as properties.
pub trait Attempt: Serialize + serde::de::DeserializeOwned + JsonSchema + 'static {
    const TYPE: &'static str;
    fn attempt(&self, provider: &Hostile) -> Result<String>;
    /// The ID the created resource gets.
    fn id(&self) -> String {
        Self::TYPE.to_string()
    }
}

/// Wraps an [`Attempt`] as a resource type whose `create` runs it.
pub struct Attack<A>(std::marker::PhantomData<A>);

impl<A: Attempt> Resource for Attack<A> {
    type Provider = Hostile;
    type Properties = A;
    type Attributes = Loot;
    const TYPE: &'static str = A::TYPE;

    fn create(provider: &Hostile, props: &A, _: &Tags) -> Result<Created<Loot>> {
        Ok(Created {
            id: props.id(),
            attributes: Loot {
                obtained: props.attempt(provider)?,
            },
        })
    }

    fn read(_: &Hostile, _: &str, _: &A) -> Result<Option<Observed<Self>>> {
        Ok(None)
    }

    fn delete(_: &Hostile, _: &str, _: &A) -> Result<()> {
        Ok(())
    }

    fn list(_: &Hostile, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

/// Answers every read, one or many, with an object carrying the ID `impostor-1`, whatever was
/// asked: a provider lying about which object it read.
pub struct Impostor;

impl Resource for Impostor {
    type Provider = Hostile;
    type Properties = serde_json::Value;
    type Attributes = serde_json::Value;
    const TYPE: &'static str = "Impostor";
    const READ_BATCH: u32 = 10;

    fn create(_: &Hostile, _: &serde_json::Value, _: &Tags) -> Result<Created<serde_json::Value>> {
        Ok(Created {
            id: "impostor-1".into(),
            attributes: serde_json::json!({}),
        })
    }

    fn read(_: &Hostile, _: &str, props: &serde_json::Value) -> Result<Option<Observed<Self>>> {
        Ok(Some(Observed {
            id: "impostor-1".into(),
            properties: props.clone(),
            attributes: serde_json::json!({}),
            tags: Tags::new(),
        }))
    }

    fn delete(_: &Hostile, _: &str, _: &serde_json::Value) -> Result<()> {
        Ok(())
    }

    fn list(_: &Hostile, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

fn failed(what: String, err: impl std::fmt::Display) -> Error {
    Error::denied(format!("{what}: {err}"))
}

/// Reads a file by path.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ReadFile {
    pub path: String,
}

impl Attempt for ReadFile {
    const TYPE: &'static str = "ReadFile";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        std::fs::read_to_string(&self.path).map_err(|e| failed(format!("read {}", self.path), e))
    }
}

/// Reads an environment variable, and counts the variables it can see.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ReadEnv {
    pub name: String,
}

impl Attempt for ReadEnv {
    const TYPE: &'static str = "ReadEnv";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        let visible = std::env::vars().count();
        std::env::var(&self.name).map_err(|e| {
            failed(
                format!(
                    "read environment variable {} ({visible} visible)",
                    self.name
                ),
                e,
            )
        })
    }
}

/// Opens a TCP connection.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Connect {
    pub address: String,
}

impl Attempt for Connect {
    const TYPE: &'static str = "Connect";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        std::net::TcpStream::connect(&self.address)
            .map(|s| format!("connected to {:?}", s.peer_addr()))
            .map_err(|e| failed(format!("connect to {}", self.address), e))
    }
}

/// Sends an HTTP GET.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Http {
    pub url: String,
}

impl Attempt for Http {
    const TYPE: &'static str = "Http";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        get(&self.url)
    }
}

/// A GET of `url`: the status and body.
fn get(url: &str) -> Result<String> {
    let what = format!("GET {url}");
    // A streamed empty body: wstd's `Body::empty()` sends `content-length: 0` and then still
    // writes zero bytes, racing the host closing the finished body stream.
    let empty = futures_lite::stream::empty::<Vec<u8>>();
    let request = wstd::http::Request::get(url)
        .body(wstd::http::Body::from_stream(empty))
        .map_err(|e| failed(what.clone(), e))?;
    send(what, request)
}

/// Sends `request` (described as `what`): the status and the body as text.
fn send(what: String, request: wstd::http::Request<wstd::http::Body>) -> Result<String> {
    wstd::runtime::block_on(async {
        let mut response = wstd::http::Client::new()
            .send(request)
            .await
            .map_err(|e| failed(what.clone(), format!("sending: {e:?}")))?;
        let status = response.status();
        let body = response
            .body_mut()
            .str_contents()
            .await
            .map_err(|e| failed(what.clone(), format!("reading the body: {e:?}")))?
            .to_string();
        Ok(format!("{status} {body}"))
    })
}

/// Loops forever.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Spin {}

impl Attempt for Spin {
    const TYPE: &'static str = "Spin";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

/// Allocates and touches the given number of MiB.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Allocate {
    pub mib: usize,
}

impl Attempt for Allocate {
    const TYPE: &'static str = "Allocate";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        let mut blocks = Vec::new();
        for i in 0..self.mib {
            blocks.push(std::hint::black_box(vec![i as u8; 1 << 20]));
        }
        Ok(format!("allocated {} MiB", blocks.len()))
    }
}

/// Panics with a message.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Panic {
    pub message: String,
}

impl Attempt for Panic {
    const TYPE: &'static str = "Panic";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        panic!("{}", self.message)
    }
}

/// Blocks in a host call (a monotonic-clock wait) for the given milliseconds.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Sleep {
    pub ms: u64,
}

impl Attempt for Sleep {
    const TYPE: &'static str = "Sleep";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        std::thread::sleep(std::time::Duration::from_millis(self.ms));
        Ok(format!("slept {} ms", self.ms))
    }
}

/// Returns the configuration rkit handed over, and posts it to `Url` if given.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StealConfig {
    pub url: Option<String>,
}

impl Attempt for StealConfig {
    const TYPE: &'static str = "StealConfig";
    fn attempt(&self, p: &Hostile) -> Result<String> {
        let text = p.config.to_string();
        if let Some(url) = &self.url {
            let _ = post(url, &text, &[]);
        }
        Ok(text)
    }
}

/// POSTs `body` to `url` with `headers`: the status and body.
fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> Result<String> {
    let what = format!("POST {url}");
    let mut request = wstd::http::Request::post(url)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("content-length", body.len());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(wstd::http::Body::from(body.to_string()))
        .map_err(|e| failed(what.clone(), e))?;
    send(what, request)
}

/// Calls an EC2 action at the endpoint rkit configured, optionally with its own
/// `Authorization` header.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AwsCall {
    pub action: String,
    pub authorization: Option<String>,
}

impl Attempt for AwsCall {
    const TYPE: &'static str = "AwsCall";
    fn attempt(&self, p: &Hostile) -> Result<String> {
        let endpoint = p.config["Endpoints"]["Ec2"]
            .as_str()
            .ok_or_else(|| Error::other("no Endpoints.Ec2 in the configuration"))?;
        let body = format!("Action={}&Version=2016-11-15", self.action);
        let headers: Vec<(&str, &str)> = self
            .authorization
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        post(endpoint, &body, &headers)
    }
}

/// Sends any request to an AWS endpoint rkit configured (`Endpoint`: `Ec2`, `Elbv2`, `S3`),
/// exactly as given: method, path with its query, headers (repeats kept), body. The shape of
/// every attempt to talk the gate into signing what was not declared.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AwsRaw {
    pub endpoint: String,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
    /// Sends it this many times in a loop of its own while the answer is a 5xx (default 1).
    #[serde(default)]
    pub repeat: Option<u32>,
    /// A 5xx answer in the end fails the create as `transient` (so the engine retries it).
    #[serde(default)]
    pub fail_transient: bool,
}

impl Attempt for AwsRaw {
    const TYPE: &'static str = "AwsRaw";
    fn attempt(&self, p: &Hostile) -> Result<String> {
        let base = p.config["Endpoints"][&self.endpoint]
            .as_str()
            .ok_or_else(|| {
                Error::other(format!(
                    "no Endpoints.{} in the configuration",
                    self.endpoint
                ))
            })?;
        let url = format!("{}{}", base.trim_end_matches('/'), self.path);
        let mut answer = String::new();
        for _ in 0..self.repeat.unwrap_or(1).max(1) {
            answer = self.once(&url)?;
            if !answer.starts_with('5') {
                return Ok(answer);
            }
        }
        if self.fail_transient {
            return Err(Error::transient(format!("still failing: {answer}")));
        }
        Ok(answer)
    }
}

impl AwsRaw {
    fn once(&self, url: &str) -> Result<String> {
        let what = format!("{} {url}", self.method);
        let mut request = wstd::http::Request::builder()
            .method(self.method.as_str())
            .uri(url);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = self.body.clone().into_bytes();
        let request = request
            .header("content-length", body.len())
            .body(wstd::http::Body::from(body))
            .map_err(|e| failed(what.clone(), e))?;
        send(what, request)
    }
}

/// Makes a symbolic link `Link` (inside the granted directory) pointing at `Target`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Symlink {
    pub target: String,
    pub link: String,
}

impl Attempt for Symlink {
    const TYPE: &'static str = "Symlink";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        let what = format!("symlink {} -> {}", self.link, self.target);
        let dirs = wasip2::filesystem::preopens::get_directories();
        let (root, _) = dirs
            .first()
            .ok_or_else(|| failed(what.clone(), "no directory granted"))?;
        root.symlink_at(&self.target, self.link.trim_start_matches('/'))
            .map(|()| format!("linked {} -> {}", self.link, self.target))
            .map_err(|e| failed(what, format!("{e:?}")))
    }
}

/// Burns host CPU through host calls: asks the host for random bytes, 1 MiB at a time, forever.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct HostSpin {}

impl Attempt for HostSpin {
    const TYPE: &'static str = "HostSpin";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        loop {
            std::hint::black_box(wasip2::random::random::get_random_bytes(1 << 20));
        }
    }
}

/// Makes `Count` wasi-http header maps holding `Bytes` bytes each, and keeps them.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FieldsBomb {
    pub count: usize,
    pub bytes: usize,
}

impl Attempt for FieldsBomb {
    const TYPE: &'static str = "FieldsBomb";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        let value = vec![b'x'; self.bytes];
        let mut kept = Vec::new();
        for i in 0..self.count {
            let fields = wasip2::http::types::Fields::new();
            fields
                .append("x-bomb", &value)
                .map_err(|e| failed(format!("fields #{i}"), format!("{e:?}")))?;
            kept.push(fields);
        }
        Ok(format!("kept {} header maps", kept.len()))
    }
}

/// Returns `Text` as its ID and attribute; fails with it as its error when `Fail`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Escape {
    pub text: String,
    #[serde(default)]
    pub fail: bool,
}

impl Attempt for Escape {
    const TYPE: &'static str = "Escape";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        if self.fail {
            return Err(Error::other(self.text.clone()));
        }
        Ok(self.text.clone())
    }
    fn id(&self) -> String {
        self.text.clone()
    }
}

/// Returns the idempotency token rkit gave this create.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Token {}

impl Attempt for Token {
    const TYPE: &'static str = "Token";
    fn attempt(&self, _: &Hostile) -> Result<String> {
        rkit_sdk::idempotency_token().ok_or_else(|| Error::other("no token during create"))
    }
}
