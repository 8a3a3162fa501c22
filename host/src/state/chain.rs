//! The order of a sealed state, authenticated: every sealed unit is bound to what it is and
//! where it belongs, so that a unit changed, deleted, moved, replayed or taken from another
//! state is refused, with its position, instead of silently read as a shorter history.
//!
//! Contexts (in the clear in each unit, authenticated with it, see [`super::crypt`]): the
//! snapshot `s.LINEAGE.SERIAL`; a journal write `j.LINEAGE.FIRST.LAST.PREV` (the serials of
//! its entries; PREV: the [`digest`] of the unit it follows: the last write, the snapshot, or
//! [`GENESIS`] for a state's first write); a saved plan `plan`.
//!
//! Invariants: writes are sealed in the order they are stored (one writer at a time), so on
//! load the journal's units, in storage order, continue the snapshot one by one: each begins
//! at the serial after the last one's and names its digest. Units wholly at or below the
//! snapshot's serial may only come first (a crash between writing a snapshot and emptying
//! the journal leaves them) and are skipped. Units of format 1 (no context) are read only
//! before any of format 2. What no record inside the state can show: its last writes deleted
//! whole, or the whole state rolled back to an earlier one of its own; they read as writes
//! never made (keep the bucket's versions to see those).

use super::crypt::Bound;
use anyhow::{Result, bail};
use sha2::{Digest, Sha256};

/// What the first write of a state (no snapshot yet) follows.
pub const GENESIS: &str = "00000000000000000000000000000000";

/// A unit's digest as the next one names it: 32 hex of the SHA-256 of its line.
pub fn digest(unit: &[u8]) -> String {
    hex::encode(&Sha256::digest(unit.trim_ascii_end())[..16])
}

/// The context a snapshot is sealed with.
pub fn snapshot(lineage: &str, serial: u64) -> String {
    format!("s.{lineage}.{serial}")
}

/// The context a journal write of serials `first..=last` following `prev` is sealed with.
pub fn journal(lineage: &str, first: u64, last: u64, prev: &str) -> String {
    format!("j.{lineage}.{first}.{last}.{prev}")
}

/// Where a journal write says it belongs.
#[derive(Debug, PartialEq, Eq)]
struct Link {
    lineage: String,
    first: u64,
    last: u64,
    prev: String,
}

impl Link {
    /// Read from the right: a lineage may hold dots (a pushed state's), the numbers and the
    /// digest never do.
    fn parse(context: &str) -> Option<Self> {
        let rest = context.strip_prefix("j.")?;
        let mut parts = rest.rsplitn(4, '.');
        let (Some(prev), Some(last), Some(first), Some(lineage)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            lineage: lineage.to_string(),
            first: first.parse().ok()?,
            last: last.parse().ok()?,
            prev: prev.to_string(),
        })
    }
}

/// What to do with a unit the chain admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Replay its entries.
    Apply,
    /// Already in the snapshot (left by a compaction cut short).
    Skip,
}

/// Checks a state's units in storage order.
pub struct Chain {
    lineage: String,
    snapshot_serial: u64,
    /// The serial the next write must begin at.
    next: u64,
    /// The digest the next write must name.
    tip: String,
    /// Whether units of format 1 may still come.
    format1_ok: bool,
    /// Whether a unit was applied (skipped ones must come before).
    applied: bool,
    /// Whether the lineage is the first write's (there is no snapshot).
    adopt: bool,
}

/// What tells the user what to do, after every refusal.
pub const RESTORE: &str = "the state was changed outside rkit: restore it from a backup (or the \
                       bucket's earlier object versions)";

impl Chain {
    /// The chain after the snapshot (`what`: its name) of this [`digest`] that opened as
    /// `bound`, holding `lineage` at `serial`; no snapshot: a new state's.
    pub fn after_snapshot(
        what: &str,
        snapshot: Option<(&str, &Bound)>,
        lineage: &str,
        serial: u64,
    ) -> Result<Self> {
        let adopt = snapshot.is_none();
        let (tip, format1_ok) = match snapshot {
            None => (GENESIS.to_string(), true),
            Some((digest, Bound::Context(found))) => {
                let wanted = self::snapshot(lineage, serial);
                if *found != wanted {
                    bail!(
                        "{what}: its snapshot is sealed as {found:?} but holds {wanted:?}: it \
                         was put in its place; {RESTORE}"
                    );
                }
                (digest.to_string(), false)
            }
            Some((digest, _)) => (digest.to_string(), true),
        };
        Ok(Self {
            lineage: lineage.to_string(),
            snapshot_serial: serial,
            next: serial + 1,
            tip,
            format1_ok,
            applied: false,
            adopt,
        })
    }

    /// The digest the next write names.
    pub fn tip(&self) -> &str {
        &self.tip
    }

    /// The state's lineage as its first write names it, when there is no snapshot to name
    /// it (once: later writes must agree).
    pub fn adopt_lineage(&mut self, bound: &Bound) -> Option<String> {
        let Bound::Context(c) = bound else {
            return None;
        };
        let link = Link::parse(c).filter(|_| std::mem::take(&mut self.adopt))?;
        self.lineage = link.lineage.clone();
        Some(link.lineage)
    }

    /// Admits the unit at `at` (its `line` as stored, opened as `bound`) holding entries of
    /// `serials`, or refuses it naming what is wrong.
    pub fn admit(
        &mut self,
        at: &str,
        line: &[u8],
        bound: &Bound,
        serials: &[u64],
    ) -> Result<Admit> {
        let held = !self.applied
            && serials
                .iter()
                .max()
                .is_some_and(|l| *l <= self.snapshot_serial);
        let context = match bound {
            // Not sealed: nothing to check (a state without a key, or a rekey from clear).
            Bound::Clear => return Ok(self.passed(serials, line)),
            // Held by the snapshot already (a compaction cut short before the journal was
            // emptied): never applied, so whatever its format or lineage, it is skipped.
            _ if held => return Ok(Admit::Skip),
            Bound::Format1 if self.format1_ok => return Ok(self.passed(serials, line)),
            Bound::Format1 => bail!(
                "{at}: a write of rkit's first format after ones of its second: it was put in \
                 its place; {RESTORE}"
            ),
            Bound::Context(context) => context,
        };
        let Some(link) = Link::parse(context) else {
            bail!("{at}: sealed as {context:?}, not as a write of the journal; {RESTORE}");
        };
        self.format1_ok = false;
        let contiguous = serials.first() == Some(&link.first)
            && serials.windows(2).all(|w| w[1] == w[0] + 1)
            && serials.last() == Some(&link.last);
        if !contiguous {
            bail!(
                "{at}: its entries are not serials {}..{}; {RESTORE}",
                link.first,
                link.last
            );
        }
        if link.lineage != self.lineage {
            bail!(
                "{at}: a write of another state (lineage {}; this one's is {}); {RESTORE}",
                link.lineage,
                self.lineage
            );
        }
        self.follows(at, &link, line)
    }

    /// Whether `link` continues the chain (or is a leftover before it).
    fn follows(&mut self, at: &str, link: &Link, line: &[u8]) -> Result<Admit> {
        if link.last <= self.snapshot_serial && !self.applied {
            return Ok(Admit::Skip);
        }
        if link.first > self.next {
            bail!(
                "{at}: the writes of serials {}..{} before this one are missing (deleted or \
                 moved); {RESTORE}",
                self.next,
                link.first - 1
            );
        }
        if link.first < self.next {
            bail!(
                "{at}: this write (serials {}..{}) comes after serial {}: a write replayed or \
                 moved; {RESTORE}",
                link.first,
                link.last,
                self.next - 1
            );
        }
        if link.prev != self.tip {
            bail!(
                "{at}: this write does not follow the one before it (serial {}): it is from \
                 another history of this state; {RESTORE}",
                self.next - 1
            );
        }
        self.next = link.last + 1;
        self.tip = digest(line);
        self.applied = true;
        Ok(Admit::Apply)
    }

    /// A unit that is not checked (clear, or of format 1) still moves the chain on.
    fn passed(&mut self, serials: &[u64], line: &[u8]) -> Admit {
        if let Some(last) = serials.iter().max() {
            self.next = self.next.max(last + 1);
        }
        self.tip = digest(line);
        Admit::Apply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(first: u64, last: u64, prev: &str) -> (Vec<u8>, Bound) {
        let context = journal("L", first, last, prev);
        (
            format!("line {context}").into_bytes(),
            Bound::Context(context),
        )
    }

    fn serials(first: u64, last: u64) -> Vec<u64> {
        (first..=last).collect()
    }

    #[test]
    fn a_lineage_with_dots_reads_back_from_its_context() {
        let link = Link::parse(&journal("prod.web", 3, 4, "ab")).unwrap();
        assert_eq!(
            link,
            Link {
                lineage: "prod.web".into(),
                first: 3,
                last: 4,
                prev: "ab".into()
            }
        );
        assert_eq!(Link::parse("j.3.4.ab"), None);
        assert_eq!(Link::parse("s.L.4"), None);
    }

    #[test]
    fn leftovers_the_snapshot_holds_are_skipped_whatever_their_format_or_lineage() {
        let snap = b"snapshot".as_slice();
        let bound = Bound::Context(snapshot("L", 5));
        let mut chain = Chain::after_snapshot("s", Some((&digest(snap), &bound)), "L", 5).unwrap();
        // A compaction cut short after an upgrade, or after a push of another lineage.
        let skip = chain.admit("j:1", b"old", &Bound::Format1, &serials(4, 5));
        assert_eq!(skip.unwrap(), Admit::Skip);
        let (line, other) = (b"x".as_slice(), Bound::Context(journal("M", 2, 3, GENESIS)));
        assert_eq!(
            chain.admit("j:2", line, &other, &serials(2, 3)).unwrap(),
            Admit::Skip
        );
        // Past the snapshot, neither is taken.
        let err = chain.admit("j:3", b"new", &Bound::Format1, &serials(6, 6));
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("j:3: a write of rkit's first format")
        );
    }

    #[test]
    fn writes_continue_the_snapshot_one_by_one() {
        let snap = b"snapshot".as_slice();
        let bound = Bound::Context(snapshot("L", 4));
        let mut chain = Chain::after_snapshot("s", Some((&digest(snap), &bound)), "L", 4).unwrap();
        // A leftover of a compaction cut short, first: skipped.
        let (old, b) = unit(3, 4, "x");
        assert_eq!(
            chain.admit("j:1", &old, &b, &serials(3, 4)).unwrap(),
            Admit::Skip
        );
        let (one, b1) = unit(5, 6, &digest(snap));
        assert_eq!(
            chain.admit("j:2", &one, &b1, &serials(5, 6)).unwrap(),
            Admit::Apply
        );
        let (two, b2) = unit(7, 7, &digest(&one));
        assert_eq!(
            chain.admit("j:3", &two, &b2, &serials(7, 7)).unwrap(),
            Admit::Apply
        );
        assert_eq!(chain.tip(), digest(&two));

        // Replayed: serials already read.
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", &one, &b1, &serials(5, 6));
        assert_eq!(
            err.unwrap_err().to_string(),
            format!(
                "j:4: this write (serials 5..6) comes after serial 7: a write replayed or moved; \
                 {RESTORE}"
            )
        );
        // A leftover after an applied write is a replay too.
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", &old, &b, &serials(3, 4));
        assert!(err.unwrap_err().to_string().contains("replayed or moved"));
        // Deleted: a gap.
        let (four, b4) = unit(9, 9, &digest(&two));
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", &four, &b4, &serials(9, 9));
        assert_eq!(
            err.unwrap_err().to_string(),
            format!(
                "j:4: the writes of serials 8..8 before this one are missing (deleted or moved); \
                 {RESTORE}"
            )
        );
        // The right serials after another write: another history.
        let (other, bo) = unit(8, 8, &digest(&one));
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", &other, &bo, &serials(8, 8));
        assert!(err.unwrap_err().to_string().contains("another history"));
        // Another state's write.
        let context = journal("M", 8, 8, &digest(&two));
        let err = chain.clone_at(7, &digest(&two)).admit(
            "j:4",
            b"m",
            &Bound::Context(context),
            &serials(8, 8),
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("a write of another state (lineage M")
        );
        // Entries that are not what the context says.
        let (five, b5) = unit(8, 9, &digest(&two));
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", &five, &b5, &serials(8, 8));
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("j:4: its entries are not serials 8..9")
        );
        // Format 1 after format 2.
        let err = chain
            .clone_at(7, &digest(&two))
            .admit("j:4", b"v1", &Bound::Format1, &[8]);
        assert!(err.unwrap_err().to_string().contains("first format after"));
    }

    #[test]
    fn a_snapshot_is_what_it_says() {
        let bound = Bound::Context(snapshot("L", 3));
        let err = Chain::after_snapshot("the state s", Some((&digest(b"x"), &bound)), "L", 4)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "the state s: its snapshot is sealed as \"s.L.3\" but holds \"s.L.4\": it was \
                 put in its place; {RESTORE}"
            )
        );
        // Without a snapshot, the first write follows the genesis.
        let mut chain = Chain::after_snapshot("s", None, "new", 0).unwrap();
        let (one, b1) = unit(1, 1, GENESIS);
        assert_eq!(chain.adopt_lineage(&b1).as_deref(), Some("L"));
        assert_eq!(chain.admit("j:1", &one, &b1, &[1]).unwrap(), Admit::Apply);
    }

    impl Chain {
        /// A copy standing after serial `last` with `tip`.
        fn clone_at(&self, last: u64, tip: &str) -> Chain {
            Chain {
                lineage: self.lineage.clone(),
                snapshot_serial: self.snapshot_serial,
                next: last + 1,
                tip: tip.to_string(),
                format1_ok: false,
                applied: true,
                adopt: false,
            }
        }
    }
}

/// Tamper tests on a sealed state in a file (S3's are in the integration suite).
#[cfg(test)]
mod tamper {
    use crate::state::tests::resource;
    use crate::state::{Keys, Location, StateStore, crypt};
    use std::path::Path;

    /// A sealed state: a snapshot holding A, then one journal write each for B, C, D, E.
    fn state(dir: &Path) -> (Location, Keys, Vec<Vec<u8>>) {
        let keys = Keys {
            current: Some(
                crypt::Key::from_text(&crypt::Key::generate().unwrap(), "env:K").unwrap(),
            ),
            ..Keys::default()
        };
        let location = Location::File(dir.join("s.state"));
        let mut store = StateStore::open(&location, &keys).unwrap();
        store.record("A", Some(resource("a"))).unwrap();
        store.compact().unwrap();
        for name in ["B", "C", "D", "E"] {
            store.record(name, Some(resource(name))).unwrap();
        }
        drop(store);
        let lines = std::fs::read(dir.join("s.state.journal"))
            .unwrap()
            .split_inclusive(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        (location, keys, lines)
    }

    fn load_with(dir: &Path, location: &Location, keys: &Keys, lines: &[&[u8]]) -> String {
        std::fs::write(dir.join("s.state.journal"), lines.concat()).unwrap();
        match StateStore::read_only(location, keys) {
            Ok(state) => format!("serial {}", state.serial),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_changed_deleted_moved_or_replayed_write_is_refused_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let (location, keys, l) = state(dir.path());
        let journal = dir.path().join("s.state.journal").display().to_string();
        let load = |lines: &[&[u8]]| load_with(dir.path(), &location, &keys, lines);
        assert_eq!(load(&[&l[0], &l[1], &l[2], &l[3]]), "serial 5");

        // One changed byte in the last whole write: refused, not taken for a torn one.
        let mut changed = l[3].clone();
        let at = changed.len() - 6;
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            load(&[&l[0], &l[1], &l[2], &changed]),
            format!(
                "{journal}:4: a sealed unit is damaged or was changed (it does not authenticate)"
            )
        );
        let restore = super::RESTORE;
        assert_eq!(
            load(&[&l[0], &l[2], &l[3]]),
            format!(
                "{journal}:2: the writes of serials 3..3 before this one are missing (deleted \
                 or moved); {restore}"
            )
        );
        assert_eq!(
            load(&[&l[0], &l[2], &l[1], &l[3]]),
            format!(
                "{journal}:2: the writes of serials 3..3 before this one are missing (deleted \
                 or moved); {restore}"
            )
        );
        assert_eq!(
            load(&[&l[0], &l[1], &l[2], &l[3], &l[1]]),
            format!(
                "{journal}:5: this write (serials 3..3) comes after serial 5: a write replayed \
                 or moved; {restore}"
            )
        );
        // A write of another state sealed with the same key.
        let other = tempfile::tempdir().unwrap();
        let (_, _, foreign) = {
            let mut store =
                StateStore::open(&Location::File(other.path().join("s.state")), &keys).unwrap();
            store.record("X", Some(resource("x"))).unwrap();
            store.record("Y", Some(resource("y"))).unwrap();
            drop(store);
            let lines: Vec<Vec<u8>> = std::fs::read(other.path().join("s.state.journal"))
                .unwrap()
                .split_inclusive(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            ((), (), lines)
        };
        let err = load(&[&l[0], &foreign[1]]);
        assert!(
            err.starts_with(&format!("{journal}:2: a write of another state (lineage ")),
            "{err}"
        );

        // Only a write without its newline (cut short) is dropped, and the next one follows.
        let torn = &l[3][..l[3].len() / 2];
        assert_eq!(load(&[&l[0], &l[1], &l[2], torn]), "serial 4");
        let mut store = StateStore::open(&location, &keys).unwrap();
        store.record("F", Some(resource("f"))).unwrap();
        drop(store);
        let state = StateStore::read_only(&location, &keys).unwrap();
        assert_eq!(state.serial, 5);
        assert_eq!(
            state.resources.keys().collect::<Vec<_>>(),
            ["A", "B", "C", "D", "F"]
        );
    }

    #[test]
    fn an_earlier_snapshot_put_back_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (location, keys, _) = state(dir.path());
        let old = std::fs::read(dir.path().join("s.state")).unwrap();
        let mut store = StateStore::open(&location, &keys).unwrap();
        store.compact().unwrap();
        store.record("F", Some(resource("f"))).unwrap();
        drop(store);
        std::fs::write(dir.path().join("s.state"), old).unwrap();
        let err = StateStore::read_only(&location, &keys).unwrap_err();
        assert!(
            err.to_string()
                .contains(":1: the writes of serials 2..5 before this one are missing"),
            "{err}"
        );
    }
}
