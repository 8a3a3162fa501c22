//! The dependency graph of a spec's resources (petgraph): an edge `a → b` means `b` depends
//! on `a` (by reference or `DependsOn`), so `a` is created first and deleted last.

use crate::spec::LoadedSpec;
use anyhow::{Result, anyhow};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Resources as graph nodes, in a topological order.
pub struct Graph {
    pub graph: DiGraph<String, ()>,
    /// Nodes in dependency order (dependencies first).
    pub order: Vec<NodeIndex>,
}

impl Graph {
    /// The graph of `spec`; a cycle is an error that prints it (`A -> B -> A`).
    pub fn build(spec: &LoadedSpec) -> Result<Self> {
        let mut graph = DiGraph::with_capacity(spec.spec.resources.len(), 0);
        let index: HashMap<&str, NodeIndex> = spec
            .spec
            .resources
            .keys()
            .map(|name| (name.as_str(), graph.add_node(name.clone())))
            .collect();
        for name in spec.spec.resources.keys() {
            for dep in spec.dependencies(name) {
                graph.add_edge(index[dep], index[name.as_str()], ());
            }
        }
        let order = toposort(&graph, None).map_err(|cycle| {
            let path = cycle_through(&graph, cycle.node_id());
            anyhow!(
                "{}: dependency cycle: {}",
                spec.path.display(),
                path.join(" -> ")
            )
        })?;
        Ok(Self { graph, order })
    }

    /// The graph in Graphviz DOT.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph rkit {\n  rankdir=LR;\n");
        for node in &self.order {
            let _ = writeln!(out, "  {:?};", self.graph[*node]);
        }
        for edge in self.graph.raw_edges() {
            let _ = writeln!(
                out,
                "  {:?} -> {:?};",
                self.graph[edge.source()],
                self.graph[edge.target()]
            );
        }
        out.push_str("}\n");
        out
    }
}

/// A cycle through `start`, as names from a dependent around to itself.
fn cycle_through(graph: &DiGraph<String, ()>, start: NodeIndex) -> Vec<String> {
    // Depth-first search for a path from `start` back to `start`.
    let mut stack = vec![(start, graph.neighbors(start).collect::<Vec<_>>())];
    let mut seen = vec![false; graph.node_count()];
    while let Some((_, next)) = stack.last_mut() {
        match next.pop() {
            Some(n) if n == start => {
                let mut names: Vec<String> = stack.iter().map(|(n, _)| graph[*n].clone()).collect();
                names.push(graph[start].clone());
                // Edges point from dependency to dependent; print "A depends on B" order.
                names.reverse();
                return names;
            }
            Some(n) if !seen[n.index()] => {
                seen[n.index()] = true;
                stack.push((n, graph.neighbors(n).collect()));
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    vec![graph[start].clone()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(text: &str) -> LoadedSpec {
        crate::spec::parse(Path::new("s.json"), text).unwrap()
    }

    #[test]
    fn orders_dependencies_first() {
        let s = spec(
            r#"{"Resources": {
                "C": {"Plugin": "p", "Type": "T", "Properties": {"X": "{{.Resources.B.ID}}"}},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]},
                "A": {"Plugin": "p", "Type": "T"}}}"#,
        );
        let g = Graph::build(&s).unwrap();
        let names: Vec<&str> = g.order.iter().map(|n| g.graph[*n].as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        assert!(g.dot().contains("\"B\" -> \"C\";"));
    }

    #[test]
    fn a_cycle_is_printed() {
        let s = spec(
            r#"{"Resources": {
                "A": {"Plugin": "p", "Type": "T", "Properties": {"X": "{{.Resources.B.ID}}"}},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]}}}"#,
        );
        let err = Graph::build(&s).err().unwrap().to_string();
        assert!(
            err == "s.json: dependency cycle: A -> B -> A"
                || err == "s.json: dependency cycle: B -> A -> B",
            "{err}"
        );
    }
}
