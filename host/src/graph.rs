//! The dependency graph of a spec's resources (petgraph): an edge `a → b` means `b` depends
//! on `a` (by reference or `DependsOn`), so `a` is created first and deleted last. And its
//! pictures: Graphviz DOT, and SVG drawn in pure Rust (layout-rs), each resource coloured by
//! what a plan does to it when one is given (resources the plan deletes are drawn too).

use crate::engine::plan::Action;
use crate::spec::LoadedSpec;
use anyhow::Result;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Resources as graph nodes, in a topological order.
pub struct Graph {
    pub graph: DiGraph<String, ()>,
    /// Nodes in dependency order (dependencies first).
    pub order: Vec<NodeIndex>,
    /// What each resource is (`aws Vpc`), for pictures.
    pub kinds: HashMap<String, String>,
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
        let kinds = spec
            .spec
            .resources
            .iter()
            .map(|(name, r)| (name.clone(), format!("{} {}", r.plugin, r.type_name)))
            .collect();
        Ok(Self {
            graph,
            order,
            kinds,
        })
    }

    /// The graph in Graphviz DOT; with `actions` (a plan's, by resource) each node is
    /// filled with its action's colour.
    pub fn dot(&self, actions: Option<&HashMap<String, Action>>) -> String {
        let mut out = String::from("digraph rkit {\n  rankdir=LR;\n");
        for name in self.names(actions) {
            match actions.and_then(|a| a.get(&name)) {
                Some(action) => {
                    let _ = writeln!(
                        out,
                        "  {:?} [style=filled, fillcolor={:?}, tooltip={:?}];",
                        crate::text::escape(&name),
                        colour(*action),
                        format!("{action:?}").to_lowercase()
                    );
                }
                None => {
                    let _ = writeln!(out, "  {:?};", crate::text::escape(&name));
                }
            }
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

    /// The resources to draw: the spec's in dependency order, then those only the plan names
    /// (deleted: gone from the spec).
    fn names(&self, actions: Option<&HashMap<String, Action>>) -> Vec<String> {
        let mut names: Vec<String> = self.order.iter().map(|n| self.graph[*n].clone()).collect();
        if let Some(actions) = actions {
            let mut gone: Vec<&String> = actions
                .keys()
                .filter(|n| !self.graph.node_weights().any(|w| w == *n))
                .collect();
            gone.sort();
            names.extend(gone.into_iter().cloned());
        }
        names
    }

    /// The graph drawn as SVG (left to right, dependencies first), coloured by `actions`.
    pub fn svg(&self, actions: Option<&HashMap<String, Action>>) -> String {
        use layout::backends::svg::SVGWriter;
        use layout::core::base::Orientation;
        use layout::core::color::Color;
        use layout::core::geometry::Point;
        use layout::core::style::StyleAttr;
        use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
        use layout::topo::layout::VisualGraph;

        let mut vg = VisualGraph::new(Orientation::LeftToRight);
        let mut handles = HashMap::new();
        for name in self.names(actions) {
            let kind = self
                .kinds
                .get(&name)
                .map_or("(leaves the spec)", String::as_str);
            let lines = [crate::text::escaped(&name), crate::text::escaped(kind)];
            let label = lines.join("\n");
            let fill = actions
                .and_then(|a| a.get(&name))
                .map_or("white", |a| colour(*a));
            let look = StyleAttr::new(Color::fast("black"), 2, Some(Color::fast(fill)), 5, 15);
            let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            let width = 30.0 + 8.0 * longest as f64;
            let element = Element::create(
                ShapeKind::new_box(&label),
                look,
                Orientation::LeftToRight,
                Point::new(width, 60.0),
            );
            handles.insert(name, vg.add_node(element));
        }
        for edge in self.graph.raw_edges() {
            let (from, to) = (&self.graph[edge.source()], &self.graph[edge.target()]);
            vg.add_edge(Arrow::simple(""), handles[from], handles[to]);
        }
        let mut svg = SVGWriter::new();
        if !handles.is_empty() {
            vg.do_it(false, false, false, &mut svg);
        }
        framed(&svg.finalize(), actions.is_some())
    }
}

/// The actions a plan picture's legend explains, in its order.
const LEGEND: [(Action, &str); 5] = [
    (Action::Create, "create"),
    (Action::Update, "update"),
    (Action::Replace, "replace"),
    (Action::Delete, "delete"),
    (Action::NoOp, "no change"),
];

/// `svg` on a white background (readable in a dark viewer too), with a legend of the
/// actions' colours below the graph when it pictures a plan.
fn framed(svg: &str, legend: bool) -> String {
    let size = |attr: &str| -> Option<&str> {
        let at = svg.find(&format!(" {attr}=\""))? + attr.len() + 3;
        svg[at..].split('"').next()
    };
    let (Some(width), Some(height)) = (size("width"), size("height")) else {
        return svg.to_string();
    };
    let (Ok(w), Ok(h)) = (width.parse::<f64>(), height.parse::<f64>()) else {
        return svg.to_string();
    };
    let extra = if legend { 40.0 } else { 0.0 };
    let (new_width, new_height) = (w.max(if legend { 560.0 } else { 0.0 }), h + extra);
    let mut out = svg.replacen(
        &format!("width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\""),
        &format!(
            "width=\"{new_width}\" height=\"{new_height}\" viewBox=\"0 0 {new_width} {new_height}\""
        ),
        1,
    );
    let height = h;
    let background = "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>";
    if let Some(at) = out.find("</style>") {
        out.insert_str(at + "</style>".len(), background);
    }
    if legend {
        let mut items = String::new();
        for (i, (action, what)) in LEGEND.iter().enumerate() {
            let x = 20 + 108 * i;
            let y = height + 10.0;
            let _ = write!(
                items,
                "<rect x=\"{x}\" y=\"{y}\" width=\"18\" height=\"18\" fill=\"{}\" stroke=\"black\"/>\
                 <text x=\"{}\" y=\"{}\" class=\"a15\">{what}</text>",
                colour(*action),
                x + 24,
                y + 14.0
            );
        }
        if let Some(at) = out.rfind("</svg>") {
            out.insert_str(at, &items);
        }
    }
    out
}

/// The fill colour of a planned action: create green, update yellow, replace orange,
/// delete red, nothing white.
fn colour(action: Action) -> &'static str {
    match action {
        Action::Create => "palegreen",
        Action::Update => "khaki",
        Action::Replace => "orange",
        Action::Delete => "salmon",
        Action::NoOp => "white",
    }
}

/// The field by which `name` depends on `dependency`: a reference's, else `DependsOn`.
fn field_naming(spec: &LoadedSpec, name: &str, dependency: &str) -> String {
    let by_reference = spec.references.get(name).and_then(|refs| {
        refs.iter()
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
        assert!(g.dot(None).contains("\"B\" -> \"C\";"));
    }

    #[test]
    fn the_svg_is_well_formed_with_one_node_per_resource_coloured_by_action() {
        let s = spec(
            r#"{"Resources": {
                "Net": {"Plugin": "p", "Type": "T"},
                "Web<1>": {"Plugin": "p", "Type": "T", "DependsOn": ["Net"]}}}"#,
        );
        let g = Graph::build(&s).unwrap();
        let actions: HashMap<String, Action> = [
            ("Net".to_string(), Action::Create),
            ("Web<1>".to_string(), Action::NoOp),
            ("Old".to_string(), Action::Delete),
        ]
        .into();
        let svg = g.svg(Some(&actions));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("tspan"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for name in ["Net", "Web<1>", "Old"] {
            assert_eq!(texts.iter().filter(|t| **t == name).count(), 1, "{texts:?}");
        }
        assert_eq!(
            texts.iter().filter(|t| **t == "p T").count(),
            2,
            "{texts:?}"
        );
        assert!(texts.contains(&"(leaves the spec)"), "{texts:?}");
        let root = doc.root_element();
        let first = root.children().find(|n| n.has_tag_name("rect")).unwrap();
        assert_eq!(first.attribute("fill"), Some("white"), "a background");
        let legend: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some("a15"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            legend,
            ["create", "update", "replace", "delete", "no change"]
        );
        let dot = g.dot(Some(&actions));
        assert!(
            dot.contains("\"Old\" [style=filled, fillcolor=\"salmon\""),
            "{dot}"
        );
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
