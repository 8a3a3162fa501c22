//! The dependency graph of a spec's resources (petgraph): an edge `a → b` means `b` depends
//! on `a` (by reference or `DependsOn`), so `a` is created first and deleted last. A layer
//! below the engine: it knows specs, not plans (its pictures are the CLI's `picture`).
//!
//! Invariant: node `i` is the spec's resource `i` (nodes are added in the spec's order and
//! never removed), and the graph holds the spec it was built from: a node carries no name of
//! its own (100,000 resources would hold each name a second time), [`Graph::name`] reads it
//! from that spec.

use crate::spec::LoadedSpec;
use anyhow::Result;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;
use std::sync::Arc;

/// Resources as graph nodes, in a topological order (by default: none, of an empty spec).
#[derive(Default)]
pub struct Graph {
    pub graph: DiGraph<(), ()>,
    /// Nodes in dependency order (dependencies first).
    pub order: Vec<NodeIndex>,
    /// The spec it was built from.
    spec: Arc<LoadedSpec>,
}

impl Graph {
    /// The graph of `spec`; a cycle is an error that prints it (`A -> B -> A`).
    pub fn build(spec: &Arc<LoadedSpec>) -> Result<Self> {
        let resources = &spec.spec.resources;
        let mut graph = DiGraph::with_capacity(resources.len(), 0);
        for _ in 0..resources.len() {
            graph.add_node(());
        }
        for (i, name) in resources.keys().enumerate() {
            for dep in spec.dependencies(name) {
                let from = resources.get_index_of(dep).expect("references are checked");
                graph.add_edge(NodeIndex::new(from), NodeIndex::new(i), ());
            }
        }
        let order = toposort(&graph, None).map_err(|cycle| {
            let path = cycle_through(&graph, cycle.node_id(), |n| name_of(spec, n));
            let message = format!("dependency cycle: {}", path.join(" -> "));
            let field = field_naming(spec, &path[0], &path[1]);
            spec.resource_error(&path[0], &field, message)
        })?;
        Ok(Self {
            graph,
            order,
            spec: spec.clone(),
        })
    }

    /// The name of resource `node`.
    pub fn name(&self, node: NodeIndex) -> &str {
        name_of(&self.spec, node)
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Whether `name` is one of its resources.
    pub fn contains(&self, name: &str) -> bool {
        self.spec.spec.resources.contains_key(name)
    }
}

fn name_of(spec: &LoadedSpec, node: NodeIndex) -> &str {
    let (name, _) = (spec.spec.resources.get_index(node.index())).expect("a node is a resource");
    name
}

/// What each resource of `spec` is (`aws Vpc`), for pictures (made when one is drawn, not
/// held by every graph).
pub fn kinds(spec: &LoadedSpec) -> HashMap<String, String> {
    let kind = |r: &crate::spec::ResourceSpec| format!("{} {}", r.plugin, r.type_name);
    spec.spec
        .resources
        .iter()
        .map(|(name, r)| (name.clone(), kind(r)))
        .collect()
}

/// The field by which `name` depends on `dependency`: a reference's, else `DependsOn`.
fn field_naming(spec: &LoadedSpec, name: &str, dependency: &str) -> String {
    let by_reference = spec.spec.resources.get(name).and_then(|rs| {
        rs.references
            .iter()
            .find(|(_, r)| *r.resource == *dependency)
            .map(|(field, _)| format!("Properties.{field}"))
    });
    let listed = || {
        let at = spec
            .spec
            .resources
            .get(name)?
            .depends_on
            .iter()
            .position(|d| d == dependency)?;
        Some(format!("DependsOn[{at}]"))
    };
    by_reference
        .or_else(listed)
        .unwrap_or_else(|| "DependsOn".into())
}

/// A cycle through `start`, as names from a dependent around to itself, starting at the
/// first name in order (the same cycle always reads the same).
fn cycle_through<'a>(
    graph: &DiGraph<(), ()>,
    start: NodeIndex,
    name: impl Fn(NodeIndex) -> &'a str,
) -> Vec<String> {
    // Depth-first search for a path from `start` back to `start`.
    let mut stack = vec![(start, graph.neighbors(start).collect::<Vec<_>>())];
    let mut seen = vec![false; graph.node_count()];
    while let Some((_, next)) = stack.last_mut() {
        match next.pop() {
            Some(n) if n == start => {
                let mut names: Vec<String> = stack.iter().map(|(n, _)| name(*n).into()).collect();
                names.push(name(start).into());
                // Edges point from dependency to dependent; print "A depends on B" order.
                names.reverse();
                names.pop();
                let first = (0..names.len()).min_by_key(|&i| &names[i]).unwrap_or(0);
                names.rotate_left(first);
                names.push(names[0].clone());
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
    vec![name(start).into()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(text: &str) -> Arc<LoadedSpec> {
        crate::spec::parse(Path::new("s.json"), text)
            .unwrap()
            .into()
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
        let names: Vec<&str> = g.order.iter().map(|n| g.name(*n)).collect();
        assert_eq!(names, ["A", "B", "C"]);
    }

    #[test]
    fn a_cycle_is_printed() {
        let s = spec(
            r#"{"Resources": {
                "A": {"Plugin": "p", "Type": "T", "Properties": {"X": "{{.Resources.B.ID}}"}},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]}}}"#,
        );
        let err = Graph::build(&s).err().unwrap().to_string();
        assert_eq!(
            err,
            "s.json:2:71: resource A: field Properties.X: dependency cycle: A -> B -> A"
        );
        let s = spec(
            r#"{"Resources": {
                "A": {"Plugin": "p", "Type": "T", "DependsOn": ["B"]},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]}}}"#,
        );
        let err = Graph::build(&s).err().unwrap().to_string();
        assert_eq!(
            err,
            "s.json:2:65: resource A: field DependsOn[0]: dependency cycle: A -> B -> A"
        );
    }
}
