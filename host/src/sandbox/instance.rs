//! One sandboxed instance of a provider: its store (with the WASI context built from the
//! grants, the HTTP gate and the budget) and its bindings.

use super::bindings;
use super::budget::Budget;
use super::grants::Grants;
use super::http::{HttpGate, HttpPolicy};
use super::limits::MemoryLimiter;
use super::output::GuestOutput;
use anyhow::{Result, anyhow};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, Engine, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Most host objects (handles: files, streams, HTTP fields, requests…) an instance may hold.
pub const MAX_HANDLES: usize = 10_000;

/// Most host objects an instance may still hold after a call and be reused (its preopened
/// directory, standard streams and the like are a handful).
pub const MAX_HELD_BETWEEN_CALLS: usize = 64;

/// The data of an instance's store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(super) policy: HttpPolicy,
    limiter: MemoryLimiter,
    budget: Arc<Budget>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.policy,
        }
    }
}

/// A live instance, ready for calls.
pub struct Instance {
    pub store: Store<HostState>,
    pub world: bindings::Provider,
    pub output: GuestOutput,
    pub budget: Arc<Budget>,
}

/// A store for one instance: no environment, no arguments, no sockets, no stdin; the granted
/// directory (if any, by its open handle) as `/`; HTTP through the gate; memory (host objects
/// included), handles and CPU bounded by `budget`.
pub fn new_store(
    engine: &Engine,
    grants: &Grants,
    gate: Arc<HttpGate>,
    output: &GuestOutput,
    budget: Arc<Budget>,
) -> Result<Store<HostState>> {
    let mut wasi = WasiCtx::builder();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(dir) = &grants.filesystem {
        wasi.preopened_dir(dir.handle_path(), "/", FsPerms::ReadWrite)
            .map_err(|err| anyhow!("filesystem grant {}: {err:#}", dir.path().display()))?;
    }
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_HANDLES);
    let state = HostState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table,
        policy: HttpPolicy::new(gate),
        limiter: MemoryLimiter {
            budget: budget.clone(),
        },
        budget,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.call_hook(|ctx, hook| {
        if matches!(hook, CallHook::ReturningFromHost | CallHook::CallingHost) {
            ctx.data().budget.check_memory()?;
        }
        Ok(())
    });
    store.epoch_deadline_callback(|ctx| {
        ctx.data().budget.check()?;
        // Let other tasks run between ticks of a long computation.
        Ok(UpdateDeadline::Yield(1))
    });
    Ok(store)
}

impl Instance {
    /// How many host objects the instance holds now.
    pub fn held_handles(&mut self) -> usize {
        self.store.data_mut().table.iter_mut().count()
    }

    /// Prepares the store for a new call: a fresh CPU budget, no leftover output or denials.
    pub fn begin_call(&mut self) {
        self.budget.new_call();
        self.store.data_mut().policy.take_denied();
        self.store.data_mut().policy.begin_call();
        self.store.set_epoch_deadline(1);
        self.output.take();
    }
}
