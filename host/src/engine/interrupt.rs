//! Interruption: the CLI raises it on SIGINT/SIGTERM; the engine looks at it between
//! operations. Once raised, no operation starts, those in flight finish (their intents are
//! journaled already), retry waits end early, and the state is written. A second signal is
//! the CLI's to handle (it abandons what is in flight).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use tokio::sync::Notify;

/// Shared by everything one command runs; cheap to clone.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<Inner>);

#[derive(Default)]
struct Inner {
    raised: AtomicU32,
    notify: Notify,
    /// Whether operations that change things are under way (an interrupt then lets them
    /// finish; otherwise there is nothing to wait for).
    busy: AtomicBool,
}

impl Interrupt {
    /// Raises it; returns how many times it has been raised.
    pub fn raise(&self) -> u32 {
        let n = self.0.raised.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.notify.notify_waiters();
        n
    }

    /// Whether it has been raised.
    pub fn raised(&self) -> bool {
        self.0.raised.load(Ordering::SeqCst) > 0
    }

    /// Marks whether changes are under way.
    pub fn set_busy(&self, busy: bool) {
        self.0.busy.store(busy, Ordering::SeqCst);
    }

    /// Whether changes are under way.
    pub fn busy(&self) -> bool {
        self.0.busy.load(Ordering::SeqCst)
    }

    /// Returns once it is raised.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.raised() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_raised() {
        let interrupt = Interrupt::default();
        let waiter = tokio::spawn({
            let i = interrupt.clone();
            async move { i.wait().await }
        });
        assert!(!interrupt.raised());
        assert_eq!(interrupt.raise(), 1);
        waiter.await.unwrap();
        assert!(interrupt.raised());
        interrupt.wait().await; // already raised: returns at once
    }
}
