//! A configured provider: a pool of sandboxed instances and the typed SPI calls on them.
//!
//! Invariant: every call into the guest (instantiation and `configure` included) runs inside
//! [`Metered`] (its CPU and host memory counted) and inside the wall-clock timeout; a call that
//! trapped, hit a limit or timed out discards its instance.

use super::ProviderModule;
use super::bindings::{self, rkit::provider::types as wit};
use super::budget::LimitHit;
use super::budget::{Budget, Metered};
use super::grants::Grants;
use super::http::HttpGate;
use super::instance::{HostState, Instance, MAX_HANDLES, MAX_HELD_BETWEEN_CALLS, new_store};
use super::output::GuestOutput;
use crate::spi::{
    Created, Diagnostic, ErrorKind, Observed, ProviderError, ProviderInfo, Tags, TypeInfo,
};
use crate::text::escaped;
use serde_json::Value;
use std::sync::atomic::Ordering;
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
    /// The HTTP gate its instances share (it counts the requests sent).
    gate: Arc<HttpGate>,
    /// The configuration as JSON text; `None` for the describe-only probe.
    config: Option<String>,
    idle: Mutex<Vec<Instance>>,
}

type CallResult<R> = Result<(R, Vec<String>), ProviderError>;

impl Provider {
    fn new(module: &ProviderModule, grants: Grants, config: Option<String>) -> Self {
        Self {
            module: module.inner.clone(),
            gate: Arc::new(HttpGate {
                allowed: grants.http.clone(),
                signer: grants.signer.clone(),
                actions: grants.api_actions.clone(),
                resource_types: grants.resource_types.clone(),
                sent: Default::default(),
            }),
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
        let instance = provider
            .bounded("configure", provider.instantiate())
            .await?;
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
        self.gate.sent.load(Ordering::Relaxed)
    }

    /// `work`, bounded by the wall-clock timeout.
    async fn bounded<R>(
        &self,
        op: &str,
        work: impl Future<Output = Result<R, ProviderError>>,
    ) -> Result<R, ProviderError> {
        match tokio::time::timeout(self.grants.timeout, work).await {
            Ok(done) => done,
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

    /// A new instance, configured (metered like a call).
    async fn instantiate(&self) -> Result<Instance, ProviderError> {
        let output = GuestOutput::default();
        let budget = Budget::new(self.grants.memory_bytes, self.grants.cpu);
        let started = Metered::new(budget.clone(), self.instantiate_in(&output, budget.clone()));
        match started.await {
            Ok(instance) => instance,
            Err(hit) => Err(self.limit_fault("configure", &hit, &output)),
        }
    }

    async fn instantiate_in(
        &self,
        output: &GuestOutput,
        budget: Arc<Budget>,
    ) -> Result<Instance, ProviderError> {
        let engine = self.module.pre.engine();
        let mut store = new_store(
            engine,
            &self.grants,
            self.gate.clone(),
            output,
            budget.clone(),
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
            Err(err) => return Err(self.fault("instantiation", &err, output)),
        };
        let mut instance = Instance {
            store,
            world,
            output: output.clone(),
            budget,
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
                    let mut err = guest_error(err, instance.store.data_mut().policy.take_denied());
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
            let result = Metered::new(instance.budget.clone(), call(&mut instance)).await;
            match result {
                Ok(Ok(value)) => {
                    let denied = instance.store.data_mut().policy.take_denied();
                    Ok((value, denied, instance))
                }
                Ok(Err(err)) => Err(self.fault(op, &err, &instance.output)),
                Err(hit) => Err(self.limit_fault(op, &hit, &instance.output)),
            }
        };
        let (value, denied, mut instance) = self.bounded(op, work).await?;
        // An instance still holding many host objects is dropped (and them with it) rather
        // than reused: memory is bounded per call, and nothing accumulates across calls.
        if instance.held_handles() <= MAX_HELD_BETWEEN_CALLS {
            self.idle.lock().expect("pool lock").push(instance);
        }
        Ok((value, denied))
    }

    /// Describes a limit the budget enforced between two polls of a call.
    fn limit_fault(&self, op: &str, hit: &LimitHit, output: &GuestOutput) -> ProviderError {
        self.describe_fault(op, format!("hit a sandbox limit: {hit}"), output)
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
        } else if matches!(
            err.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        ) {
            format!("hit a sandbox limit: more than {MAX_HANDLES} host objects (handles) at once")
        } else {
            format!("failed in the sandbox: {}", escaped(&format!("{err:#}")))
        };
        self.describe_fault(op, what, output)
    }

    fn describe_fault(&self, op: &str, what: String, output: &GuestOutput) -> ProviderError {
        let mut message = format!("provider {} {what} during {op}", self.name());
        let printed = output.take();
        if !printed.is_empty() {
            message.push_str("; it printed:\n");
            for line in printed.lines() {
                message.push_str("  ");
                message.push_str(&escaped(line));
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

    /// The named types whole (`describe-types`), in the order asked.
    pub async fn describe_types(&self, names: &[String]) -> Result<Vec<TypeInfo>, ProviderError> {
        let (result, denied) = self
            .call("describe-types", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_describe_types(&mut i.store, names)
                    .await
            })
            .await?;
        result
            .map_err(|e| guest_error(e, denied))?
            .into_iter()
            .map(bindings::type_info)
            .collect()
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

    /// Creates a resource; `token` is its idempotency token (the same for every attempt).
    pub async fn create(
        &self,
        type_name: &str,
        properties: &Value,
        tags: &Tags,
        token: &str,
    ) -> Result<Created, ProviderError> {
        let properties = properties.to_string();
        let tags = bindings::tags_to_wit(tags);
        let (result, denied) = self
            .call("create", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_create(&mut i.store, type_name, &properties, &tags, token)
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
        self.read_text(type_name, id, &properties.to_string()).await
    }

    /// [`Self::read`], the properties given as their JSON text (as a record holds them).
    pub async fn read_text(
        &self,
        type_name: &str,
        id: &str,
        properties: &str,
    ) -> Result<Option<Observed>, ProviderError> {
        let (result, denied) = self
            .call("read", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_read(&mut i.store, type_name, id, properties)
                    .await
            })
            .await?;
        let observed = result
            .map_err(|e| guest_error(e, denied))?
            .map(bindings::observed)
            .transpose()?;
        if let Some(o) = &observed {
            self.same_id(type_name, id, &o.id)?;
        }
        Ok(observed)
    }

    /// An object read must be the one asked for: another ID is a `fault` naming both (a
    /// provider answering for another object would make rkit record the wrong one).
    fn same_id(&self, type_name: &str, asked: &str, got: &str) -> Result<(), ProviderError> {
        if asked == got {
            return Ok(());
        }
        Err(ProviderError::new(
            ErrorKind::Fault,
            format!(
                "provider {} answered a read of {} {} with an object whose ID is {}",
                self.name(),
                escaped(type_name),
                escaped(asked),
                escaped(got)
            ),
        ))
    }

    /// Reads many resources of one type in one call: one answer per `(id, properties)` (the
    /// properties as their JSON text), in order (`Ok(None)`: gone; `Err`: that one failed). The whole call fails when the provider
    /// fails it, answers with another number of answers than it was asked for, or answers one
    /// with an object carrying another ID than asked (a `fault` naming both).
    pub async fn read_many(
        &self,
        type_name: &str,
        items: &[(&str, &str)],
    ) -> Result<Vec<Result<Option<Observed>, ProviderError>>, ProviderError> {
        let requests: Vec<wit::ReadRequest> = items
            .iter()
            .map(|(id, properties)| wit::ReadRequest {
                id: id.to_string(),
                properties: (*properties).to_string(),
            })
            .collect();
        let (result, denied) = self
            .call("read-many", async |i| {
                i.world
                    .rkit_provider_resources()
                    .call_read_many(&mut i.store, type_name, &requests)
                    .await
            })
            .await?;
        let answers = result.map_err(|e| guest_error(e, denied.clone()))?;
        if answers.len() != items.len() {
            return Err(ProviderError::new(
                ErrorKind::Fault,
                format!(
                    "provider {} answered read-many of {} {} with {} answers",
                    self.name(),
                    items.len(),
                    escaped(type_name),
                    answers.len()
                ),
            ));
        }
        let answers: Vec<_> = answers
            .into_iter()
            .map(|answer| bindings::read_answer(answer).map_err(|e| with_denied(e, &denied)))
            .collect();
        for ((asked, _), answer) in items.iter().zip(&answers) {
            if let Ok(Some(o)) = answer {
                self.same_id(type_name, asked, &o.id)?;
            }
        }
        Ok(answers)
    }

    /// Reads a batch of one type: one `read` for a single item (a type that does not batch
    /// gets nothing else), else one `read-many`; answers as [`Provider::read_many`]'s.
    pub async fn read_batch(
        &self,
        type_name: &str,
        items: &[(&str, &str)],
    ) -> Result<Vec<Result<Option<Observed>, ProviderError>>, ProviderError> {
        match items {
            [(id, properties)] => Ok(vec![Ok(self.read_text(type_name, id, properties).await?)]),
            _ => self.read_many(type_name, items).await,
        }
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
/// explains it); with a denial, the error is of kind `denied` whatever the provider said.
fn guest_error(err: wit::Error, denied: Vec<String>) -> ProviderError {
    with_denied(bindings::error(err), &denied)
}

/// `err` with what the sandbox denied during its call, if anything (then of kind `denied`).
fn with_denied(mut err: ProviderError, denied: &[String]) -> ProviderError {
    if !denied.is_empty() {
        err.kind = ErrorKind::Denied;
        err.message = format!(
            "{} [the sandbox denied: {}]",
            err.message,
            denied.join("; ")
        );
    }
    err
}
