//! The limits an instance runs under, as wasmtime sees them: the linear-memory and table
//! limiter. What is counted, and [`LimitHit`], the error a trap caused by a limit carries,
//! live in [`super::budget`].

use super::budget::{Budget, LimitHit};
use std::sync::Arc;
use wasmtime::ResourceLimiter;

/// Most table elements an instance may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Refuses linear-memory growth past the budget (host objects included) and tables past
/// [`MAX_TABLE_ELEMENTS`].
pub struct MemoryLimiter {
    pub budget: Arc<Budget>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.budget.grow_linear(desired)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn memory_limit_names_both_sizes() {
        let mut limiter = MemoryLimiter {
            budget: Budget::new(32 << 20, Duration::from_secs(1)),
        };
        assert!(limiter.memory_growing(0, 16 << 20, None).unwrap());
        let err = limiter.memory_growing(0, 40 << 20, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory limit of 32 MiB exceeded (the provider asked for 40 MiB of memory and held 0 MiB of host objects)"
        );
    }
}
