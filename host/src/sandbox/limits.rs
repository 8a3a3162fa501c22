//! Resource bounds of an instance: a memory limiter and a CPU meter.
//!
//! The CPU meter counts only time spent executing WebAssembly: store call hooks pause it while
//! the guest is inside a host call (waiting for HTTP, sleeping), and the epoch-deadline callback
//! checks it every tick and traps the guest once the budget is spent.

use std::time::{Duration, Instant};
use wasmtime::ResourceLimiter;

/// A limit the sandbox enforced; carried as the error of the trap it caused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitHit {
    #[error("memory limit of {limit_mib} MiB exceeded (the provider asked for {asked_mib} MiB)")]
    Memory { limit_mib: usize, asked_mib: usize },
    #[error("table limit of {limit} elements exceeded")]
    Table { limit: usize },
    #[error("CPU limit of {limit:?} exceeded (the provider ran WebAssembly for {used:?})")]
    Cpu { limit: Duration, used: Duration },
}

/// Most table elements an instance may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Refuses linear-memory growth past a byte limit.
pub struct MemoryLimiter {
    pub max_bytes: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(LimitHit::Memory {
                limit_mib: self.max_bytes >> 20,
                asked_mib: desired.div_ceil(1 << 20),
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(LimitHit::Table {
                limit: MAX_TABLE_ELEMENTS,
            }
            .into());
        }
        Ok(true)
    }
}

/// Time spent executing WebAssembly during the current call.
pub struct CpuMeter {
    pub limit: Duration,
    used: Duration,
    running_since: Option<Instant>,
}

impl CpuMeter {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            used: Duration::ZERO,
            running_since: None,
        }
    }

    /// Starts a new call's budget.
    pub fn reset(&mut self) {
        self.used = Duration::ZERO;
        self.running_since = None;
    }

    /// WebAssembly starts or resumes running.
    pub fn resume(&mut self) {
        self.running_since.get_or_insert_with(Instant::now);
    }

    /// WebAssembly stops running (returns, or calls the host).
    pub fn pause(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.used += since.elapsed();
        }
    }

    /// Errors once the budget is spent.
    pub fn check(&self) -> Result<(), LimitHit> {
        let used = self.used + self.running_since.map_or(Duration::ZERO, |s| s.elapsed());
        if used > self.limit {
            Err(LimitHit::Cpu {
                limit: self.limit,
                used,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_ignores_paused_time() {
        let mut meter = CpuMeter::new(Duration::from_millis(30));
        meter.resume();
        meter.pause();
        std::thread::sleep(Duration::from_millis(50));
        assert!(meter.check().is_ok(), "time outside wasm counted");
        meter.resume();
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(meter.check(), Err(LimitHit::Cpu { .. })));
        meter.reset();
        assert!(meter.check().is_ok());
    }

    #[test]
    fn memory_limit_names_both_sizes() {
        let mut limiter = MemoryLimiter {
            max_bytes: 32 << 20,
        };
        assert!(limiter.memory_growing(0, 16 << 20, None).unwrap());
        let err = limiter.memory_growing(0, 40 << 20, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory limit of 32 MiB exceeded (the provider asked for 40 MiB)"
        );
    }
}
