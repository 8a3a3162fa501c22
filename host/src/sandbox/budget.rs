//! What one instance may consume, counted wherever it is spent: CPU in WebAssembly *and* in
//! the host calls it makes, memory in its linear memory *and* in the host objects it makes
//! (wasi-http fields and bodies, resource-table entries, buffers).
//!
//! Invariants:
//! - Every poll of a future that runs an instance's code (instantiation, configure, each SPI
//!   call) is wrapped in [`Metered`]: the thread's CPU time during the poll is added to the
//!   instance's [`Budget`], and heap allocations made on that thread during the poll are
//!   charged to it (frees credited, never below zero). Time the call spends waiting (HTTP,
//!   sleeps, blocking file I/O on other threads) is outside any poll and is not counted.
//! - Both are per call: [`Budget::new_call`] starts from zero. What an instance keeps between
//!   calls is bounded apart: an instance holding more than a few host objects after a call is
//!   not reused (see `provider.rs`), so nothing accumulates across calls, and bytes freed
//!   elsewhere (a request body sent by another task) never count against a later call.
//! - The budget is checked at every epoch tick inside WebAssembly, on every return from a host
//!   call, on every linear-memory growth and after every poll; once spent, the call traps (or
//!   its future ends) with [`LimitHit`], and the instance is discarded.
//! - The allocator's bookkeeping is one thread-local read when no instance is running, so rkit
//!   itself pays nothing measurable for it.

use crate::heap::Heap;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// A limit the sandbox enforced; carried as the error of the trap it caused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitHit {
    #[error(
        "memory limit of {limit_mib} MiB exceeded (the provider asked for {asked_mib} MiB of memory and held {host_mib} MiB of host objects)"
    )]
    Memory {
        limit_mib: usize,
        asked_mib: usize,
        host_mib: usize,
    },
    #[error("table limit of {limit} elements exceeded")]
    Table { limit: usize },
    #[error(
        "CPU limit of {limit:?} exceeded (the provider used {used:?} of CPU, in WebAssembly and in the host calls it made)"
    )]
    Cpu { limit: Duration, used: Duration },
}

/// The resources one instance has used against its limits.
#[derive(Debug)]
pub struct Budget {
    memory_limit: usize,
    cpu_limit: Duration,
    /// Host heap bytes allocated on the instance's behalf and not freed.
    host_bytes: AtomicIsize,
    /// The size of its linear memories.
    linear_bytes: AtomicUsize,
    /// CPU time of the current call, in nanoseconds, polls already finished.
    cpu_ns: AtomicU64,
    /// The thread CPU clock when the running poll began (0: no poll running).
    poll_started: AtomicU64,
}

impl Budget {
    pub fn new(memory_limit: usize, cpu_limit: Duration) -> Arc<Self> {
        Arc::new(Self {
            memory_limit,
            cpu_limit,
            host_bytes: AtomicIsize::new(0),
            linear_bytes: AtomicUsize::new(0),
            cpu_ns: AtomicU64::new(0),
            poll_started: AtomicU64::new(0),
        })
    }

    /// Starts a new call's budget.
    pub fn new_call(&self) {
        self.cpu_ns.store(0, Ordering::Relaxed);
        self.host_bytes.store(0, Ordering::Relaxed);
    }

    fn host(&self) -> usize {
        self.host_bytes.load(Ordering::Relaxed).max(0) as usize
    }

    /// Whether linear memory may grow to `desired` bytes; records it if so.
    pub fn grow_linear(&self, desired: usize) -> Result<(), LimitHit> {
        let host = self.host();
        if desired.saturating_add(host) > self.memory_limit {
            return Err(LimitHit::Memory {
                limit_mib: self.memory_limit >> 20,
                asked_mib: desired.div_ceil(1 << 20),
                host_mib: host.div_ceil(1 << 20),
            });
        }
        self.linear_bytes.store(desired, Ordering::Relaxed);
        Ok(())
    }

    /// Errors once host objects and linear memory together exceed the memory limit.
    pub fn check_memory(&self) -> Result<(), LimitHit> {
        let host = self.host();
        let linear = self.linear_bytes.load(Ordering::Relaxed);
        if host.saturating_add(linear) > self.memory_limit {
            return Err(LimitHit::Memory {
                limit_mib: self.memory_limit >> 20,
                asked_mib: linear.div_ceil(1 << 20),
                host_mib: host.div_ceil(1 << 20),
            });
        }
        Ok(())
    }

    /// CPU used by the current call so far, the running poll included (on its own thread).
    pub fn cpu_used(&self) -> Duration {
        let started = self.poll_started.load(Ordering::Relaxed);
        let running = if started == 0 {
            0
        } else {
            thread_cpu_ns().saturating_sub(started)
        };
        Duration::from_nanos(self.cpu_ns.load(Ordering::Relaxed) + running)
    }

    /// Errors once the call's CPU budget is spent.
    pub fn check_cpu(&self) -> Result<(), LimitHit> {
        let used = self.cpu_used();
        if used > self.cpu_limit {
            return Err(LimitHit::Cpu {
                limit: self.cpu_limit,
                used,
            });
        }
        Ok(())
    }

    /// Both checks.
    pub fn check(&self) -> Result<(), LimitHit> {
        self.check_memory()?;
        self.check_cpu()
    }
}

/// The calling thread's CPU time, in nanoseconds (never 0).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
        .max(1)
}

/// A future whose polls are charged to a [`Budget`] (see the module's invariants).
pub struct Metered<F> {
    budget: Arc<Budget>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Metered<F> {
    pub fn new(budget: Arc<Budget>, inner: F) -> Self {
        Self {
            budget,
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = Result<F::Output, LimitHit>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let started = thread_cpu_ns();
        this.budget.poll_started.store(started, Ordering::Relaxed);
        let previous = CHARGE.with(|c| c.replace(&this.budget.host_bytes as *const AtomicIsize));
        let polled = this.inner.as_mut().poll(cx);
        CHARGE.with(|c| c.set(previous));
        this.budget.poll_started.store(0, Ordering::Relaxed);
        this.budget
            .cpu_ns
            .fetch_add(thread_cpu_ns().saturating_sub(started), Ordering::Relaxed);
        match polled {
            Poll::Ready(value) => Poll::Ready(Ok(value)),
            Poll::Pending => match this.budget.check() {
                Ok(()) => Poll::Pending,
                Err(hit) => Poll::Ready(Err(hit)),
            },
        }
    }
}

thread_local! {
    /// The host-bytes counter allocations on this thread are charged to, while an instance's
    /// future is being polled here (null otherwise). Const-initialised and without a
    /// destructor, so reading it never allocates.
    static CHARGE: Cell<*const AtomicIsize> = const { Cell::new(std::ptr::null()) };
}

fn charge(bytes: isize) {
    let _ = CHARGE.try_with(|c| {
        let counter = c.get();
        if counter.is_null() {
            return;
        }
        // SAFETY: the pointer is set only for the duration of a `Metered::poll`, which holds
        // an `Arc` of the budget that owns the counter.
        let counter = unsafe { &*counter };
        if bytes >= 0 {
            counter.fetch_add(bytes, Ordering::Relaxed);
        } else {
            let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some((held + bytes).max(0))
            });
        }
    });
}

/// The process's allocator: its heap ([`crate::heap`]), charging allocations made while an
/// instance runs to that instance (see [`Metered`]).
pub struct ChargingAllocator;

// SAFETY: every method forwards to `Heap` unchanged; the bookkeeping neither allocates nor
// touches the returned memory.
unsafe impl GlobalAlloc for ChargingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { Heap.alloc(layout) };
        if !p.is_null() {
            charge(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { Heap.alloc_zeroed(layout) };
        if !p.is_null() {
            charge(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { Heap.dealloc(ptr, layout) };
        charge(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { Heap.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            charge(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: ChargingAllocator = ChargingAllocator;

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn allocations_during_a_poll_are_charged_and_frees_credited() {
        let budget = Budget::new(64 << 20, Duration::from_secs(10));
        let kept = block_on(Metered::new(budget.clone(), async {
            let kept = vec![1u8; 4 << 20];
            drop(vec![0u8; 8 << 20]);
            kept
        }))
        .unwrap();
        let held = budget.host();
        assert!((4 << 20..5 << 20).contains(&held), "{held}");
        drop(kept);
        assert_eq!(
            budget.host(),
            held,
            "a free outside any poll is not credited"
        );
        let _ = vec![0u8; 16 << 20];
        assert_eq!(budget.host(), held, "nothing outside a poll is charged");
    }

    #[test]
    fn host_objects_and_linear_memory_share_the_limit() {
        let budget = Budget::new(16 << 20, Duration::from_secs(10));
        budget.grow_linear(8 << 20).unwrap();
        let kept = block_on(Metered::new(budget.clone(), async { vec![1u8; 9 << 20] }));
        let kept = kept.unwrap();
        let err = budget.check_memory().unwrap_err();
        assert!(
            err.to_string().starts_with(
                "memory limit of 16 MiB exceeded (the provider asked for 8 MiB of memory and held"
            ),
            "{err}"
        );
        drop(kept);
    }

    #[test]
    fn a_pending_future_over_its_cpu_budget_is_stopped() {
        let budget = Budget::new(64 << 20, Duration::from_millis(30));
        let spin = async {
            loop {
                let until = std::time::Instant::now() + Duration::from_millis(5);
                while std::time::Instant::now() < until {
                    std::hint::black_box(0);
                }
                tokio::task::yield_now().await;
            }
        };
        let hit = block_on(Metered::new(budget.clone(), spin)).unwrap_err();
        assert!(matches!(hit, LimitHit::Cpu { .. }), "{hit}");
        assert!(budget.cpu_used() >= Duration::from_millis(30));
    }
}
