//! One sandboxed instance of a provider: its store (with the WASI context built from the
//! grants, the HTTP gate and the limits) and its bindings.

use super::bindings;
use super::grants::{Grants, HttpAllow};
use super::http_policy::HttpPolicy;
use super::limits::{CpuMeter, MemoryLimiter};
use super::output::GuestOutput;
use anyhow::{Result, anyhow};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, Engine, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The data of an instance's store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(super) policy: HttpPolicy,
    memory: MemoryLimiter,
    pub(super) cpu: CpuMeter,
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
}

/// A store for one instance: no environment, no arguments, no sockets, no stdin; the granted
/// directory (if any) as `/`; HTTP through the gate; memory and CPU bounded.
pub fn new_store(
    engine: &Engine,
    grants: &Grants,
    http: Arc<[HttpAllow]>,
    sent: Arc<AtomicU64>,
    output: &GuestOutput,
) -> Result<Store<HostState>> {
    let mut wasi = WasiCtx::builder();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(dir) = &grants.filesystem {
        wasi.preopened_dir(dir, "/", FsPerms::ReadWrite)
            .map_err(|err| anyhow!("filesystem grant {}: {err:#}", dir.display()))?;
    }
    let state = HostState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        policy: HttpPolicy::new(http, sent),
        memory: MemoryLimiter {
            max_bytes: grants.memory_bytes,
        },
        cpu: CpuMeter::new(grants.cpu),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    store.call_hook(|mut ctx, hook| {
        let cpu = &mut ctx.data_mut().cpu;
        match hook {
            CallHook::CallingWasm | CallHook::ReturningFromHost => cpu.resume(),
            CallHook::ReturningFromWasm | CallHook::CallingHost => cpu.pause(),
        }
        Ok(())
    });
    store.epoch_deadline_callback(|ctx| {
        ctx.data().cpu.check()?;
        // Let other tasks run between ticks of a long computation.
        Ok(UpdateDeadline::Yield(1))
    });
    Ok(store)
}

impl Instance {
    /// Prepares the store for a new call: a fresh CPU budget, no leftover output or denials.
    pub fn begin_call(&mut self) {
        self.store.data_mut().cpu.reset();
        self.store.data_mut().policy.take_denied();
        self.store.set_epoch_deadline(1);
        self.output.take();
    }
}
