//! The sandbox: loads provider components into wasmtime and runs them with only what they are
//! granted (see [`Grants`]).
//!
//! - [`Sandbox`] owns the engine, the linker (WASI p2 + wasi:http behind the gate), the epoch
//!   ticker and the compiled-component cache.
//! - [`ProviderModule`] is a loaded component: its digest, its `describe` answer and a
//!   pre-instantiated component.
//! - [`Provider`] is a configured provider with its grants: a pool of instances on which the
//!   SPI is called; a trap or limit discards the instance, never the host.
//!
//! The SPI spoken is `rkit:provider@0.4.0`; a module built for another version is refused
//! with a message saying which and what changed since. A module may outline its types in
//! `describe` and describe them whole on demand: [`ProviderModule::described`] asks for the
//! types a run uses, and only those.

mod bindings;
mod budget;
mod cache;
mod fs_guard;
mod grant_dir;
mod grants;
mod http;
mod instance;
mod limits;
mod output;
mod provider;

pub use budget::LimitHit;
pub use cache::ComponentCache;
pub use grant_dir::GrantDir;
pub use grants::{DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_TIMEOUT, Grants};
pub use http::{
    AddressKind, ApiActions, AwsEndpoint, AwsSigner, BadApiAction, BadHttpAllow, BadResourceType,
    HttpAllow, MAX_SENDS, ResourceTypes, access_key_hint, actions_needed, classify_address,
    operation,
};
pub use provider::Provider;

/// The SPI version this host speaks.
pub const SPI_VERSION: &str = "0.4.0";
/// The interface a provider component must export.
const SPI_EXPORT: &str = "rkit:provider/resources@0.4.0";

use crate::spi::ProviderInfo;
use anyhow::{Context, Result, anyhow, bail};
use instance::HostState;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

/// How often the engine's epoch advances: the granularity of CPU accounting.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasmtime engine and linker shared by every provider.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ComponentCache>,
}

impl Sandbox {
    /// A sandbox caching compiled components in `cache_dir` (none: compile on every load).
    pub fn new(cache_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        fs_guard::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let cache = cache_dir.map(|dir| ComponentCache::new(dir, &engine));
        Ok(Self {
            engine,
            linker,
            cache,
        })
    }

    /// Loads the provider component in the file at `path`; `describe` runs within the limits
    /// of `limits` (memory, CPU, timeout; nothing else of it is granted).
    pub async fn load_file(&self, path: &Path, limits: &Grants) -> Result<ProviderModule> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading provider {}", path.display()))?;
        self.load(&bytes, &path.display().to_string(), limits).await
    }

    /// Loads a provider component from its bytes; `origin` names it in messages; `describe`
    /// runs within the limits of `limits` and is granted nothing else.
    pub async fn load(
        &self,
        bytes: &[u8],
        origin: &str,
        limits: &Grants,
    ) -> Result<ProviderModule> {
        let digest = hex::encode(Sha256::digest(bytes));
        let component = match &self.cache {
            Some(cache) => cache.load(&self.engine, &digest, bytes),
            None => wasmtime::component::Component::new(&self.engine, bytes).map_err(Into::into),
        }
        .with_context(|| format!("{origin} is not a WebAssembly component"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(bindings::ProviderPre::new)
            .map_err(|err| self.not_a_provider(&component, origin, err))?;
        let mut module = ProviderModule {
            inner: Arc::new(provider::ModuleInner {
                origin: origin.to_string(),
                digest,
                pre,
                info: None,
            }),
        };
        // Describe in a sandbox with no grants at all, within the caller's limits.
        let probe = Provider::unconfigured(&module, limits.limits_only());
        let info = probe
            .describe()
            .await
            .with_context(|| format!("describing {origin}"))?;
        drop(probe);
        Arc::get_mut(&mut module.inner)
            .expect("not shared yet")
            .info = Some(info);
        Ok(module)
    }
}

impl Sandbox {
    /// Why `component` cannot be used: built for another SPI version, or not a provider.
    fn not_a_provider(
        &self,
        component: &wasmtime::component::Component,
        origin: &str,
        err: wasmtime::Error,
    ) -> anyhow::Error {
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if let Some(other) = exports
            .iter()
            .find(|n| n.starts_with("rkit:provider/resources@") && n.as_str() != SPI_EXPORT)
        {
            let version = other.trim_start_matches("rkit:provider/resources@");
            return anyhow!(
                "{origin} was built for rkit:provider@{} but this rkit speaks rkit:provider@{SPI_VERSION}: \
                 rebuild it with rkit-sdk {SPI_VERSION} ({})",
                crate::text::escape(version),
                since(version)
            );
        }
        anyhow!(
            "{origin} is not an rkit provider (it must export {SPI_EXPORT} and import only WASI): {}",
            crate::text::escape(&format!("{err:#}"))
        )
    }
}

/// What changed in the SPI since `version` (the reason a module built for it must be rebuilt).
fn since(version: &str) -> &'static str {
    match version {
        "0.1.0" => {
            "since 0.2.0 a provider never receives credentials: it declares the API actions it \
             calls and rkit signs its requests; since 0.3.0 it reads many resources in one \
             call (`read-many`); and since 0.4.0 it may describe types on demand \
             (`describe-types`) and declares the Cloud Control types it touches"
        }
        "0.2.0" => {
            "since 0.3.0 a provider reads many resources in one call (`read-many`, with a batch \
             size per type in `describe`); and since 0.4.0 it may describe types on demand \
             (`describe-types`) and declares the Cloud Control types it touches"
        }
        "0.3.0" => {
            "since 0.4.0 a provider may describe types on demand (`describe-types`), declares \
             the Cloud Control types it touches (`resource-types`), and its force-new paths \
             may be nested"
        }
        _ => "the interface differs",
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("rkit-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// A loaded provider component.
#[derive(Clone)]
pub struct ProviderModule {
    inner: Arc<provider::ModuleInner>,
}

impl ProviderModule {
    /// The provider's `describe` answer.
    pub fn info(&self) -> &ProviderInfo {
        self.inner.info.as_ref().expect("described at load")
    }

    /// The sha256 of the component's bytes, in hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Where the module came from (its path).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// This module with the outlined types among `names` described whole (`describe-types`,
    /// run within the limits of `limits` and granted nothing else); names it does not know
    /// are left for validation to report. The module itself if none is outlined.
    pub async fn described(&self, names: &[String], limits: &Grants) -> Result<ProviderModule> {
        let info = self.info();
        let wanted: Vec<String> = names
            .iter()
            .filter(|n| info.type_info(n).is_some_and(|t| t.outline))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(self.clone());
        }
        let probe = Provider::unconfigured(self, limits.limits_only());
        let origin = &self.inner.origin;
        let full = probe
            .describe_types(&wanted)
            .await
            .with_context(|| format!("describing {} of {origin}", wanted.join(", ")))?;
        let mut info = info.clone();
        for (asked, got) in wanted.iter().zip(&full) {
            if &got.name != asked || got.outline {
                bail!(
                    "{origin} answered describe-types for {asked} with {} type {}",
                    if got.outline { "an outlined" } else { "the" },
                    got.name
                );
            }
        }
        if full.len() != wanted.len() {
            bail!(
                "{origin} answered describe-types with {} types for {} asked",
                full.len(),
                wanted.len()
            );
        }
        for got in full {
            if let Some(slot) = info.types.iter_mut().find(|t| t.name == got.name) {
                *slot = got;
            }
        }
        Ok(self.with_info(info))
    }

    /// This module with `types` as its types (a view for showing some of them).
    pub fn with_types(&self, types: Vec<crate::spi::TypeInfo>) -> ProviderModule {
        let mut info = self.info().clone();
        info.types = types;
        self.with_info(info)
    }

    /// This module, described as `info`.
    fn with_info(&self, info: ProviderInfo) -> ProviderModule {
        ProviderModule {
            inner: Arc::new(provider::ModuleInner {
                origin: self.inner.origin.clone(),
                digest: self.inner.digest.clone(),
                pre: self.inner.pre.clone(),
                info: Some(info),
            }),
        }
    }

    /// Starts the provider with `grants` and `config`: one instance is created and configured
    /// at once, so a bad grant or configuration fails here rather than mid-apply.
    pub async fn start(
        &self,
        grants: Grants,
        config: &serde_json::Value,
    ) -> Result<Provider, crate::spi::ProviderError> {
        Provider::start(self, grants, config).await
    }
}
