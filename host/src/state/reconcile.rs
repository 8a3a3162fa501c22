//! A conditional write to the state store whose answer may be lost: decided from what is there,
//! never assumed.
//!
//! Invariants: a write that got no answer (a reset, a timeout, an answer dropped after the work)
//! may have landed, so it is never taken as failed nor as done: the object is read back and the
//! write is decided from it. Ours (by content, or by the identity the caller recognises, such as
//! a lease's ID and token) → landed; absent, or as it was before (the update's expected ETag) →
//! tried again; anyone else's → refused (the caller's conflict path). A condition refused by the
//! store (412, 409) is decided the same way: a write of ours that landed before, whose answer was
//! lost, fails its own condition when tried again. This is the one owner of retries for every
//! state write (journal, snapshot, lease): a bounded number of tries, jittered, and an error that
//! says what rkit checked and what to do.

use std::time::Duration;

/// How many times a write is tried before rkit gives up (and says to run again).
pub const ATTEMPTS: u32 = 6;

/// What a write was decided as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// It is there, ours (its ETag, for the next conditional write).
    Landed(String),
    /// Someone else's is there (or the object was deleted under an update): what is there.
    Refused(Option<Vec<u8>>),
}

/// How one try of a write was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// Written: its ETag.
    Landed(String),
    /// The store refused the condition.
    ConditionFailed,
    /// No answer (the error seen instead).
    Unanswered(String),
}

/// What to do once the object was read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Landed,
    Retry,
    Refused,
}

/// How the store answered the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The store refused the condition (the object exists, or its ETag moved).
    ConditionFailed,
    /// No answer: it may or may not have landed.
    Unanswered,
}

/// Decides a write from what is there now. `expected`: the ETag an update was conditional on
/// (`None` for a create).
pub fn decide(
    there: Option<(&[u8], Option<&str>)>,
    ours: &dyn Fn(&[u8]) -> bool,
    expected: Option<&str>,
    answer: Answer,
) -> After {
    match (there, expected, answer) {
        // An update's object still at the ETag it expected did not change: the write did not
        // land, whatever its content says (a lease's ID and token are the same before its
        // renewal as after).
        (Some((_, etag)), Some(expected), Answer::Unanswered) if etag == Some(expected) => {
            After::Retry
        }
        (Some((bytes, _)), _, _) if ours(bytes) => After::Landed,
        (_, _, Answer::ConditionFailed) => After::Refused,
        (None, None, Answer::Unanswered) => After::Retry,
        (_, _, Answer::Unanswered) => After::Refused,
    }
}

/// What a write read back: what is there (its bytes, or what the caller knows them by) and
/// its ETag; `None` if nothing is.
pub type There = Option<(Vec<u8>, Option<String>)>;

/// A conditional write (expecting the ETag `expected`, `None` for a create), each try made
/// by `put` and read back by `read_back`, decided by [`decide`] with `ours`: tried again
/// while unanswered and not there, at most [`ATTEMPTS`] times, paused between. An error
/// from `put` is not a try's: it ends the write (`what` names it in errors).
pub fn write(
    expected: Option<&str>,
    put: &mut dyn FnMut() -> anyhow::Result<Tried>,
    read_back: &dyn Fn() -> anyhow::Result<There>,
    ours: &dyn Fn(&[u8]) -> bool,
    what: &str,
) -> anyhow::Result<Written> {
    let mut last = String::new();
    let mut checked = false;
    for attempt in 1..=ATTEMPTS {
        let answer = match put()? {
            Tried::Landed(etag) => return Ok(Written::Landed(etag)),
            Tried::ConditionFailed => Answer::ConditionFailed,
            Tried::Unanswered(err) => {
                last = err;
                Answer::Unanswered
            }
        };
        match read_back() {
            Ok(there) => {
                checked = true;
                let view = there.as_ref().map(|(b, e)| (b.as_slice(), e.as_deref()));
                match decide(view, ours, expected, answer) {
                    After::Landed => {
                        let etag = there.and_then(|(_, e)| e).unwrap_or_default();
                        return Ok(Written::Landed(etag));
                    }
                    After::Refused => return Ok(Written::Refused(there.map(|(b, _)| b))),
                    After::Retry => {}
                }
            }
            Err(err) => {
                checked = false;
                last = err.to_string();
            }
        }
        std::thread::sleep(pause(attempt));
    }
    Err(gave_up(what, &crate::text::escaped(&last), checked))
}

/// The pause before try `attempt` (1-based): 200 ms doubling, at most 3 s, jittered ±50%.
pub fn pause(attempt: u32) -> Duration {
    let base = 200u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(8))
        .min(3_000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base))
}

/// The error once every try went unanswered: what was written, what rkit checked, what to do.
pub fn gave_up(what: &str, last: &str, checked: bool) -> anyhow::Error {
    let found = if checked {
        "rkit read it back: it did not land"
    } else {
        "rkit could not read it back either"
    };
    anyhow::anyhow!(
        "the state store did not answer writing {what} ({ATTEMPTS} tries; {found}); nothing \
         this run recorded is lost: run it again (last error: {last})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(b: &[u8]) -> bool {
        b == b"mine"
    }

    /// What is there, the ETag an update expected, the answer, and the decision.
    type Case<'a> = (
        Option<(&'a [u8], Option<&'a str>)>,
        Option<&'a str>,
        Answer,
        After,
    );

    #[test]
    fn a_write_is_decided_from_what_is_there() {
        use After::*;
        use Answer::*;
        let cases: [Case; 10] = [
            // A renewal that did not land: the lease there is ours by ID and token, but still
            // at the ETag the renewal expected: again, never taken as landed.
            (Some((b"mine", Some("e1"))), Some("e1"), Unanswered, Retry),
            // Ours, whatever the answer was: it landed (an answer lost, then a retry refused).
            (Some((b"mine", Some("e2"))), None, Unanswered, Landed),
            (
                Some((b"mine", Some("e2"))),
                Some("e1"),
                ConditionFailed,
                Landed,
            ),
            // A create that did not land: again; someone else's: refused.
            (None, None, Unanswered, Retry),
            (Some((b"theirs", None)), None, Unanswered, Refused),
            (Some((b"theirs", None)), None, ConditionFailed, Refused),
            // An update: as it was before → again; moved on or deleted → refused.
            (Some((b"old", Some("e1"))), Some("e1"), Unanswered, Retry),
            (
                Some((b"theirs", Some("e9"))),
                Some("e1"),
                Unanswered,
                Refused,
            ),
            (None, Some("e1"), Unanswered, Refused),
            (
                Some((b"theirs", Some("e9"))),
                Some("e1"),
                ConditionFailed,
                Refused,
            ),
        ];
        for (there, expected, answer, after) in cases {
            assert_eq!(
                decide(there, &mine, expected, answer),
                after,
                "{there:?} {expected:?} {answer:?}"
            );
        }
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        for attempt in 1..20 {
            let p = pause(attempt);
            assert!(
                p >= Duration::from_millis(100) && p <= Duration::from_millis(4_500),
                "{p:?}"
            );
        }
    }
}
