//! Bounded waits: for an object to become ready or go away, and for one still in use by
//! another to be freed.

use crate::client::{ApiResult, sleep};
use rkit_sdk::{Error, Result};
use std::time::{Duration, Instant};

/// How long a delete refused as "in use" is tried again (5 attempts: at once, after 1, 2, 4
/// and 8 s), well inside rkit's limit of sends of one write per operation.
pub const IN_USE_WAIT: Duration = Duration::from_secs(20);

/// How long waits may take.
pub struct Waiter {
    timeout: Duration,
}

impl Waiter {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// Polls `check` until it returns a value: at once, then after 1 s, 2 s, 4 s … (at most
    /// 10 s apart). A `transient` failure of a check (a describe throttled or unanswered) is
    /// one more poll, not the end of the wait. Gives up with an error naming `what` after the
    /// timeout.
    pub fn until<T>(&self, what: &str, mut check: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        let started = Instant::now();
        let mut pause = Duration::from_secs(1);
        let mut last: Option<Error> = None;
        loop {
            match check() {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(err) if err.kind == rkit_sdk::ErrorKind::Transient => last = Some(err),
                Err(err) => return Err(err),
            }
            if started.elapsed() + pause > self.timeout {
                let why = last.map_or(String::new(), |e| format!(" (last: {})", e.message));
                return Err(Error::other(format!(
                    "timed out after {} s waiting for {what}{why}",
                    self.timeout.as_secs()
                )));
            }
            sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    }

    /// Runs `op` (a delete or detach) until it succeeds, retrying while AWS says the object is
    /// still in use (`DependencyViolation` and the like: a terminated instance's interfaces
    /// take a while to go), for at most [`IN_USE_WAIT`]: an object another one keeps using (a
    /// target group a listener forwards to) is reported then, in AWS's words, as a conflict
    /// that retrying will not resolve, rather than waited on until the call's time runs out.
    /// An object already gone counts as success.
    pub fn while_in_use(&self, what: &str, mut op: impl FnMut() -> ApiResult<()>) -> Result<()> {
        let mut last = None;
        let bounded = Waiter::new(self.timeout.min(IN_USE_WAIT));
        let done = bounded.until(what, || match op() {
            Ok(()) => Ok(Some(())),
            Err(err) if err.is_not_found() => Ok(Some(())),
            Err(err) if err.is_in_use() => {
                last = Some(err);
                Ok(None)
            }
            Err(err) => Err(err.into()),
        });
        done.map_err(|timeout| match last {
            Some(err) => {
                let err = Error::from(err);
                Error::new(
                    rkit_sdk::ErrorKind::Conflict,
                    format!(
                        "{} (still in use after {} s)",
                        err.message,
                        IN_USE_WAIT.as_secs()
                    ),
                )
            }
            None => timeout,
        })
    }
}
