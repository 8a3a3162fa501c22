//! The lock of a shared state: a lease object beside it, changed only by conditional writes
//! (create if absent, replace if its ETag is still the one read), so two rkits never both hold
//! it.
//!
//! Invariants: the lease object is never deleted, only marked released, so its fencing token
//! only grows (every acquisition takes the previous token + 1); a lease whose `Until` has
//! passed may be taken over, and whoever takes over a lease that was not released fences the
//! journal (see `s3`), so the old holder's next write fails instead of landing; a holder
//! renews before a third of the lease is left. Whose a lease was is always said.

use serde::{Deserialize, Serialize};

/// The lease object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lease {
    /// What `rkit force-unlock` takes.
    #[serde(rename = "ID")]
    pub id: String,
    /// The fencing token: grows with every acquisition.
    pub token: u64,
    /// `pid 42, rkit apply, since 2026-11-26T05:00:00Z, on HOST`.
    pub holder: String,
    /// Until when it holds, in seconds since the Unix epoch.
    pub until: u64,
    /// Given up by its holder (or by `force-unlock`).
    #[serde(default)]
    pub released: bool,
}

/// What to do about the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take it with this token; `from` is the lease taken over (expired, not released).
    Take { token: u64, from: Option<Lease> },
    /// Someone holds it.
    Held(Lease),
}

/// Whether a lease can be taken at `now`, given the one found (if any).
pub fn decide(found: Option<&Lease>, now: u64) -> Decision {
    match found {
        None => Decision::Take {
            token: 1,
            from: None,
        },
        Some(l) if l.released => Decision::Take {
            token: l.token + 1,
            from: None,
        },
        Some(l) if l.until < now => Decision::Take {
            token: l.token + 1,
            from: Some(l.clone()),
        },
        Some(l) => Decision::Held(l.clone()),
    }
}

/// A new lease ID.
pub fn new_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// Who this process is, with the host: for whoever finds the lease held.
pub fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "an unknown host".into());
    let user = std::env::var("USER").unwrap_or_default();
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!("{}, on {user}{host}", super::holder())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(token: u64, until: u64, released: bool) -> Lease {
        Lease {
            id: "a".into(),
            token,
            holder: "pid 1".into(),
            until,
            released,
        }
    }

    #[test]
    fn a_lease_is_taken_when_free_released_or_expired_and_the_token_grows() {
        assert_eq!(
            decide(None, 100),
            Decision::Take {
                token: 1,
                from: None
            }
        );
        assert_eq!(
            decide(Some(&lease(4, 50, true)), 100),
            Decision::Take {
                token: 5,
                from: None
            }
        );
        let expired = lease(4, 99, false);
        assert_eq!(
            decide(Some(&expired), 100),
            Decision::Take {
                token: 5,
                from: Some(expired)
            }
        );
        let held = lease(4, 100, false);
        assert_eq!(decide(Some(&held), 100), Decision::Held(held));
    }
}
