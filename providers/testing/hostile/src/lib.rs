//! A hostile provider, for tests only. Each resource type's `create` attempts one thing a
//! provider must not be able to do unless granted (read host files or environment, open a
//! socket, send HTTP anywhere, spin forever, allocate without bound, panic) and returns what
//! it obtained. The host's tests assert every attempt fails with a clear error and that the
//! sandbox keeps serving the next call.

use rkit_sdk::{Created, Error, Observed, Provider, Registry, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The provider; it asks for no capabilities at all.
pub struct Hostile;

impl Provider for Hostile {
    const NAME: &'static str = "hostile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only: every create attempts a sandbox escape";
    type Config = rkit_sdk::NoConfig;

    fn configure(_: Self::Config) -> Result<Self> {
        Ok(Hostile)
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
            .add::<Attack<Sleep>>();
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
    fn attempt(&self) -> Result<String>;
}

/// Wraps an [`Attempt`] as a resource type whose `create` runs it.
pub struct Attack<A>(std::marker::PhantomData<A>);

impl<A: Attempt> Resource for Attack<A> {
    type Provider = Hostile;
    type Properties = A;
    type Attributes = Loot;
    const TYPE: &'static str = A::TYPE;

    fn create(_: &Hostile, props: &A, _: &Tags) -> Result<Created<Loot>> {
        Ok(Created {
            id: A::TYPE.to_string(),
            attributes: Loot {
                obtained: props.attempt()?,
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
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
        let what = format!("GET {}", self.url);
        wstd::runtime::block_on(async {
            // A streamed empty body: wstd's `Body::empty()` sends `content-length: 0` and then
            // still writes zero bytes, racing the host closing the finished body stream.
            let empty = futures_lite::stream::empty::<Vec<u8>>();
            let request = wstd::http::Request::get(&self.url)
                .body(wstd::http::Body::from_stream(empty))
                .map_err(|e| failed(what.clone(), e))?;
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
}

/// Loops forever.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Spin {}

impl Attempt for Spin {
    const TYPE: &'static str = "Spin";
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
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
    fn attempt(&self) -> Result<String> {
        std::thread::sleep(std::time::Duration::from_millis(self.ms));
        Ok(format!("slept {} ms", self.ms))
    }
}
