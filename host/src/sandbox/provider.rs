//! A configured provider: a pool of sandboxed instances and the typed SPI calls on them.

use super::ProviderModule;
use super::bindings::{self, rkit::provider::types as wit};
use super::grants::{Grants, HttpAllow};
use super::instance::{HostState, Instance, new_store};
use super::limits::LimitHit;
use super::output::GuestOutput;
use crate::spi::{Created, Diagnostic, ErrorKind, Observed, ProviderError, ProviderInfo, Tags};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::Trap;

/// What a loaded module holds.
pub(super) struct ModuleInner {
    pub origin: String,
    pub digest: String,
    pub pre: bindings::ProviderPre<HostState>,
    pub info: Option<ProviderInfo>,
}

/// A provider running in the sandbox with its grants and configuration. Calls may run
/// concurrently: each takes an idle instance (or creates and configures a new one) and
/// returns it afterwards; an instance that trapped, hit a limit or timed out is discarded.
pub struct Provider {
    module: Arc<ModuleInner>,
    grants: Grants,
    http: Arc<[HttpAllow]>,
    /// HTTP requests its instances sent (denied ones not counted).
    sent: Arc<AtomicU64>,
    /// The configuration as JSON text; `None` for the describe-only probe.
    config: Option<String>,
    idle: Mutex<Vec<Instance>>,
}

type CallResult<R> = Result<(R, Vec<String>), ProviderError>;

impl Provider {
    fn new(module: &ProviderModule, grants: Grants, config: Option<String>) -> Self {
        Self {
            module: module.inner.clone(),
            http: grants.http.clone().into(),
            sent: Arc::default(),
            grants,
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A provider that is never configured: for `describe` and `validate` only.
    pub(super) fn unconfigured(module: &ProviderModule, grants: Grants) -> Self {
        Self::new(module, grants, None)
    }

    pub(super) async fn start(
        module: &ProviderModule,
        grants: Grants,
        config: &Value,
    ) -> Result<Self, ProviderError> {
        let provider = Self::new(module, grants, Some(config.to_string()));
        let instance = provider.instantiate().await?;
        provider.idle.lock().expect("pool lock").push(instance);
        Ok(provider)
    }

    /// The provider's name (from `describe`), or the module's origin before it is described.
    pub fn name(&self) -> &str {
        self.module
            .info
            .as_ref()
            .map_or(&self.module.origin, |info| &info.name)
    }

    /// How many HTTP requests the provider has sent so far (denied ones are not counted).
    pub fn http_requests(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// A new instance, configured.
    async fn instantiate(&self) -> Result<Instance, ProviderError> {
        let output = GuestOutput::default();
        let engine = self.module.pre.engine();
        let mut store = new_store(
            engine,
            &self.grants,
            self.http.clone(),
            self.sent.clone(),
            &output,
        )
        .map_err(|err| {
            ProviderError::new(
                ErrorKind::Denied,
                format!(
                    "cannot grant provider {} its capabilities: {err:#}",
                    self.name()
                ),
            )
        })?;
        let world = match self.module.pre.instantiate_async(&mut store).await {
            Ok(world) => world,
            Err(err) => return Err(self.fault("instantiation", &err, &output)),
        };
        let mut instance = Instance {
            store,
            world,
            output,
        };
        if let Some(config) = &self.config {
            let configured = instance
                .world
                .rkit_provider_resources()
                .call_configure(&mut instance.store, config)
                .await;
            match configured {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    let mut err = bindings::error(err);
                    err.message = format!("configuring provider {}: {}", self.name(), err.message);
                    return Err(err);
                }
                Err(err) => return Err(self.fault("configure", &err, &instance.output)),
            }
        }
        Ok(instance)
    }

    /// Runs `call` on an instance, bounded by the wall-clock timeout; returns its value and the
    /// HTTP requests the gate denied during it.
    async fn call<R>(
        &self,
        op: &str,
        call: impl AsyncFnOnce(&mut Instance) -> wasmtime::Result<R>,
    ) -> CallResult<R> {
        let pooled = self.idle.lock().expect("pool lock").pop();
        let work = async {
            let mut instance = match pooled {
                Some(instance) => instance,
                None => self.instantiate().await?,
            };
            instance.begin_call();
            match call(&mut instance).await {
                Ok(value) => {
                    let denied = instance.store.data_mut().policy.take_denied();
                    Ok((value, denied, instance))
                }
                Err(err) => Err(self.fault(op, &err, &instance.output)),
            }
        };
        match tokio::time::timeout(self.grants.timeout, work).await {
            Ok(Ok((value, denied, instance))) => {
                self.idle.lock().expect("pool lock").push(instance);
                Ok((value, denied))
            }
            Ok(Err(err)) => Err(err),
            Err(_) => Err(ProviderError::new(
                ErrorKind::Fault,
                format!(
                    "provider {} exceeded its time limit of {:?} during {op} and was stopped",
                    self.name(),
                    self.grants.timeout
                ),
            )),
        }
    }

    /// Describes a trap or host failure of a call.
    fn fault(&self, op: &str, err: &wasmtime::Error, output: &GuestOutput) -> ProviderError {
        let what = if let Some(limit) = err.downcast_ref::<LimitHit>() {
            format!("hit a sandbox limit: {limit}")
        } else if let Some(trap) = err.downcast_ref::<Trap>() {
            match trap {
                Trap::UnreachableCodeReached => "crashed (it panicked or aborted)".to_string(),
                other => format!("trapped: {other}"),
            }
        } else {
            format!("failed in the sandbox: {err:#}")
        };
        let mut message = format!("provider {} {what} during {op}", self.name());
        let printed = output.take();
        if !printed.is_empty() {
            message.push_str("; it printed:\n");
            for line in printed.lines() {
                message.push_str("  ");
                message.push_str(line);
                message.push('\n');
            }
            message.truncate(message.trim_end().len());
        }
        ProviderError::new(ErrorKind::Fault, message)
    }

    /// Name, version, types and capabilities.
    pub async fn describe(&self) -> Result<ProviderInfo, ProviderError> {
        let (info, _) = self
            .call("describe", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_describe(&mut i.store)
                    .await
            })
            .await?;
        bindings::provider_info(info)
    }

    /// Checks a resource's properties.
    pub async fn validate(
        &self,
        type_name: &str,
        properties: &Value,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        let properties = properties.to_string();
        let (found, _) = self
            .call("validate", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_validate(&mut i.store, type_name, &properties)
                    .await
            })
            .await?;
        Ok(found.into_iter().map(bindings::diagnostic).collect())
    }

    /// Creates a resource.
    pub async fn create(
        &self,
        type_name: &str,
        properties: &Value,
        tags: &Tags,
    ) -> Result<Created, ProviderError> {
        let properties = properties.to_string();
        let tags = bindings::tags_to_wit(tags);
        let (result, denied) = self
            .call("create", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_create(&mut i.store, type_name, &properties, &tags)
                    .await
            })
            .await?;
        bindings::created(result.map_err(|e| guest_error(e, denied))?)
    }

    /// Reads a resource; `None` if it is gone.
    pub async fn read(
        &self,
        type_name: &str,
        id: &str,
        properties: &Value,
    ) -> Result<Option<Observed>, ProviderError> {
        let properties = properties.to_string();
        let (result, denied) = self
            .call("read", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_read(&mut i.store, type_name, id, &properties)
                    .await
            })
            .await?;
        result
            .map_err(|e| guest_error(e, denied))?
            .map(bindings::observed)
            .transpose()
    }

    /// Updates a resource in place; returns its new attributes.
    pub async fn update(
        &self,
        type_name: &str,
        id: &str,
        old: &Value,
        new: &Value,
        tags: &Tags,
    ) -> Result<Value, ProviderError> {
        let (old, new) = (old.to_string(), new.to_string());
        let tags = bindings::tags_to_wit(tags);
        let (result, denied) = self
            .call("update", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_update(&mut i.store, type_name, id, &old, &new, &tags)
                    .await
            })
            .await?;
        let attributes = result.map_err(|e| guest_error(e, denied))?;
        bindings::json(&format!("the attributes of {id}"), &attributes)
    }

    /// Deletes a resource.
    pub async fn delete(
        &self,
        type_name: &str,
        id: &str,
        properties: &Value,
    ) -> Result<(), ProviderError> {
        let properties = properties.to_string();
        let (result, denied) = self
            .call("delete", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_delete(&mut i.store, type_name, id, &properties)
                    .await
            })
            .await?;
        result.map_err(|e| guest_error(e, denied))
    }

    /// Lists the resources of a type carrying all of `tags`.
    pub async fn list(&self, type_name: &str, tags: &Tags) -> Result<Vec<Observed>, ProviderError> {
        let tags = bindings::tags_to_wit(tags);
        let (result, denied) = self
            .call("list", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_list(&mut i.store, type_name, &tags)
                    .await
            })
            .await?;
        result
            .map_err(|e| guest_error(e, denied))?
            .into_iter()
            .map(bindings::observed)
            .collect()
    }
}

/// A provider's own error, with what the sandbox denied during the call (which usually
/// explains it).
fn guest_error(err: wit::Error, denied: Vec<String>) -> ProviderError {
    let mut err = bindings::error(err);
    if !denied.is_empty() {
        err.message = format!(
            "{} [the sandbox denied: {}]",
            err.message,
            denied.join("; ")
        );
    }
    err
}
