//! Following a stack's bundle on a machine: fetch it, and when it is not the one followed
//! last, check it and unpack it. What `rkit bundle pull` and `converge --follow-bundle` do;
//! the caller records it ([`super::commit`]) once its spec loads. When the store cannot be
//! reached, the last one followed is checked again from its copy kept here ([`recorded`]).
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
    let stored = super::fetch(location)
        .map_err(|e| FollowError::Failed(anyhow!("the bundle beside {location}: {e:#}")))?;
    let Some(stored) = stored else {
        return Ok(Followed::Missing);
    };
    checked(stored, location, trusted, base)
}

/// The last bundle followed under `base`, from its copy kept there, checked again as if it
/// were fetched (signature, stack, serial) and unpacked again if its files changed: what a
/// machine runs when the store cannot be reached. `None`: none was followed here.
pub fn recorded(
    location: &Location,
    trusted: &[String],
    base: &Path,
) -> Result<Option<Unpacked>, FollowError> {
    let last = super::last(base).map_err(FollowError::Refused)?;
    let Some(last) = last else {
        return Ok(None);
    };
    let path = super::unpack::sealed_path(base, &last.digest);
    let stored = super::store::read_file(&path)
        .map_err(FollowError::Failed)?
        .ok_or_else(|| FollowError::Failed(anyhow!("{} is missing", path.display())))?;
    match checked(stored, location, trusted, base)? {
        Followed::Same(unpacked) => Ok(Some(unpacked)),
        _ => Err(FollowError::Refused(anyhow!(
            "{} is not the bundle {} records",
            path.display(),
            super::LAST
        ))),
    }
}

/// The bundle `stored` checked against `trusted` keys, this stack (`location`) and the last
/// one followed under `base`, and unpacked there.
fn checked(
    stored: Vec<u8>,
    location: &Location,
    trusted: &[String],
    base: &Path,
) -> Result<Followed, FollowError> {
    let refused = |e: anyhow::Error| {
        FollowError::Refused(anyhow!("the bundle beside {location} is refused: {e:#}"))
    };
    let opened = super::open(stored, trusted).map_err(refused)?;
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
