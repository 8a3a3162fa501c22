//! rkit against Terraform on the same graphs, and apply under provider latency.
//!
//! Every measurement runs a real process (the `rkit` binary with the sandboxed `null`
//! provider; `terraform` with built-in `terraform_data` resources) and records its wall time
//! and peak memory (max RSS, from `wait4`). Graph shapes, N resources each:
//! - chain: each resource's input references the previous one's ID;
//! - fan-out: one root, N-1 children referencing it;
//! - layered: √N layers of √N, each resource referencing two of the layer before.
//!
//! For rkit: `plan` from empty, `apply`, a no-op `plan` (with refresh) and `destroy`. For
//! Terraform (where a `terraform` binary is on the PATH): `apply -auto-approve` and a no-op
//! `plan`, at the default `-parallelism` (10) and at 100; a shape's Terraform runs stop before
//! the first N at which ten times the previous apply time exceeds the budget (10 minutes). Latency: 1,000 independent `null` `Sleepy`
//! resources whose create waits 50 ms on a host timer, at `--parallelism` 10, 50 and 200,
//! against the bound N / parallelism × 50 ms.
//!
//! `cargo providers && cargo bench -p rkit --bench compare -- [--sizes 100,1000]
//! [--terraform-budget SECONDS] [--out DIR]` writes `DIR/results.md` and `DIR/results.json`
//! (default DIR: `target/bench`).

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;
mod measure;

use measure::{Cmd, Measured, run};

use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SHAPES: [&str; 3] = ["chain", "fan-out", "layered"];
const RKIT_PARALLELISM: u32 = 10;
const TF_PARALLELISM: [u32; 2] = [10, 100];

#[derive(Serialize, Clone)]
struct Row {
    tool: String,
    shape: String,
    n: usize,
    operation: String,
    parallelism: u32,
    /// `None`: killed at the time budget.
    seconds: Option<f64>,
    max_rss_mib: Option<f64>,
    state_kib: Option<u64>,
}

/// The references of resource `i` of `shape` (by index), and the resource names.
fn graph(shape: &str, n: usize) -> Vec<(String, Vec<String>)> {
    match shape {
        "chain" => (0..n)
            .map(|i| {
                (
                    format!("r{i}"),
                    if i == 0 {
                        vec![]
                    } else {
                        vec![format!("r{}", i - 1)]
                    },
                )
            })
            .collect(),
        "fan-out" => (0..n)
            .map(|i| {
                (
                    format!("r{i}"),
                    if i == 0 { vec![] } else { vec!["r0".into()] },
                )
            })
            .collect(),
        _ => {
            let width = (n as f64).sqrt().round().max(1.0) as usize;
            (0..n)
                .map(|i| {
                    let (layer, j) = (i / width, i % width);
                    let parents = if layer == 0 {
                        vec![]
                    } else {
                        let above = (layer - 1) * width;
                        vec![
                            format!("r{}", above + j),
                            format!("r{}", above + (j + 1) % width),
                        ]
                    };
                    (format!("r{i}"), parents)
                })
                .collect()
        }
    }
}

fn rkit_spec(graph: &[(String, Vec<String>)], module: &Path) -> Value {
    let resources: serde_json::Map<String, Value> = graph
        .iter()
        .map(|(name, parents)| {
            let input = match parents.as_slice() {
                [] => json!("root"),
                [one] => json!(format!("{{{{.Resources.{one}.ID}}}}")),
                many => json!(
                    many.iter()
                        .map(|p| format!("{{{{.Resources.{p}.ID}}}}"))
                        .collect::<Vec<_>>()
                ),
            };
            (
                name.clone(),
                json!({"Plugin": "null", "Type": "Null", "Properties": {"Input": input}}),
            )
        })
        .collect();
    json!({"Providers": {"null": {"Source": module}}, "Resources": resources})
}

fn terraform_config(graph: &[(String, Vec<String>)]) -> String {
    let mut out = String::new();
    for (name, parents) in graph {
        let input = match parents.as_slice() {
            [] => "\"root\"".to_string(),
            [one] => format!("terraform_data.{one}.id"),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|p| format!("terraform_data.{p}.id"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "resource \"terraform_data\" \"{name}\" {{\n  input = {input}\n}}"
        );
    }
    out
}

struct Bench {
    rkit: PathBuf,
    rows: Vec<Row>,
}

impl Bench {
    fn rkit(&self, dir: &Path, args: &[&str]) -> Cmd {
        Cmd::new(&self.rkit, dir)
            .args(args)
            .env("RKIT_CACHE_DIR", common::cache_dir())
    }

    /// Runs an rkit command that must finish.
    fn rkit_run(&self, dir: &Path, args: &[&str]) -> Measured {
        Some(run(self.rkit(dir, args), Duration::from_secs(3600)).expect("rkit finishes"))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        tool: &str,
        shape: &str,
        n: usize,
        op: &str,
        p: u32,
        m: Measured,
        state: Option<u64>,
    ) {
        let row = Row {
            tool: tool.into(),
            shape: shape.into(),
            n,
            operation: op.into(),
            parallelism: p,
            seconds: m.map(|m| m.0.as_secs_f64()),
            max_rss_mib: m.map(|m| m.1),
            state_kib: state,
        };
        eprintln!(
            "{tool:9} {shape:8} N={n:<7} {op:24} p={p:<4} {:>9} s {:>8} MiB",
            row.seconds.map_or("killed".into(), |s| format!("{s:.3}")),
            row.max_rss_mib.map_or("-".into(), |m| format!("{m:.1}"))
        );
        self.rows.push(row);
    }

    fn measure_rkit(&mut self, shape: &str, n: usize) {
        let dir = tempfile::tempdir().unwrap();
        let spec = rkit_spec(&graph(shape, n), &common::provider_wasm("null"));
        std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
        let p = RKIT_PARALLELISM.to_string();
        let with = |cmd: &[&'static str]| -> Vec<&str> {
            cmd.iter()
                .copied()
                .chain(["spec.json", "--approve", "--parallelism", p.as_str()])
                .collect()
        };
        let d = dir.path();
        let plan = self.rkit_run(d, &with(&["plan"]));
        self.push(
            "rkit",
            shape,
            n,
            "plan (empty)",
            RKIT_PARALLELISM,
            plan,
            None,
        );
        let apply = self.rkit_run(d, &with(&["apply", "--yes"]));
        let state = std::fs::metadata(d.join("spec.rkit-state.json"))
            .unwrap()
            .len()
            / 1024;
        self.push(
            "rkit",
            shape,
            n,
            "apply",
            RKIT_PARALLELISM,
            apply,
            Some(state),
        );
        // --detailed-exitcode: a plan that is not a no-op fails the run.
        let noop = self.rkit_run(d, &with(&["plan", "--detailed-exitcode"]));
        self.push(
            "rkit",
            shape,
            n,
            "plan (no changes)",
            RKIT_PARALLELISM,
            noop,
            None,
        );
        let destroy = self.rkit_run(d, &with(&["destroy", "--yes"]));
        self.push("rkit", shape, n, "destroy", RKIT_PARALLELISM, destroy, None);
    }

    /// Returns the longest apply time (the budget if one was killed), to stop growing N.
    fn measure_terraform(&mut self, shape: &str, n: usize, budget: Duration) -> Duration {
        let mut longest = Duration::ZERO;
        for p in TF_PARALLELISM {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("main.tf"),
                terraform_config(&graph(shape, n)),
            )
            .unwrap();
            std::fs::write(dir.path().join("empty.tfrc"), "").unwrap();
            let tf = |args: &[&str]| {
                Cmd::new("terraform", dir.path())
                    .args(args)
                    .env("TF_CLI_CONFIG_FILE", dir.path().join("empty.tfrc"))
                    .env("CHECKPOINT_DISABLE", "1")
                    .env("TF_IN_AUTOMATION", "1")
            };
            run(tf(&["init", "-input=false"]), budget).expect("terraform init finishes");
            let flag = format!("-parallelism={p}");
            let apply = run(
                tf(&["apply", "-auto-approve", "-input=false", &flag]),
                budget,
            );
            longest = longest.max(apply.map_or(budget, |a| a.0));
            if apply.is_none() {
                self.push("terraform", shape, n, "apply", p, None, None);
                continue;
            }
            let state = std::fs::metadata(dir.path().join("terraform.tfstate"))
                .unwrap()
                .len()
                / 1024;
            self.push("terraform", shape, n, "apply", p, apply, Some(state));
            let plan = run(tf(&["plan", "-input=false", &flag]), budget);
            self.push("terraform", shape, n, "plan (no changes)", p, plan, None);
        }
        longest
    }

    fn measure_latency(&mut self) {
        let n = 1000;
        for p in [10u32, 50, 200] {
            let dir = tempfile::tempdir().unwrap();
            let resources: serde_json::Map<String, Value> = (0..n)
                .map(|i| {
                    let sleepy =
                        json!({"Plugin": "null", "Type": "Sleepy", "Properties": {"Ms": 50}});
                    (format!("s{i}"), sleepy)
                })
                .collect();
            let module = common::provider_wasm("null");
            let spec = json!({"Providers": {"null": {"Source": module}}, "Resources": resources});
            std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
            let ps = p.to_string();
            let apply = self.rkit_run(
                dir.path(),
                &[
                    "apply",
                    "--yes",
                    "--approve",
                    "spec.json",
                    "--parallelism",
                    &ps,
                ],
            );
            self.push("rkit", "latency 50 ms", n, "apply", p, apply, None);
        }
    }
}

fn main() {
    let flag = measure::flag;
    let sizes = measure::sizes("100,1000,10000,100000");
    let budget =
        Duration::from_secs(flag("--terraform-budget").map_or(600, |s| s.parse().unwrap()));
    let out = PathBuf::from(
        flag("--out").unwrap_or_else(|| common::target_dir().join("bench").display().to_string()),
    );
    let rkit = common::target_dir().join("release/rkit");
    assert!(rkit.exists(), "build rkit first: cargo build --release");
    let terraform = Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !terraform {
        eprintln!("note: no terraform binary on the PATH: Terraform rows skipped");
    }

    let mut bench = Bench {
        rkit,
        rows: Vec::new(),
    };
    let mut skipped_tf = Vec::new();
    for shape in SHAPES {
        let mut tf_over = false;
        for &n in &sizes {
            bench.measure_rkit(shape, n);
            if terraform && !tf_over {
                // Terraform's time grows at least linearly in N: 10 N would exceed the budget.
                tf_over = bench.measure_terraform(shape, n, budget) * 10 > budget;
            } else if terraform {
                skipped_tf.push(format!("{shape} N={n}"));
            }
        }
    }
    bench.measure_latency();

    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("results.json"),
        serde_json::to_vec_pretty(&bench.rows).unwrap(),
    )
    .unwrap();
    let md = markdown(&bench.rows, &skipped_tf, budget);
    std::fs::write(out.join("results.md"), &md).unwrap();
    print!("{md}");
}

fn markdown(rows: &[Row], skipped_tf: &[String], budget: Duration) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let b = budget.as_secs();
    let mut md = format!("Machine: {cores} cores. Each time is the wall clock of one process.\n\n");
    md.push_str("| tool | shape | N | operation | parallelism | seconds | µs / resource | max RSS MiB | state KiB |\n");
    md.push_str("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        let (seconds, per) = match r.seconds {
            Some(s) => (format!("{s:.3}"), format!("{:.1}", s * 1e6 / r.n as f64)),
            None => (format!("> {b} (killed)"), String::new()),
        };
        let rss = r.max_rss_mib.map_or(String::new(), |m| format!("{m:.1}"));
        let state = r.state_kib.map_or(String::new(), |k| k.to_string());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {seconds} | {per} | {rss} | {state} |",
            r.tool, r.shape, r.n, r.operation, r.parallelism
        );
    }
    md.push_str(
        "\n### Terraform ÷ rkit (same shape and N; Terraform at its faster parallelism)\n\n",
    );
    md.push_str("| shape | N | operation | rkit s | Terraform s | Terraform ÷ rkit |\n");
    md.push_str("| --- | ---: | --- | ---: | ---: | ---: |\n");
    let compared = ["apply", "plan (no changes)"];
    for r in rows
        .iter()
        .filter(|r| r.tool == "rkit" && compared.contains(&r.operation.as_str()))
    {
        let rkit = r.seconds.expect("rkit runs finish");
        let tf: Vec<Option<f64>> = rows
            .iter()
            .filter(|t| t.tool == "terraform" && t.shape == r.shape && t.n == r.n)
            .filter(|t| t.operation == r.operation)
            .map(|t| t.seconds)
            .collect();
        let fastest = tf.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let (shape, n, op) = (&r.shape, r.n, &r.operation);
        if fastest.is_finite() {
            let ratio = fastest / rkit;
            let _ = writeln!(
                md,
                "| {shape} | {n} | {op} | {rkit:.3} | {fastest:.3} | {ratio:.0}× |"
            );
        } else if !tf.is_empty() {
            let ratio = b as f64 / rkit;
            let _ = writeln!(
                md,
                "| {shape} | {n} | {op} | {rkit:.3} | > {b} (killed) | > {ratio:.0}× |"
            );
        }
    }
    md.push_str("\n### Scaling (rkit apply: time at 10 N ÷ time at N)\n\n");
    md.push_str("| shape | N → 10 N | ratio |\n| --- | --- | ---: |\n");
    for shape in SHAPES {
        let applies: Vec<&Row> = rows
            .iter()
            .filter(|r| r.tool == "rkit" && r.shape == shape && r.operation == "apply")
            .collect();
        for pair in applies.windows(2) {
            if let (true, Some(a), Some(c)) = (
                pair[1].n == pair[0].n * 10,
                pair[0].seconds,
                pair[1].seconds,
            ) {
                let _ = writeln!(
                    md,
                    "| {shape} | {} → {} | {:.2} |",
                    pair[0].n,
                    pair[1].n,
                    c / a
                );
            }
        }
    }
    md.push_str("\n### Apply under latency (50 ms per create, 1,000 independent resources)\n\n");
    md.push_str(
        "| parallelism | seconds | bound N/p × 50 ms | ÷ bound |\n| ---: | ---: | ---: | ---: |\n",
    );
    for r in rows.iter().filter(|r| r.shape.starts_with("latency")) {
        let bound = r.n as f64 / r.parallelism as f64 * 0.05;
        let s = r.seconds.expect("rkit runs finish");
        let _ = writeln!(
            md,
            "| {} | {s:.3} | {bound:.3} | {:.2} |",
            r.parallelism,
            s / bound
        );
    }
    if !skipped_tf.is_empty() {
        let _ = writeln!(
            md,
            "\nTerraform not run where ten times its apply time at the previous N (a lower bound: \
             its time grows at least linearly) exceeds the {b}-s budget: {}.",
            skipped_tf.join(", ")
        );
    }
    md
}
