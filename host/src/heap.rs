//! The process's heap: mimalloc, set up before anything allocates so that what rkit frees is
//! given back to the system rather than kept committed.
//!
//! Why not the system's allocator: a state of 100,000 records is ~600,000 small allocations.
//! glibc gives each at least 32 bytes plus a header and keeps freed chunks; mimalloc sizes
//! them by class with no header, and returns freed pages. Measured at 100,000 resources (a
//! no-op plan, a 32 MiB state): 113 MiB with glibc, 132 MiB with mimalloc's defaults, 95 MiB
//! as set up here (BENCHMARKS.md, "Memory against the state's size").
//!
//! Invariants:
//! - [`Heap`] forwards every call to mimalloc unchanged; the sandbox's charging allocator (the
//!   `#[global_allocator]`, `sandbox::budget`) wraps it.
//! - On Linux the options below are set by an ELF constructor that runs before any Rust code
//!   (and so before mimalloc reserves its first arena, which reads them): arenas are committed
//!   as they are used, not all at once (an eagerly committed arena's freed pages are only
//!   reset, and stay in the resident set), and freed pages are given back at once rather than
//!   after a delay. A variable `MIMALLOC_*` set by the user is still read at load, and these
//!   override it. Elsewhere mimalloc's defaults, which on other systems commit on use.

use std::alloc::{GlobalAlloc, Layout};

/// mimalloc (v3, pinned by `Cargo.lock`), called through its Rust binding.
pub struct Heap;

// SAFETY: every method forwards to mimalloc with the caller's guarantees.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// mimalloc's options, by their place in `mi_option_e` (the binding does not name these):
/// the numbers of mimalloc.h v3, the version `Cargo.lock` pins.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Run by the dynamic loader with the process's constructors, before `main` and so before
/// the first allocation (priority 101, the first a program may use: before constructors
/// without one).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00101")]
static SET_UP: extern "C" fn() = set_up;

#[cfg(target_os = "linux")]
extern "C" fn set_up() {
    // SAFETY: mimalloc's option setters write its option table; this runs before any other
    // thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn options_are_set_before_main() {
        // SAFETY: reads mimalloc's option table.
        let (commit, delay) = unsafe {
            (
                libmimalloc_sys::mi_option_get(ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(PURGE_DELAY),
            )
        };
        assert_eq!((commit, delay), (0, 0));
    }
}
