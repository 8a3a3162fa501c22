//! Pictures of the dependency graph: Graphviz DOT, and SVG drawn in pure Rust (layout-rs),
//! each resource coloured by what a plan does to it when one is given (resources the plan
//! deletes are drawn too). Every name and kind is escaped before it is drawn.

use crate::engine::Action;
use crate::graph::Graph;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The graph in Graphviz DOT; with `actions` (a plan's, by resource) each node is
/// filled with its action's colour.
pub fn dot(graph: &Graph, actions: Option<&HashMap<String, Action>>) -> String {
    let mut out = String::from("digraph rkit {\n  rankdir=LR;\n");
    for name in names(graph, actions) {
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
    for edge in graph.graph.raw_edges() {
        let _ = writeln!(
            out,
            "  {:?} -> {:?};",
            graph.name(edge.source()),
            graph.name(edge.target())
        );
    }
    out.push_str("}\n");
    out
}

/// The resources to draw: the spec's in dependency order, then those only the plan names
/// (deleted: gone from the spec).
fn names(graph: &Graph, actions: Option<&HashMap<String, Action>>) -> Vec<String> {
    let mut names: Vec<String> = graph
        .order
        .iter()
        .map(|n| graph.name(*n).to_string())
        .collect();
    if let Some(actions) = actions {
        let mut gone: Vec<&String> = actions.keys().filter(|n| !graph.contains(n)).collect();
        gone.sort();
        names.extend(gone.into_iter().cloned());
    }
    names
}

/// The graph drawn as SVG (left to right, dependencies first), coloured by `actions`.
/// `kinds`: what each resource is (see [`crate::graph::kinds`]).
pub fn svg(
    graph: &Graph,
    kinds: &HashMap<String, String>,
    actions: Option<&HashMap<String, Action>>,
) -> String {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::geometry::Point;
    use layout::core::style::StyleAttr;
    use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
    use layout::topo::layout::VisualGraph;

    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let mut handles = HashMap::new();
    for name in names(graph, actions) {
        let kind = kinds.get(&name).map_or("(leaves the spec)", String::as_str);
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
    for edge in graph.graph.raw_edges() {
        let (from, to) = (graph.name(edge.source()), graph.name(edge.target()));
        vg.add_edge(Arrow::simple(""), handles[from], handles[to]);
    }
    let mut svg = SVGWriter::new();
    if !handles.is_empty() {
        vg.do_it(false, false, false, &mut svg);
    }
    framed(&svg.finalize(), actions.is_some())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn graph(text: &str) -> Graph {
        Graph::build(
            &crate::spec::parse(Path::new("s.json"), text)
                .unwrap()
                .into(),
        )
        .unwrap()
    }

    #[test]
    fn dot_draws_each_dependency_as_an_edge() {
        let g = graph(
            r#"{"Resources": {
                "C": {"Plugin": "p", "Type": "T", "Properties": {"X": "{{.Resources.B.ID}}"}},
                "B": {"Plugin": "p", "Type": "T", "DependsOn": ["A"]},
                "A": {"Plugin": "p", "Type": "T"}}}"#,
        );
        assert!(dot(&g, None).contains("\"B\" -> \"C\";"));
    }

    #[test]
    fn the_svg_is_well_formed_with_one_node_per_resource_coloured_by_action() {
        let g = graph(
            r#"{"Resources": {
                "Net": {"Plugin": "p", "Type": "T"},
                "Web<1>": {"Plugin": "p", "Type": "T", "DependsOn": ["Net"]}}}"#,
        );
        let actions: HashMap<String, Action> = [
            ("Net".to_string(), Action::Create),
            ("Web<1>".to_string(), Action::NoOp),
            ("Old".to_string(), Action::Delete),
        ]
        .into();
        let kinds = ["Net", "Web<1>"].map(|n| (n.to_string(), "p T".to_string()));
        let kinds = HashMap::from(kinds);
        let svg = svg(&g, &kinds, Some(&actions));
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
        let dot = dot(&g, Some(&actions));
        assert!(
            dot.contains("\"Old\" [style=filled, fillcolor=\"salmon\""),
            "{dot}"
        );
    }
}
