//! The dependency graph of a spec's resources (petgraph): an edge `a → b` means `b` depends
//! on `a` (by reference or `DependsOn`), so `a` is created first and deleted last. A layer
//! below the engine: it knows specs, not plans (its pictures are the CLI's `picture`).

use crate::spec::LoadedSpec;
use anyhow::Result;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;

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
            let message = format!("dependency cycle: {}", path.join(" -> "));
            let field = field_naming(spec, &path[0], &path[1]);
            spec.resource_error(&path[0], &field, message)
        })?;
        Ok(Self { graph, order })
    }
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
            .find(|(_, r)| r.resource == dependency)
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
