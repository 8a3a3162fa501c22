//! The execution order of a plan, as a pure function: which operations (nodes) there are and
//! which must finish before which. Never fails to give an order.
//!
//! A step becomes up to two nodes: `Delete` (of what exists) and `Upsert` (create or update).
//! Strong edges come from the spec: upserts follow the upserts of their dependencies; a
//! replacement deletes first (or, create-before-destroy, creates first). Weak edges come from
//! what was recorded: deletes precede the deletes of what the resource depended on when last
//! applied, a resource leaving the spec (or replaced by an object created first) is deleted
//! after what depended on it and stays has been moved off it, and orphans are deleted in the reverse of their spec order. The spec's
//! graph is acyclic, so strong edges alone never cycle; recorded dependencies can contradict
//! the spec (a dependency reversed since), and then the weak edges inside the cycle are
//! dropped (and reported) rather than leaving any node waiting forever. A step's `after`
//! (a rolling update's previous batch) is strong too: it only chains members of one group,
//! which never depend on each other.

use super::plan::{Action, Step};
use super::walk::Successors;
use crate::state::Strings;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;

/// Which half of a step a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Delete,
    Upsert,
}

/// What scheduling needs to know of one step (borrowed from it: a plan may have 100,000).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepShape<'a> {
    /// The step's name (unique in the plan).
    pub name: &'a str,
    /// The logical name it stands for (differs from `name` for an orphan).
    pub logical: &'a str,
    pub delete: bool,
    pub upsert: bool,
    pub create_before_destroy: bool,
    /// Whether the resource leaves the spec (or is an orphan).
    pub leaving: bool,
    /// What it depends on in the spec (logical names).
    pub spec_deps: Strings<'a>,
    /// What it depended on when last applied (logical names).
    pub recorded_deps: Strings<'a>,
    /// Steps (by name) all of whose operations finish before any of its starts.
    pub after: &'a [String],
}

impl<'a> StepShape<'a> {
    /// What scheduling needs of a plan's step (everything is in the step: the plan is the
    /// contract apply executes).
    pub fn of(step: &'a Step) -> Self {
        let (delete, upsert) = match step.action {
            Action::NoOp => (false, false),
            Action::Create | Action::Update => (false, true),
            Action::Replace => (true, true),
            Action::Delete => (true, false),
        };
        StepShape {
            name: &step.name,
            logical: step.logical(),
            delete,
            upsert,
            create_before_destroy: step.create_before_destroy,
            leaving: step.action == Action::Delete,
            spec_deps: step.depends_on.iter(),
            recorded_deps: step.recorded_depends_on.iter(),
            after: step.after(),
        }
    }
}

/// A node: step index and phase (8 bytes: a plan of 100,000 creates holds 100,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    step: u32,
    pub phase: Phase,
}

impl Node {
    pub fn new(step: usize, phase: Phase) -> Self {
        let step = u32::try_from(step).expect("fewer than 2^32 steps");
        Node { step, phase }
    }

    /// The index of its step.
    pub fn step(&self) -> usize {
        self.step as usize
    }
}

/// The nodes, each node's successors, and the recorded orderings dropped to break a cycle.
#[derive(Debug, Default)]
pub struct Schedule {
    pub nodes: Vec<Node>,
    pub successors: Successors,
    /// `(first, then)` step names of recorded orderings that contradicted the spec.
    pub dropped: Vec<(String, String)>,
}

/// What scheduling reads of a step: a plan's steps themselves (each shape made as it is
/// read: no copy of 100,000 of them beside the plan), or shapes made up by the tests.
pub trait Shape<'a> {
    fn shape(&'a self) -> StepShape<'a>;

    fn name(&'a self) -> &'a str {
        self.shape().name
    }

    fn logical(&'a self) -> &'a str {
        self.shape().logical
    }

    fn delete(&'a self) -> bool {
        self.shape().delete
    }

    fn upsert(&'a self) -> bool {
        self.shape().upsert
    }

    fn create_before_destroy(&'a self) -> bool {
        self.shape().create_before_destroy
    }

    fn leaving(&'a self) -> bool {
        self.shape().leaving
    }

    fn spec_deps(&'a self) -> Strings<'a> {
        self.shape().spec_deps
    }

    fn recorded_deps(&'a self) -> Strings<'a> {
        self.shape().recorded_deps
    }

    fn after(&'a self) -> &'a [String] {
        self.shape().after
    }
}

impl<'a, 'b: 'a> Shape<'a> for StepShape<'b> {
    fn shape(&'a self) -> StepShape<'a> {
        *self
    }
}

impl<'a> Shape<'a> for Box<Step> {
    fn shape(&'a self) -> StepShape<'a> {
        StepShape::of(self)
    }
}

/// The schedule of `steps`, as its passes: the operations (nodes), the edges the spec's and
/// the state's dependencies draw, a rolling update's batches, users moved off what they leave,
/// then the recorded (weak) orderings that close a circle dropped.
pub fn schedule<'a, S: Shape<'a>>(steps: &'a [S]) -> Schedule {
    let index = Index::of(steps);
    // Room for an edge a step at once (a chain of creates has that many; grown by doubling,
    // 100,000 would be held twice).
    let mut edges: Vec<Edge> = Vec::with_capacity(steps.len());
    dependency_edges(steps, &index, &mut edges);
    batch_edges(steps, &index, &mut edges);
    users_move_first(steps, &index, &mut edges);
    edges.sort_unstable();
    edges.dedup();
    let dropped = break_circles(steps, &index.nodes, &mut edges);
    // The edges are sorted: each node's successors side by side.
    let successors = Successors::from_sorted(
        index.nodes.len(),
        edges.iter().map(|e| (e.0 as usize, e.1 as usize)),
    );
    drop(edges);
    Schedule {
        nodes: index.nodes,
        successors,
        dropped,
    }
}

/// An edge between two nodes: (from, to, strong), 12 bytes.
type Edge = (u32, u32, bool);

/// Node `n`'s number as edges and the index hold it.
fn number(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 nodes")
}

/// An edge from `a` to `b`.
fn edge(a: usize, b: usize, strong: bool) -> Edge {
    (number(a), number(b), strong)
}

/// The operations of the steps, and where each step's are.
struct Index<'a, S> {
    steps: &'a [S],
    nodes: Vec<Node>,
    /// The delete operations of each logical resource, by name then operation (a sorted
    /// list: most resources have one, and a map of lists would be a list each).
    deletes: Vec<(&'a str, usize)>,
    /// The create or update operations, by their resource's logical name (then by node: of
    /// two for one name, the last counts). Four bytes each, found by a binary search (a
    /// map of 100,000 names is megabytes).
    upserts: Vec<u32>,
    /// Each step's delete operation.
    delete_of: Vec<Option<u32>>,
}

impl<'a, S: Shape<'a>> Index<'a, S> {
    fn of(steps: &'a [S]) -> Self {
        let mut index = Index {
            steps,
            // A node a step, mostly (a replacement has two).
            nodes: Vec::with_capacity(steps.len()),
            deletes: Vec::new(),
            upserts: Vec::new(),
            delete_of: vec![None; steps.len()],
        };
        for (i, step) in steps.iter().enumerate() {
            if step.delete() {
                let n = index.nodes.len();
                index.deletes.push((step.logical(), n));
                index.delete_of[i] = Some(number(n));
                index.nodes.push(Node::new(i, Phase::Delete));
            }
            if step.upsert() {
                index.upserts.push(number(index.nodes.len()));
                index.nodes.push(Node::new(i, Phase::Upsert));
            }
        }
        index.deletes.sort_unstable();
        let mut upserts = std::mem::take(&mut index.upserts);
        upserts.sort_unstable_by(|&a, &b| (index.logical(a), a).cmp(&(index.logical(b), b)));
        index.upserts = upserts;
        index
    }

    /// The logical name of node `n`'s resource.
    fn logical(&self, n: u32) -> &'a str {
        self.steps[self.nodes[n as usize].step()].logical()
    }

    /// The create or update operation of logical resource `logical`.
    fn upsert_of(&self, logical: &str) -> Option<usize> {
        let end = self
            .upserts
            .partition_point(|&n| self.logical(n) <= logical);
        let last = *self.upserts[..end].last()?;
        (self.logical(last) == logical).then_some(last as usize)
    }

    /// The delete operations of logical resource `logical`, in order.
    fn deletes_of<'s>(&'s self, logical: &'s str) -> impl Iterator<Item = usize> + 's {
        let first = self.deletes.partition_point(|(name, _)| *name < logical);
        let theirs = self.deletes[first..].iter();
        theirs
            .take_while(move |(name, _)| *name == logical)
            .map(|&(_, n)| n)
    }
}

/// A create or update after what it depends on in the spec (strong); a replacement's halves
/// in its order (strong); a delete before the deletes of what it depended on (weak: recorded
/// dependencies, and for what leaves the spec also the spec's, which orphans know only).
fn dependency_edges<'a, S: Shape<'a>>(steps: &'a [S], index: &Index<'a, S>, edges: &mut Vec<Edge>) {
    for (i, step) in steps.iter().enumerate() {
        let up = index.upsert_of(step.logical()).filter(|_| step.upsert());
        if let Some(up) = up {
            for dep in step.spec_deps() {
                if let Some(dep_up) = index.upsert_of(dep) {
                    edges.push(edge(dep_up, up, true));
                }
            }
        }
        let Some(del) = index.delete_of[i].map(|d| d as usize) else {
            continue;
        };
        match up {
            Some(up) if step.create_before_destroy() => edges.push(edge(up, del, true)),
            Some(up) => edges.push(edge(del, up, true)),
            None => {}
        }
        let deps = step
            .recorded_deps()
            .chain(step.spec_deps().filter(|_| step.leaving()));
        for dep in deps {
            for dep_del in index.deletes_of(dep) {
                if dep_del != del {
                    edges.push(edge(del, dep_del, false));
                }
            }
        }
    }
}

/// A rolling update's batches: every operation of the steps before, then the first of this
/// one.
fn batch_edges<'a, S: Shape<'a>>(steps: &'a [S], index: &Index<'a, S>, edges: &mut Vec<Edge>) {
    // Most plans have no rolling update: no map of every node's name for them.
    if steps.iter().all(|s| s.after().is_empty()) {
        return;
    }
    let mut nodes_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, node) in index.nodes.iter().enumerate() {
        nodes_of
            .entry(steps[node.step()].name())
            .or_default()
            .push(n);
    }
    for (i, step) in steps.iter().enumerate() {
        let del = index.delete_of[i].map(|d| d as usize);
        let first = match (del, index.upsert_of(step.logical())) {
            (Some(_), Some(up)) if step.create_before_destroy() && step.upsert() => Some(up),
            (Some(del), _) => Some(del),
            (None, Some(up)) if step.upsert() => Some(up),
            _ => None,
        };
        let Some(first) = first else { continue };
        for before in step.after() {
            for &n in nodes_of.get(before.as_str()).into_iter().flatten() {
                edges.push(edge(n, first, true));
            }
        }
    }
}

/// Leaving the spec, or replaced by a new object made first: first move what depended on it
/// (and stays) off it. Not a rolling update's member: its batches already order it with what
/// it feeds (which is refreshed with each batch), and this edge would close a circle through
/// the next batch.
fn users_move_first<'a, S: Shape<'a>>(steps: &'a [S], index: &Index<'a, S>, edges: &mut Vec<Edge>) {
    let rolling: std::collections::HashSet<&str> = steps
        .iter()
        .filter(|s| !s.after().is_empty())
        .flat_map(|s| s.after().iter().map(String::as_str).chain([s.name()]))
        .collect();
    for step in steps.iter().filter(|s| s.upsert() && !s.delete()) {
        for dep in step.recorded_deps() {
            for dep_del in index.deletes_of(dep) {
                let old = &steps[index.nodes[dep_del].step()];
                if (old.leaving() || (old.create_before_destroy() && !rolling.contains(old.name())))
                    && let Some(up) = index.upsert_of(step.logical())
                {
                    edges.push(edge(up, dep_del, false));
                }
            }
        }
    }
}

/// Drops the weak edges inside every circle until none is left; the orderings dropped, by
/// step name.
fn break_circles<'a, S: Shape<'a>>(
    steps: &'a [S],
    nodes: &[Node],
    edges: &mut Vec<Edge>,
) -> Vec<(String, String)> {
    let mut dropped = Vec::new();
    loop {
        // The common case, checked without building a graph (100,000 nodes are megabytes).
        if acyclic(nodes.len(), edges) {
            break;
        }
        let mut graph = DiGraph::<(), bool>::with_capacity(nodes.len(), edges.len());
        for _ in nodes {
            graph.add_node(());
        }
        for &(a, b, strong) in edges.iter() {
            graph.add_edge(
                NodeIndex::new(a as usize),
                NodeIndex::new(b as usize),
                strong,
            );
        }
        let mut component = vec![usize::MAX; nodes.len()];
        for (c, members) in tarjan_scc(&graph).into_iter().enumerate() {
            if members.len() > 1 {
                for m in members {
                    component[m.index()] = c;
                }
            }
        }
        let before = edges.len();
        edges.retain(|&(a, b, strong)| {
            let (a, b) = (a as usize, b as usize);
            let inside = component[a] != usize::MAX && component[a] == component[b];
            if inside && !strong {
                dropped.push((
                    steps[nodes[a].step()].name().to_string(),
                    steps[nodes[b].step()].name().to_string(),
                ));
            }
            !inside || strong
        });
        if edges.len() == before {
            // Strong edges alone never cycle (the spec's graph is acyclic); should they,
            // every edge of the cycle goes, so that nothing waits forever.
            edges.retain(|&(a, b, _)| {
                let (a, b) = (a as usize, b as usize);
                component[a] == usize::MAX || component[a] != component[b]
            });
        }
    }
    dropped.sort();
    dropped.dedup();
    dropped
}

/// Whether `edges` (sorted, between nodes `0..n`) close no circle: Kahn's algorithm, each
/// node's edges found by a binary search of the sorted list.
fn acyclic(n: usize, edges: &[Edge]) -> bool {
    let mut waiting = vec![0u32; n];
    for &(_, b, _) in edges {
        waiting[b as usize] += 1;
    }
    let mut ready: Vec<u32> = (0..number(n))
        .filter(|&i| waiting[i as usize] == 0)
        .collect();
    let mut done = 0;
    while let Some(a) = ready.pop() {
        done += 1;
        let first = edges.partition_point(|e| e.0 < a);
        for &(_, b, _) in edges[first..].iter().take_while(|e| e.0 == a) {
            waiting[b as usize] -= 1;
            if waiting[b as usize] == 0 {
                ready.push(b);
            }
        }
    }
    done == n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::NameList;

    fn shape(name: &str, delete: bool, upsert: bool) -> StepShape<'_> {
        StepShape {
            name,
            logical: name,
            delete,
            upsert,
            leaving: delete && !upsert,
            ..StepShape::default()
        }
    }

    fn order(s: &Schedule, steps: &[StepShape]) -> Vec<String> {
        let mut waiting = vec![0; s.nodes.len()];
        for i in 0..s.successors.len() {
            for n in s.successors.of(i) {
                waiting[n] += 1;
            }
        }
        let mut ready: Vec<usize> = (0..s.nodes.len()).filter(|&n| waiting[n] == 0).collect();
        let mut out = Vec::new();
        while let Some(n) = ready.pop() {
            let node = s.nodes[n];
            out.push(format!(
                "{}{}",
                if node.phase == Phase::Delete {
                    "-"
                } else {
                    "+"
                },
                steps[node.step()].name
            ));
            for m in s.successors.of(n) {
                waiting[m] -= 1;
                if waiting[m] == 0 {
                    ready.push(m);
                }
            }
        }
        assert_eq!(out.len(), s.nodes.len(), "every node runs");
        out
    }

    #[test]
    fn deletes_go_dependents_first_and_upserts_dependencies_first() {
        let names = |n: &str| NameList::from(&[n][..]);
        let (on_a, on_older, on_old) = (names("A"), names("Older"), names("Old"));
        let mut a = shape("A", false, true);
        let mut b = shape("B", false, true);
        b.spec_deps = on_a.iter();
        let mut gone = shape("Old", true, false);
        gone.recorded_deps = on_older.iter();
        let older = shape("Older", true, false);
        a.recorded_deps = on_old.iter();
        let steps = [a, b, gone, older];
        let s = schedule(&steps);
        let order = order(&s, &steps);
        let at = |x: &str| order.iter().position(|o| o == x).unwrap();
        assert!(at("+A") < at("+B"));
        assert!(at("-Old") < at("-Older"));
        assert!(at("+A") < at("-Old"), "A moves off Old first: {order:?}");
        assert!(s.dropped.is_empty());
    }

    #[test]
    fn a_reversed_recorded_dependency_is_dropped_not_waited_on_forever() {
        // Recorded: Y depended on Z and Z on Y (each from a different apply); both leave.
        let (on_z, on_y) = (NameList::from(&["Z"][..]), NameList::from(&["Y"][..]));
        let mut y = shape("Y", true, false);
        y.recorded_deps = on_z.iter();
        let mut z = shape("Z", true, false);
        z.recorded_deps = on_y.iter();
        let steps = [y, z];
        let s = schedule(&steps);
        assert_eq!(order(&s, &steps).len(), 2);
        assert_eq!(s.dropped.len(), 2, "{:?}", s.dropped);
    }

    /// A plan's step, as the planner makes it.
    fn step(name: &str, action: Action, deps: &[&str], recorded: &[&str]) -> Step {
        let mut s = Step::delete(name, "p", "T", None);
        s.action = action;
        s.depends_on = NameList::from(deps);
        s.recorded_depends_on = NameList::from(recorded);
        s
    }

    #[test]
    fn the_execution_graph_of_a_plan_comes_from_its_steps_alone() {
        // Held for every operation of a plan to the end of its apply.
        assert_eq!(std::mem::size_of::<Node>(), 8);
        // Net is replaced create-before-destroy; Web (update) moves onto the new Net; Old
        // leaves the spec and was on Net; Gone leaves and depended on Old.
        let mut net = step("Net", Action::Replace, &[], &[]);
        net.create_before_destroy = true;
        let steps = [
            net,
            step("Web", Action::Update, &["Net"], &["Net", "Old"]),
            step("Old", Action::Delete, &[], &["Net"]),
            step("Gone", Action::Delete, &[], &["Old"]),
            step("Same", Action::NoOp, &["Net"], &["Net"]),
        ];
        let shapes: Vec<StepShape> = steps.iter().map(StepShape::of).collect();
        let s = schedule(&shapes);
        // No-op steps run nothing.
        assert_eq!(s.nodes.len(), 5, "{:?}", s.nodes);
        let order = order(&s, &shapes);
        let at = |x: &str| order.iter().position(|o| o == x).unwrap();
        assert!(at("+Net") < at("-Net"), "create before destroy: {order:?}");
        assert!(at("+Net") < at("+Web"), "dependencies first: {order:?}");
        assert!(
            at("+Web") < at("-Old"),
            "moved off what leaves first: {order:?}"
        );
        assert!(
            at("-Gone") < at("-Old"),
            "dependents deleted first: {order:?}"
        );
        assert!(at("-Old") < at("-Net"), "{order:?}");
        assert!(s.dropped.is_empty());
    }

    #[test]
    fn a_replacement_deletes_first_unless_create_before_destroy() {
        let r = shape("R", true, true);
        let s = schedule(std::slice::from_ref(&r));
        assert_eq!(order(&s, std::slice::from_ref(&r)), ["-R", "+R"]);
        let mut c = r;
        c.create_before_destroy = true;
        let s = schedule(std::slice::from_ref(&c));
        assert_eq!(order(&s, std::slice::from_ref(&c)), ["+R", "-R"]);
    }

    #[test]
    fn an_object_made_first_is_deleted_after_its_users_move_to_the_new_one() {
        let mut sg = shape("Sg", true, true);
        sg.create_before_destroy = true;
        let mut web = shape("Web", false, true);
        let on_sg = NameList::from(&["Sg"][..]);
        web.spec_deps = on_sg.iter();
        web.recorded_deps = on_sg.iter();
        let steps = [web, sg];
        let s = schedule(&steps);
        assert_eq!(order(&s, &steps), ["+Sg", "+Web", "-Sg"]);
        assert!(s.dropped.is_empty());
    }

    #[test]
    fn a_rolling_update_runs_batch_after_batch() {
        // W[0] and W[1] are one batch (create before destroy), W[2] the next (destroy before
        // create): W[2]'s delete waits for both of the first batch's operations.
        let mut steps = Vec::new();
        let first_batch = ["W[0]".to_string(), "W[1]".to_string()];
        for (name, cbd, after) in [
            ("W[0]", true, &[][..]),
            ("W[1]", true, &[][..]),
            ("W[2]", false, &first_batch[..]),
        ] {
            let mut s = shape(name, true, true);
            s.create_before_destroy = cbd;
            s.after = after;
            steps.push(s);
        }
        let s = schedule(&steps);
        let out = order(&s, &steps);
        let at = |x: &str| out.iter().position(|o| o == x).unwrap();
        for first in ["+W[0]", "-W[0]", "+W[1]", "-W[1]"] {
            assert!(at(first) < at("-W[2]"), "{out:?}");
        }
        assert!(at("-W[2]") < at("+W[2]"), "{out:?}");
    }
}
