//! The one owner of retries. Providers classify their failures and do not retry them; the
//! engine retries what may pass on a later attempt, with exponential backoff, jitter, an
//! attempt limit and a deadline per operation, and stops waiting when interrupted.
//!
//! What is retried depends on what the failure says about the world: `transient` (refused
//! or throttled: nothing happened) is simply repeated; `outcome-unknown` (sent, no answer)
//! is repeated only after the caller found out what happened (reads need nothing; a create
//! lists by its tags, an update reads the object back).

use super::events::Op;
use super::interrupt::Interrupt;
use crate::spi::{ErrorKind, ProviderError};
use std::time::{Duration, Instant};

/// At most this many attempts per operation.
pub const ATTEMPTS: u32 = 8;
/// The first pause; each next one doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// No new attempt starts this long after the first one.
pub const DEADLINE: Duration = Duration::from_secs(180);

/// Whether a failure of this kind may pass on a later attempt.
pub fn retryable(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Transient | ErrorKind::OutcomeUnknown)
}

/// The attempts of one operation.
pub struct Backoff {
    attempt: u32,
    pause: Duration,
    started: Instant,
    interrupt: Interrupt,
    /// Where retries are reported (none: silently).
    op: Option<Op>,
}

impl Backoff {
    pub fn new(interrupt: &Interrupt) -> Self {
        Self {
            attempt: 1,
            pause: FIRST_PAUSE,
            started: Instant::now(),
            interrupt: interrupt.clone(),
            op: None,
        }
    }

    /// Reports each retry as `op`'s.
    pub fn reporting(mut self, op: Option<&Op>) -> Self {
        self.op = op.cloned();
        self
    }

    /// Waits before the next attempt after `err` (half to all of the pause, at random, so
    /// callers throttled together do not retry in step), reporting the retry. `false`: no
    /// next attempt (attempts or deadline used up, or interrupted).
    pub async fn next(&mut self, err: &ProviderError) -> bool {
        if self.attempt >= ATTEMPTS
            || self.started.elapsed() + self.pause / 2 > DEADLINE
            || self.interrupt.raised()
        {
            return false;
        }
        let pause = self.pause / 2 + self.pause.mul_f64(fastrand::f64() / 2.0);
        if let Some(op) = &self.op {
            op.retrying(self.attempt + 1, ATTEMPTS, pause, err);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = self.interrupt.wait() => return false,
        }
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        self.attempt += 1;
        true
    }

    /// `err` with how many attempts were made, when more than one.
    pub fn gave_up(&self, mut err: ProviderError) -> ProviderError {
        if self.attempt > 1 {
            err.message = format!("{} (after {} attempts)", err.message, self.attempt);
        }
        if self.interrupt.raised() && retryable(err.kind) {
            err.message = format!("{} (interrupted: not retried)", err.message);
        }
        err
    }
}

/// Calls `op` until it succeeds, fails for good or the attempts run out: for operations that
/// are safe to repeat as they are (reads, lists, deletes).
pub async fn repeating<T, F: Future<Output = Result<T, ProviderError>>>(
    interrupt: &Interrupt,
    call: impl FnMut() -> F,
) -> Result<T, ProviderError> {
    repeating_as(interrupt, None, call).await
}

/// [`repeating`], reporting each retry as `op`'s.
pub async fn repeating_as<T, F: Future<Output = Result<T, ProviderError>>>(
    interrupt: &Interrupt,
    op: Option<&Op>,
    mut call: impl FnMut() -> F,
) -> Result<T, ProviderError> {
    let mut backoff = Backoff::new(interrupt).reporting(op);
    loop {
        match call().await {
            Err(err) if retryable(err.kind) => {
                if !backoff.next(&err).await {
                    return Err(backoff.gave_up(err));
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn error(kind: ErrorKind) -> ProviderError {
        ProviderError {
            kind,
            message: "m".into(),
            field: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_what_may_pass_and_says_how_often() {
        let calls = Cell::new(0);
        let interrupt = Interrupt::default();
        let got = repeating(&interrupt, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(error(ErrorKind::OutcomeUnknown)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), ATTEMPTS);
        assert_eq!(got.message, format!("m (after {ATTEMPTS} attempts)"));

        calls.set(0);
        let got = repeating(&interrupt, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(error(ErrorKind::Conflict)) }
        })
        .await
        .unwrap_err();
        assert_eq!((calls.get(), got.message.as_str()), (1, "m"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_ends_the_waiting() {
        let interrupt = Interrupt::default();
        let mut backoff = Backoff::new(&interrupt);
        assert!(backoff.next(&error(ErrorKind::Transient)).await);
        interrupt.raise();
        assert!(!backoff.next(&error(ErrorKind::Transient)).await);
        let err = backoff.gave_up(error(ErrorKind::Transient));
        assert_eq!(
            err.message,
            "m (after 2 attempts) (interrupted: not retried)"
        );
    }
}
