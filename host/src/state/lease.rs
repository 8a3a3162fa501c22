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
    /// The process holding it, to tell on its machine whether it still runs (none from an
    /// older rkit, or where /proc does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
}

/// The process holding a lease, precisely enough to tell, on the machine it runs on, whether it
/// still runs: the same boot of the same kernel, the same PID namespace, its PID and its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Process {
    /// This boot of this kernel (`/proc/sys/kernel/random/boot_id`).
    #[serde(rename = "BootID")]
    pub boot_id: String,
    /// Its PID namespace (`pid:[4026531836]`): a PID names one process only within it.
    pub pid_namespace: String,
    pub pid: u32,
    /// When it started, in clock ticks since boot: a PID reused by another process has
    /// another start.
    pub start: u64,
}

impl Process {
    /// This process, if /proc says who it is.
    pub fn this() -> Option<Self> {
        let pid = std::process::id();
        Some(Self {
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()?
                .trim()
                .to_string(),
            pid_namespace: std::fs::read_link("/proc/self/ns/pid")
                .ok()?
                .display()
                .to_string(),
            pid,
            start: start_of(pid)?,
        })
    }

    /// Whether the process is known to be gone: it ran on this boot, in this PID namespace,
    /// and no process with its PID and start runs now. Anywhere else nothing is known: its
    /// lease is waited for.
    pub fn gone(&self) -> bool {
        Self::this().is_some_and(|me| {
            me.boot_id == self.boot_id
                && me.pid_namespace == self.pid_namespace
                && start_of(self.pid) != Some(self.start)
        })
    }
}

/// The start of process `pid` in clock ticks since boot (`/proc/PID/stat`'s 22nd field; the
/// command name before it is in parentheses and may hold spaces).
fn start_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    after_name.split(' ').nth(19)?.parse().ok()
}

/// What to do about the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take it with this token; `from` is the lease taken over (expired, not released).
    Take { token: u64, from: Option<Lease> },
    /// Someone holds it.
    Held(Lease),
}

/// Whether a lease can be taken at `now`, given the one found (if any): free, released,
/// expired, or held by a process `gone` says no longer runs (taken over at once, and fenced
/// as an expired one is).
pub fn decide(found: Option<&Lease>, now: u64, gone: &dyn Fn(&Lease) -> bool) -> Decision {
    match found {
        None => Decision::Take {
            token: 1,
            from: None,
        },
        Some(l) if l.released => Decision::Take {
            token: l.token + 1,
            from: None,
        },
        Some(l) if l.until < now || gone(l) => Decision::Take {
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
            process: None,
        }
    }

    #[test]
    fn a_lease_is_taken_when_free_released_or_expired_and_the_token_grows() {
        assert_eq!(
            decide(None, 100, &|_| false),
            Decision::Take {
                token: 1,
                from: None
            }
        );
        assert_eq!(
            decide(Some(&lease(4, 50, true)), 100, &|_| false),
            Decision::Take {
                token: 5,
                from: None
            }
        );
        let expired = lease(4, 99, false);
        assert_eq!(
            decide(Some(&expired), 100, &|_| false),
            Decision::Take {
                token: 5,
                from: Some(expired)
            }
        );
        let held = lease(4, 100, false);
        assert_eq!(
            decide(Some(&held), 100, &|_| false),
            Decision::Held(held.clone())
        );
        // Held by a process known to be gone: taken over at once, as an expired one.
        assert_eq!(
            decide(Some(&held), 100, &|_| true),
            Decision::Take {
                token: 5,
                from: Some(held)
            }
        );
    }

    #[test]
    fn this_process_runs_and_one_that_ended_is_gone() {
        let me = Process::this().expect("/proc says who this process is");
        assert!(!me.gone());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_of(pid);
        child.wait().unwrap();
        let ended = Process {
            pid,
            start: start.unwrap_or(1),
            ..me.clone()
        };
        assert!(ended.gone());
        let elsewhere = Process {
            boot_id: "another boot".into(),
            ..ended
        };
        assert!(
            !elsewhere.gone(),
            "nothing is known of another machine's processes"
        );
    }
}
