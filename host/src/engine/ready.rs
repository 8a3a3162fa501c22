//! New objects becoming ready, many at once.
//!
//! A create may answer `pending`: the object is made but not usable yet (an instance still
//! starting). Rather than each operation polling its own object (one describe per object per
//! round), the waiters of one provider and type share polling rounds: a round reads every
//! object of that kind still pending, in `read-many` calls of the type's `read-batch`. A waiter
//! steps aside of the walk meanwhile ([`walk::aside`]), so `--parallelism` bounds the creates
//! in flight, not the waiting.
//!
//! Invariants: at most one round at a time per provider and type, and rounds at least
//! [`FIRST`] after a new object and [`ROUND`] apart (growing to [`SLOWEST`] while nothing
//! changes); every waiter ends with exactly one answer: ready (as read), gone, failed (a read
//! error that retrying does not help), timed out after [`TIMEOUT`], or interrupted. A read
//! that fails in a passing way (throttled, no answer) is simply tried again next round: the
//! round owns these retries, not the waiter.

use super::interrupt::Interrupt;
use super::providers::Providers;
use super::retry::retryable;
use super::walk;
use crate::spi::{ErrorKind, Observed, ProviderError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The first round after a new object (others made meanwhile join it).
pub const FIRST: Duration = Duration::from_millis(250);
/// Rounds apart while objects become ready.
pub const ROUND: Duration = Duration::from_secs(1);
/// Rounds apart at most, after rounds where nothing changed.
pub const SLOWEST: Duration = Duration::from_secs(10);
/// How long an object may stay pending.
pub const TIMEOUT: Duration = Duration::from_secs(600);

type Answer = Result<Observed, ProviderError>;

/// The waiters of every provider and type.
#[derive(Default)]
pub struct Readiness {
    kinds: Mutex<HashMap<(String, String), Arc<Kind>>>,
}

/// The waiters of one provider and type, and their rounds.
#[derive(Default)]
struct Kind {
    waiting: Mutex<Vec<Waiter>>,
    /// Held by whoever runs (or waits to run) the next round.
    clock: tokio::sync::Mutex<Clock>,
}

#[derive(Default)]
struct Clock {
    last: Option<Instant>,
    pause: Duration,
}

struct Waiter {
    id: String,
    properties: Value,
    since: Instant,
    answer: oneshot::Sender<Answer>,
}

impl Readiness {
    /// Waits until the object `id` of `plugin`'s `type_name` no longer reads as pending;
    /// what the read saw then. Rounds read through `providers`; `interrupt` ends the wait.
    pub async fn wait(
        &self,
        providers: &Providers,
        interrupt: &Interrupt,
        plugin: &str,
        type_name: &str,
        id: &str,
        properties: &Value,
    ) -> Answer {
        let kind = self
            .kinds
            .lock()
            .expect("readiness")
            .entry((plugin.to_string(), type_name.to_string()))
            .or_default()
            .clone();
        let (tx, mut rx) = oneshot::channel();
        kind.waiting.lock().expect("waiting").push(Waiter {
            id: id.to_string(),
            properties: properties.clone(),
            since: Instant::now(),
            answer: tx,
        });
        walk::aside(async {
            loop {
                let mut clock = tokio::select! {
                    answer = &mut rx => return answered(answer),
                    clock = kind.clock.lock() => clock,
                };
                if let Ok(answer) = rx.try_recv() {
                    return answer;
                }
                let due = match clock.last {
                    Some(last) => (last + clock.pause).max(Instant::now()),
                    None => Instant::now() + FIRST,
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = interrupt.wait() => {}
                }
                if interrupt.raised() {
                    return Err(ProviderError::new(
                        ErrorKind::Other,
                        format!(
                            "interrupted while {id} was becoming ready (it is recorded; the \
                             next run reads it)"
                        ),
                    ));
                }
                let changed = round(providers, plugin, type_name, &kind).await;
                clock.last = Some(Instant::now());
                clock.pause = if changed {
                    ROUND
                } else {
                    (clock.pause * 2).clamp(ROUND, SLOWEST)
                };
            }
        })
        .await
    }
}

fn answered(answer: Result<Answer, oneshot::error::RecvError>) -> Answer {
    answer.unwrap_or_else(|_| {
        Err(ProviderError::new(
            ErrorKind::Other,
            "the wait for readiness ended without an answer",
        ))
    })
}

/// One round: reads every pending object of the kind, answers those no longer pending (or
/// gone, failed, timed out). Whether any waiter was answered.
async fn round(providers: &Providers, plugin: &str, type_name: &str, kind: &Kind) -> bool {
    let asked: Vec<(String, Value)> = kind
        .waiting
        .lock()
        .expect("waiting")
        .iter()
        .map(|w| (w.id.clone(), w.properties.clone()))
        .collect();
    let mut done: Vec<(String, Answer)> = Vec::new();
    let bound = providers.get(plugin);
    let (provider, size) = match &bound {
        Ok(bound) => (
            &bound.provider,
            bound
                .module
                .info()
                .type_info(type_name)
                .map_or(1, |t| t.read_batch as usize),
        ),
        Err(err) => {
            let err = ProviderError::new(ErrorKind::Other, format!("{err:#}"));
            let all = asked.into_iter().map(|(id, _)| (id, Err(err.clone())));
            return answer(kind, all.collect());
        }
    };
    for chunk in asked.chunks(size.max(1)) {
        let texts: Vec<String> = chunk.iter().map(|(_, p)| p.to_string()).collect();
        let items: Vec<(&str, &str)> = (chunk.iter().zip(&texts))
            .map(|((i, _), p)| (i.as_str(), p.as_str()))
            .collect();
        let answers = match provider.read_batch(type_name, &items).await {
            Ok(answers) => answers,
            Err(err) if retryable(err.kind) => continue,
            Err(err) => {
                done.extend(chunk.iter().map(|(id, _)| (id.clone(), Err(err.clone()))));
                continue;
            }
        };
        for ((id, _), read) in chunk.iter().zip(answers) {
            match read {
                Ok(Some(o)) if !o.pending => done.push((id.clone(), Ok(o))),
                Ok(Some(_)) => {}
                Ok(None) => done.push((
                    id.clone(),
                    Err(ProviderError::new(
                        ErrorKind::NotFound,
                        format!("{id} was gone before it became ready"),
                    )),
                )),
                Err(err) if retryable(err.kind) => {}
                Err(err) => done.push((id.clone(), Err(err))),
            }
        }
    }
    answer(kind, done)
}

/// Hands out `done`'s answers, and a timeout to every waiter pending too long. Whether
/// anyone was answered.
fn answer(kind: &Kind, done: Vec<(String, Answer)>) -> bool {
    let mut done: HashMap<String, Answer> = done.into_iter().collect();
    let mut waiting = kind.waiting.lock().expect("waiting");
    let before = waiting.len();
    let mut kept = Vec::with_capacity(waiting.len());
    for w in waiting.drain(..) {
        let answer = match done.remove(&w.id) {
            Some(answer) => answer,
            // A waiter that went away (interrupted) no longer listens: forget it.
            None if w.answer.is_closed() => continue,
            None if w.since.elapsed() > TIMEOUT => Err(ProviderError::new(
                ErrorKind::Other,
                format!(
                    "{} was still not ready after {} s (it is recorded; the next run reads it)",
                    w.id,
                    TIMEOUT.as_secs()
                ),
            )),
            None => {
                kept.push(w);
                continue;
            }
        };
        let _ = w.answer.send(answer);
    }
    *waiting = kept;
    waiting.len() < before
}
