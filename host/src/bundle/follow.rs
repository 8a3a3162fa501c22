//! Following a stack's bundle on a machine: fetch it, and when it is not the one followed
//! last, check it and unpack it. What `rkit bundle pull` and `converge --follow-bundle` do;
//! the caller records it ([`super::commit`]) once its spec loads.
//!
//! Invariant: a bundle is used only after its signature holds, it was pushed for this stack
//! (the state it sits beside), and its serial is not below the last one followed here (nor
//! equal with other content); otherwise it is refused with the reason, and the last one
//! followed stays in force. A bundle that cannot be looked at (the store unreachable, a disk
//! error) is not a refusal: it is said so, and the last one stays in force too.

use super::{Opened, Unpacked};
use crate::state::Location;
use anyhow::anyhow;
use std::path::Path;

/// What a look at the stored bundle found.
#[derive(Debug)]
pub enum Followed {
    /// No bundle is stored beside the state.
    Missing,
    /// The stored bundle is the one followed last; where it is unpacked.
    Same(Unpacked),
    /// A newer bundle, checked and unpacked (not recorded yet).
    New(Box<Opened>, Unpacked),
}

/// Why no bundle could be followed.
#[derive(Debug)]
pub enum FollowError {
    /// The stored bundle is refused: its signature, its stack, a replay, its content.
    Refused(anyhow::Error),
    /// It could not be looked at: the store, the disk.
    Failed(anyhow::Error),
}

impl std::fmt::Display for FollowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FollowError::Refused(e) | FollowError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

/// Fetches the bundle beside the state at `location` and, when it differs from the last one
/// followed under `base`, checks it against `trusted` keys and unpacks it there.
pub fn follow(
    location: &Location,
    trusted: &[String],
    base: &Path,
) -> Result<Followed, FollowError> {
    let refused = |e: anyhow::Error| {
        FollowError::Refused(anyhow!("the bundle beside {location} is refused: {e:#}"))
    };
    let stored = super::fetch(location)
        .map_err(|e| FollowError::Failed(anyhow!("the bundle beside {location}: {e:#}")))?;
    let Some(stored) = stored else {
        return Ok(Followed::Missing);
    };
    let opened = super::open(&stored, trusted).map_err(refused)?;
    let here = super::stack_of(location);
    if opened.bundle.stack != here {
        return Err(refused(anyhow!(
            "it was pushed for the stack whose state is {}, not {here}",
            crate::text::escape(&opened.bundle.stack)
        )));
    }
    let last = super::last(base).map_err(refused)?;
    if let Some(last) = &last {
        let serial = opened.bundle.serial;
        if serial < last.serial || (serial == last.serial && opened.digest != last.digest) {
            return Err(refused(anyhow!(
                "its serial {serial} is not after the one followed here ({}, {}): a replay of \
                 an older bundle",
                last.serial,
                crate::text::escape(&last.digest)
            )));
        }
    }
    let same = last.is_some_and(|l| l.digest == opened.digest);
    let unpacked = super::unpack(&opened, base).map_err(FollowError::Failed)?;
    Ok(if same {
        Followed::Same(unpacked)
    } else {
        Followed::New(Box::new(opened), unpacked)
    })
}
