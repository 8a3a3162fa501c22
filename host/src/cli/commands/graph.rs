//! `rkit graph`: the spec's dependency graph as Graphviz DOT or an SVG picture, coloured by
//! what a saved plan does to each resource when given one. Reads the spec only (parameters
//! leniently: a missing value does not stop the picture).

use crate::engine::{Interrupt, PlanFile};
use crate::graph::Graph;
use crate::spec;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the dependency graph: Graphviz DOT, or an SVG picture.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  rkit graph stack.json | dot -Tpng > graph.png\n  rkit graph stack.json --format svg --plan plan.json > plan.svg"
)]
pub struct GraphArgs {
    /// The spec.
    pub spec: PathBuf,
    /// `dot` or `svg`.
    #[arg(long, default_value = "dot", value_parser = ["dot", "svg"])]
    pub format: String,
    /// Colour each resource by what this saved plan (`plan --out`) does to it.
    #[arg(long, value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,
}

/// `rkit graph`: DOT or SVG, coloured by a saved plan's actions when given one.
pub async fn exec(args: GraphArgs, _: &Interrupt) -> Result<ExitCode> {
    let (spec_path, format, plan) = (&args.spec, args.format.as_str(), args.plan.as_deref());
    let given = crate::spec::parameters::Given {
        lenient: true,
        ..crate::spec::parameters::Given::from_env(Vec::new(), Vec::new())
    };
    let spec = spec::load_with(spec_path, &given)?;
    let actions: Option<std::collections::HashMap<String, crate::engine::Action>> = match plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
            let saved = PlanFile::parse(path, &text)?;
            // What the plan has no step for, it leaves as it is (under a focus, what it names).
            let kept: Vec<&String> = match &saved.plan.kept {
                Some(kept) => kept.iter().collect(),
                None => spec.spec.resources.keys().collect(),
            };
            let mut actions: std::collections::HashMap<_, _> = kept
                .into_iter()
                .map(|name| (name.clone(), crate::engine::Action::NoOp))
                .collect();
            let steps = saved.plan.steps.iter().filter(|s| s.orphan().is_none());
            actions.extend(steps.map(|s| (s.name.to_string(), s.action)));
            Some(actions)
        }
        None => None,
    };
    let spec = std::sync::Arc::new(spec);
    let graph = Graph::build(&spec)?;
    match format {
        "svg" => {
            let kinds = crate::graph::kinds(&spec);
            let picture = crate::cli::picture::svg(&graph, &kinds, actions.as_ref());
            crate::outln!("{picture}")
        }
        _ => crate::out!("{}", crate::cli::picture::dot(&graph, actions.as_ref())),
    }
    Ok(ExitCode::SUCCESS)
}
