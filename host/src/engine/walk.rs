//! The one walk over a dependency graph, separated from what is walked (as OpenTofu's
//! `internal/dag` walker): each node is visited once everything before it succeeded, at most
//! `parallelism` at once (tokio tasks). Refresh, apply and destroy all walk this way.
//!
//! Invariants: a node starts only after all its predecessors are `Done`; a failure marks
//! every node after it `Skipped` (naming the failed node) and never stops independent work;
//! once the interrupt is raised no node starts, those running finish, and the rest are
//! `Cancelled`; every node ends with exactly one outcome, even when its visit panics. With a
//! progress hook, one timer for the whole walk (not one per node: a timer per node costs a
//! wake-up of the runtime's driver each) reports every node that has run longer than the
//! interval, at each interval. A node may step aside while it only waits ([`aside`]): its
//! slot goes to the next node meanwhile, and it takes one again before it goes on.

use super::interrupt::Interrupt;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Called with a running node and how long it has run, every interval.
pub type Progress<'a> = (Duration, &'a (dyn Fn(usize, Duration) + Sync));

/// How a node ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T, E> {
    Done(T),
    Failed(E),
    /// Not visited: the node (index) it waits for failed.
    Skipped(usize),
    /// Not visited: the walk was interrupted.
    Cancelled,
    /// The visit panicked (a bug); the message.
    #[expect(
        clippy::box_collection,
        reason = "one pointer, so that an outcome is 16 bytes (every node's is held to the \
                  walk's end; panics are rare)"
    )]
    Panicked(Box<String>),
}

#[cfg(test)]
impl<T, E> Outcome<T, E> {
    fn is_done(&self) -> bool {
        matches!(self, Outcome::Done(_))
    }
}

/// Visits the nodes `0..successors.len()` (`successors.of(i)`: the nodes that wait for `i`;
/// the graph must be acyclic, which [`super::schedule`] guarantees) and returns each one's
/// outcome, by index; `progress`, if given, hears about nodes that run long.
pub async fn walk<T, E, F, Fut>(
    successors: &Successors,
    parallelism: usize,
    interrupt: &Interrupt,
    progress: Option<Progress<'_>>,
    mut visit: F,
) -> Vec<Outcome<T, E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let mut walk = Walk::new(successors);
    let slots = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut ticks = progress.map(|(every, _)| ticker(every));
    // Starts node `i` holding `permit`; its task maps back to it.
    let mut start = |i: usize, permit: OwnedSemaphorePermit, walk: &mut Walk<T, E>| {
        // Boxed: a visit's future can be large, and is then moved as a pointer.
        let visit = Box::pin(visit(i));
        let slot = Slot {
            slots: slots.clone(),
            permit: Mutex::new(Some(permit)),
        };
        let id = walk
            .running
            .spawn(SLOT.scope(slot, async move { (i, visit.await) }))
            .id();
        walk.started(i, id);
    };
    loop {
        while !interrupt.raised() && !walk.ready.is_empty() {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let i = walk.ready.pop_front().expect("not empty");
            start(i, permit, &mut walk);
        }
        if walk.running.is_empty() {
            break;
        }
        let can_start = !walk.ready.is_empty() && !interrupt.raised();
        let joined = tokio::select! {
            joined = walk.running.join_next_with_id() => joined,
            // A node stepped aside (see [`aside`]): its slot goes to the next ready node.
            permit = slots.clone().acquire_owned(), if can_start => {
                // Raised while this waited for a slot (an operation that just started may
                // have spent a budget): nothing more starts.
                if !interrupt.raised() {
                    let i = walk.ready.pop_front().expect("can start");
                    start(i, permit.expect("never closed"), &mut walk);
                }
                continue;
            }
            _ = tick(&mut ticks) => {
                walk.report_long(progress);
                continue;
            }
        };
        let Some(joined) = joined else {
            break;
        };
        walk.joined(joined);
    }
    walk.outcomes()
}

/// A timer for the progress hook: every `every` (at least 10 ms), from one interval on.
fn ticker(every: Duration) -> tokio::time::Interval {
    let every = every.max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// What a task of the walk gives back: its node, and how its visit ended.
type Joined<T, E> = Result<(tokio::task::Id, (usize, Result<T, E>)), tokio::task::JoinError>;

/// The nodes that wait for each node, every node's in one list (a list each would be an
/// allocation each: an apply of 100,000 creates has 100,000 nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Successors {
    /// Where each node's successors start in `targets`, and where the last one's end.
    starts: Vec<u32>,
    targets: Vec<u32>,
}

impl Successors {
    /// Nodes `0..n` joined by `edges` (from, to), sorted by where they are from.
    pub fn from_sorted(n: usize, edges: impl Iterator<Item = (usize, usize)>) -> Self {
        let index = |i: usize| u32::try_from(i).expect("fewer than 2^32 nodes");
        let mut starts = Vec::with_capacity(n + 1);
        // Made the size it will be when the edges say (not grown by doubling).
        let mut targets = Vec::with_capacity(edges.size_hint().0);
        for (from, to) in edges {
            assert!(
                from < n && to < n,
                "an edge between nodes that are not there"
            );
            assert!(
                from + 1 >= starts.len(),
                "edges sorted by the node they are from"
            );
            while starts.len() <= from {
                starts.push(index(targets.len()));
            }
            targets.push(index(to));
        }
        while starts.len() <= n {
            starts.push(index(targets.len()));
        }
        targets.shrink_to_fit();
        Successors { starts, targets }
    }

    /// `n` nodes, none waiting for another.
    pub fn independent(n: usize) -> Self {
        Self::from_sorted(n, std::iter::empty())
    }

    /// Node `i` is followed by `lists[i]`.
    #[cfg(test)]
    pub fn from_lists(lists: &[Vec<usize>]) -> Self {
        let edges = lists
            .iter()
            .enumerate()
            .flat_map(|(i, list)| list.iter().map(move |&to| (i, to)));
        Self::from_sorted(lists.len(), edges)
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The nodes that wait for node `i`.
    pub fn of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let (start, end) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        self.targets[start..end].iter().map(|&t| t as usize)
    }
}

/// The walk's bookkeeping: what each node waits for, how each ended, what is ready and what
/// runs (and since when).
struct Walk<'a, T, E> {
    successors: &'a Successors,
    /// How many predecessors each node still waits for.
    waiting: Vec<u32>,
    outcome: Vec<Option<Outcome<T, E>>>,
    ready: VecDeque<usize>,
    running: JoinSet<(usize, Result<T, E>)>,
    task_node: HashMap<tokio::task::Id, usize>,
    since: HashMap<usize, Instant>,
}

impl<'a, T: Send + 'static, E: Send + 'static> Walk<'a, T, E> {
    /// Nothing run yet; the nodes that wait for nothing are ready.
    fn new(successors: &'a Successors) -> Self {
        let n = successors.len();
        let mut waiting = vec![0u32; n];
        for i in 0..n {
            for s in successors.of(i) {
                waiting[s] += 1;
            }
        }
        Self {
            successors,
            ready: (0..n).filter(|&i| waiting[i] == 0).collect(),
            waiting,
            outcome: (0..n).map(|_| None).collect(),
            running: JoinSet::new(),
            task_node: HashMap::new(),
            since: HashMap::new(),
        }
    }

    /// Node `i` runs as task `id`, from now.
    fn started(&mut self, i: usize, id: tokio::task::Id) {
        self.task_node.insert(id, i);
        self.since.insert(i, Instant::now());
    }

    /// Tells `progress` about every node that has run longer than its interval.
    fn report_long(&self, progress: Option<Progress<'_>>) {
        let Some((every, report)) = progress else {
            return;
        };
        let mut long: Vec<(usize, Duration)> = self
            .since
            .iter()
            .map(|(&i, t)| (i, t.elapsed()))
            .filter(|(_, e)| *e >= every)
            .collect();
        long.sort_unstable();
        for (i, elapsed) in long {
            report(i, elapsed);
        }
    }

    /// A task ended: its node is done (what waits for it may become ready), failed or
    /// panicked (what comes after it is skipped).
    fn joined(&mut self, joined: Joined<T, E>) {
        let (i, result) = match joined {
            Ok((id, (i, result))) => {
                self.task_node.remove(&id);
                (i, result)
            }
            Err(err) => {
                let i = self
                    .task_node
                    .remove(&err.id())
                    .expect("every task is a node");
                self.since.remove(&i);
                self.outcome[i] = Some(Outcome::Panicked(Box::new(err.to_string())));
                skip_after(i, self.successors, &mut self.outcome);
                return;
            }
        };
        self.since.remove(&i);
        match result {
            Ok(value) => {
                self.outcome[i] = Some(Outcome::Done(value));
                for s in self.successors.of(i) {
                    self.waiting[s] -= 1;
                    if self.waiting[s] == 0 && self.outcome[s].is_none() {
                        self.ready.push_back(s);
                    }
                }
            }
            Err(err) => {
                self.outcome[i] = Some(Outcome::Failed(err));
                skip_after(i, self.successors, &mut self.outcome);
            }
        }
    }

    /// Each node's outcome; those never started were cancelled.
    fn outcomes(self) -> Vec<Outcome<T, E>> {
        self.outcome
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Cancelled))
            .collect()
    }
}

/// The next progress tick, or never without a progress hook.
async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => drop(ticks.tick().await),
        None => std::future::pending().await,
    }
}

/// The slot of the walk a running node holds: its permit, and the semaphore to take one again.
struct Slot {
    slots: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

tokio::task_local! {
    static SLOT: Slot;
}

/// Runs `work` without holding the running node's slot of the walk, and takes a slot again
/// before returning: for waits that cost only time (a new object becoming ready), so that
/// other nodes start meanwhile and `parallelism` bounds the work, not the waiting. Outside a
/// walk it just runs `work`.
pub async fn aside<T>(work: impl Future<Output = T>) -> T {
    let held = SLOT.try_with(|s| {
        let permit = s.permit.lock().expect("slot").take();
        (s.slots.clone(), permit)
    });
    let Ok((slots, Some(permit))) = held else {
        return work.await;
    };
    drop(permit);
    let out = work.await;
    let permit = slots.acquire_owned().await.expect("never closed");
    let _ = SLOT.try_with(|s| *s.permit.lock().expect("slot") = Some(permit));
    out
}

/// Marks everything after `failed` (transitively) as skipped because of it.
fn skip_after<T, E>(failed: usize, successors: &Successors, outcome: &mut [Option<Outcome<T, E>>]) {
    let mut stack: Vec<usize> = successors.of(failed).collect();
    while let Some(s) = stack.pop() {
        if outcome[s].is_none() {
            outcome[s] = Some(Outcome::Skipped(failed));
            stack.extend(successors.of(s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A diamond: 0 → 1, 0 → 2, 1 → 3, 2 → 3; and 4 alone.
    fn diamond() -> Successors {
        Successors::from_lists(&[vec![1, 2], vec![3], vec![3], vec![], vec![]])
    }

    #[tokio::test]
    async fn visits_each_node_after_its_predecessors() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let got = walk(&diamond(), 4, &Interrupt::default(), None, |i| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(i);
                Ok::<_, ()>(i * 10)
            }
        })
        .await;
        assert_eq!(
            got,
            (0..5).map(|i| Outcome::Done(i * 10)).collect::<Vec<_>>()
        );
        let order = order.lock().unwrap();
        let at = |n: usize| order.iter().position(|&x| x == n).unwrap();
        assert!(at(0) < at(1) && at(0) < at(2) && at(1) < at(3) && at(2) < at(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn never_runs_more_than_parallelism_at_once() {
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let independent = Successors::independent(20);
        let got = walk(&independent, 3, &Interrupt::default(), None, |_| {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            }
        })
        .await;
        assert!(got.iter().all(Outcome::is_done));
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_node_waiting_aside_frees_its_slot_and_takes_one_back() {
        // 6 nodes, 2 slots: each works (holding a slot), then waits aside for a gate that
        // opens only once all 6 wait there: possible only if waiting holds no slot. Work
        // after the wait takes a slot again: never more than 2 at work at once.
        let (at_work, most, waiting) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let gate = Arc::new(tokio::sync::Notify::new());
        let work = |at_work: &AtomicUsize, most: &AtomicUsize| {
            let n = at_work.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            at_work.fetch_sub(1, Ordering::SeqCst);
        };
        let independent = Successors::independent(6);
        let interrupt = Interrupt::default();
        let walked = walk(&independent, 2, &interrupt, None, |_| {
            let (at_work, most, waiting, gate) =
                (at_work.clone(), most.clone(), waiting.clone(), gate.clone());
            async move {
                work(&at_work, &most);
                aside(async {
                    let opened = gate.notified();
                    if waiting.fetch_add(1, Ordering::SeqCst) + 1 == 6 {
                        gate.notify_waiters();
                    } else {
                        opened.await;
                    }
                })
                .await;
                work(&at_work, &most);
                Ok::<_, ()>(())
            }
        });
        let got = tokio::time::timeout(Duration::from_secs(10), walked)
            .await
            .expect("waiting aside must not hold the walk's slots");
        assert!(got.iter().all(Outcome::is_done));
        assert!(most.load(Ordering::SeqCst) <= 2);
        // Outside a walk, aside just runs the work.
        assert_eq!(aside(async { 7 }).await, 7);
    }

    #[tokio::test]
    async fn a_failure_skips_what_follows_and_nothing_else() {
        let got = walk(&diamond(), 2, &Interrupt::default(), None, |i| async move {
            if i == 1 { Err("no") } else { Ok(()) }
        })
        .await;
        assert_eq!(
            got,
            [
                Outcome::Done(()),
                Outcome::Failed("no"),
                Outcome::Done(()),
                Outcome::Skipped(1),
                Outcome::Done(()),
            ]
        );
    }

    #[tokio::test]
    async fn a_panic_is_that_node_s_outcome() {
        let got = walk(
            &Successors::from_lists(&[vec![1], vec![]]),
            1,
            &Interrupt::default(),
            None,
            |i| async move {
                if i == 0 {
                    panic!("bug");
                }
                Ok::<(), ()>(())
            },
        )
        .await;
        // Held for every node to the walk's end.
        assert_eq!(std::mem::size_of::<Outcome<(), Box<String>>>(), 16);
        assert!(matches!(got[0], Outcome::Panicked(_)), "{got:?}");
        assert_eq!(got[1], Outcome::Skipped(0));
    }

    #[tokio::test(start_paused = true)]
    async fn one_timer_reports_every_node_that_runs_long() {
        let seen = Mutex::new(Vec::new());
        let report =
            |i: usize, elapsed: Duration| seen.lock().unwrap().push((i, elapsed.as_secs()));
        let independent = Successors::independent(2);
        walk(
            &independent,
            2,
            &Interrupt::default(),
            Some((Duration::from_secs(10), &report)),
            |i| async move {
                tokio::time::sleep(Duration::from_secs(if i == 0 { 25 } else { 5 })).await;
                Ok::<_, ()>(())
            },
        )
        .await;
        assert_eq!(*seen.lock().unwrap(), [(0, 10), (0, 20)]);
    }

    #[tokio::test]
    async fn an_interrupt_lets_running_nodes_finish_and_starts_no_other() {
        let interrupt = Interrupt::default();
        let chain = Successors::from_lists(&[vec![1], vec![2], vec![]]);
        let raise = interrupt.clone();
        let got = walk(&chain, 4, &interrupt, None, |i| {
            let raise = raise.clone();
            async move {
                if i == 0 {
                    raise.raise();
                }
                Ok::<_, ()>(i)
            }
        })
        .await;
        assert_eq!(
            got,
            [Outcome::Done(0), Outcome::Cancelled, Outcome::Cancelled]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn raised_by_the_running_node_no_independent_node_takes_its_slot() {
        // Converge's budget: the first operation to start spends it. With one slot, the
        // others never start, whichever the walk sees first: the slot freed or the node done.
        for _ in 0..200 {
            let interrupt = Interrupt::default();
            let independent = Successors::independent(3);
            let raise = interrupt.clone();
            let got = walk(&independent, 1, &interrupt, None, |i| {
                let raise = raise.clone();
                async move {
                    raise.raise();
                    Ok::<_, ()>(i)
                }
            })
            .await;
            assert_eq!(
                got,
                [Outcome::Done(0), Outcome::Cancelled, Outcome::Cancelled]
            );
        }
    }
}
