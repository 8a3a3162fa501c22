//! One retry budget per operation: however the layers retry (the gate below a provider's
//! call, the engine above it, a provider's own loop), one write that keeps failing is sent at
//! most [`MAX_SENDS`] times in all within one operation.
//!
//! An operation is what the engine scopes with [`operation`] (one resource's create, update,
//! replace or delete with all its attempts); a provider call outside any scope is its own
//! operation. A write is a request that is not read-only, known by its service, operation,
//! method, URL and body; reads (polling, describes) are not counted. Failing means no answer,
//! a 5xx or a throttle: an answer that settles what the write did (a 2xx, or a refusal such
//! as `InvalidAttachment.NotFound`) starts its count again, so sending it anew in a later
//! attempt, after the write was answered, is not held against it. Invariants: a send is taken
//! from the budget before it leaves, so the limit holds under any interleaving; a refusal
//! names the write, the count and the last answer it got, so the user sees the service's own
//! words, not only the limit.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most one write that keeps failing is sent within one operation (stated in the README).
/// Without it the layers multiply: the gate's 6 attempts for each of the engine's 8 were 48
/// sends, and a provider's own loop more. 24 still carries an apply through 80% of requests
/// failing (`exactly_once`'s 20% of each of four faults: a write exhausts it with
/// probability 0.8^24 ≈ 0.5%), and bounds a service that keeps failing to about a minute of
/// backed-off sends.
pub const MAX_SENDS: u32 = 24;

/// The sends of one operation.
#[derive(Debug, Default)]
pub struct SendBudget {
    writes: Mutex<HashMap<[u8; 32], Sent>>,
}

#[derive(Debug, Default)]
struct Sent {
    count: u32,
    last: Option<String>,
}

/// A write's identity within an operation.
pub fn key(service: &str, operation: &str, method: &str, uri: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        service.as_bytes(),
        operation.as_bytes(),
        method.as_bytes(),
        uri.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(body);
    h.finalize().into()
}

impl SendBudget {
    /// Takes one send of write `key` (`what` names it), or says why not.
    pub fn take(&self, key: [u8; 32], what: &str) -> Result<(), String> {
        let mut writes = self.writes.lock().expect("budget lock");
        let sent = writes.entry(key).or_default();
        if sent.count >= MAX_SENDS {
            let last = sent
                .last
                .as_deref()
                .map(|l| format!("; its last answer: {l}"))
                .unwrap_or_default();
            return Err(format!(
                "{what} was already sent {MAX_SENDS} times in this operation without an answer \
                 that settles it, the most rkit sends one write{last}"
            ));
        }
        sent.count += 1;
        Ok(())
    }

    /// Records the answer a send of `key` got (`HTTP 400 DependencyViolation`, `no answer`);
    /// a `settled` one starts the write's count again.
    pub fn answered(&self, key: [u8; 32], answer: String, settled: bool) {
        if let Some(sent) = self.writes.lock().expect("budget lock").get_mut(&key) {
            sent.last = Some(answer);
            if settled {
                sent.count = 0;
            }
        }
    }
}

tokio::task_local! {
    static OPERATION: Arc<SendBudget>;
}

/// Runs `work` as one operation: every provider call within it shares one budget.
pub async fn operation<F: Future>(work: F) -> F::Output {
    OPERATION.scope(Arc::default(), work).await
}

/// The budget of the operation under way, or a new one (a call outside any operation).
pub fn current() -> Arc<SendBudget> {
    OPERATION.try_with(Arc::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_sent_at_most_max_sends_times() {
        let budget = SendBudget::default();
        let k = key("ec2", "DeleteSubnet", "POST", "/", b"Action=DeleteSubnet");
        for _ in 0..MAX_SENDS {
            budget.take(k, "ec2:DeleteSubnet").unwrap();
            budget.answered(k, "HTTP 503 Service Unavailable".into(), false);
        }
        assert_eq!(
            budget.take(k, "ec2:DeleteSubnet").unwrap_err(),
            "ec2:DeleteSubnet was already sent 24 times in this operation without an answer that \
             settles it, the most rkit sends one write; its last answer: HTTP 503 Service \
             Unavailable"
        );
        // An answer that settles the write starts its count again.
        let settled = key("ec2", "DetachVolume", "POST", "/", b"x");
        for _ in 0..3 * MAX_SENDS {
            budget.take(settled, "ec2:DetachVolume").unwrap();
            budget.answered(settled, "HTTP 400 IncorrectState".into(), true);
        }
        let other = key(
            "ec2",
            "DeleteSubnet",
            "POST",
            "/",
            b"Action=DeleteSubnet&SubnetId=2",
        );
        assert!(
            budget.take(other, "another").is_ok(),
            "another write has its own count"
        );
    }

    #[tokio::test]
    async fn calls_in_one_operation_share_its_budget() {
        let (a, b) = operation(async { (current(), current()) }).await;
        assert!(Arc::ptr_eq(&a, &b));
        let (c, d) = (current(), current());
        assert!(
            !Arc::ptr_eq(&c, &d),
            "outside an operation, each call is its own"
        );
    }
}
