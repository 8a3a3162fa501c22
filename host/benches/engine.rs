//! The engine at scale, through the real sandboxed `null` provider (no I/O): for N resources
//! in a chain (each references the previous one's ID) and a fan-out (one root, N-1 children),
//! the wall time of `plan` from empty, `apply` from empty, a no-op `plan` (with refresh) on
//! the applied state, and `destroy`; the time per resource; the state file's size.
//!
//! Run with `cargo providers && cargo bench -p rkit --bench engine [-- N...]` (default
//! N = 1000 10000). Prints a Markdown table.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use rkit::engine::ProviderArg;
use rkit::engine::{ApplyOptions, PlanOptions, Session};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const PARALLELISM: usize = 10;

fn plan_options() -> PlanOptions {
    PlanOptions {
        parallelism: PARALLELISM,
        ..Default::default()
    }
}

fn apply_options() -> ApplyOptions {
    ApplyOptions {
        parallelism: PARALLELISM,
    }
}

fn spec(shape: &str, n: usize) -> Value {
    let mut resources = serde_json::Map::new();
    for i in 0..n {
        let input = match (shape, i) {
            (_, 0) => json!("root"),
            ("chain", i) => json!(format!("{{{{.Resources.R{}.ID}}}}", i - 1)),
            (_, _) => json!("{{.Resources.R0.ID}}"),
        };
        resources.insert(
            format!("R{i}"),
            json!({"Plugin": "null", "Type": "Null", "Properties": {"Input": input}}),
        );
    }
    json!({ "Resources": resources })
}

async fn session(spec: &Path) -> Session {
    let null = ProviderArg {
        name: None,
        path: common::provider_wasm("null"),
    };
    let policy = rkit::engine::Policy {
        approve: true,
        ..Default::default()
    };
    let silent: rkit::engine::Events = std::sync::Arc::new(rkit::engine::Silent);
    Session::open(spec, None, &[null], policy, silent)
        .await
        .unwrap()
}

fn row(shape: &str, n: usize, what: &str, took: Duration, extra: &str) {
    println!(
        "| {shape} | {n} | {what} | {:.3} | {:.1} | {extra} |",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64
    );
}

async fn measure(shape: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join(format!("{shape}.json"));
    std::fs::write(&spec_path, spec(shape, n).to_string()).unwrap();

    let mut s = session(&spec_path).await;
    let started = Instant::now();
    s.validate().await.unwrap();
    let plan = s.plan(&plan_options()).await.unwrap();
    row(shape, n, "plan (empty state)", started.elapsed(), "");
    assert_eq!(plan.counts().create, n);

    let started = Instant::now();
    let report = s.apply(plan, &apply_options()).await.unwrap();
    let took = started.elapsed();
    assert!(report.ok() && report.created.len() == n);
    let state_bytes = std::fs::metadata(dir.path().join(format!("{shape}.rkit-state.json")))
        .unwrap()
        .len();
    row(
        shape,
        n,
        "apply",
        took,
        &format!("state {} KiB", state_bytes / 1024),
    );
    drop(s);

    let mut s = session(&spec_path).await;
    let started = Instant::now();
    s.validate().await.unwrap();
    let plan = s.plan(&plan_options()).await.unwrap();
    row(
        shape,
        n,
        "plan (no changes, refresh)",
        started.elapsed(),
        "",
    );
    assert!(!plan.has_changes());

    let started = Instant::now();
    let report = s
        .apply(
            s.destroy_plan(&Default::default()).await.unwrap(),
            &apply_options(),
        )
        .await
        .unwrap();
    row(shape, n, "destroy", started.elapsed(), "");
    assert!(report.ok() && report.deleted.len() == n);
}

fn main() {
    // `cargo bench` passes `--bench`; sizes are the numeric arguments.
    let mut sizes: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000];
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| shape | N | operation | seconds | µs per resource | |");
    println!("| --- | ---: | --- | ---: | ---: | --- |");
    for n in sizes {
        for shape in ["chain", "fan-out"] {
            runtime.block_on(measure(shape, n));
        }
    }
}
