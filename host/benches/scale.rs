//! rkit against a real API at scale: a VPC, a subnet and N instances (default 1,000) applied
//! to moto, then planned with nothing to change, then destroyed, each a real `rkit` process at
//! the default `--parallelism` (10). Every request goes through a loopback proxy
//! (`tests/all/common/fault_proxy.rs`, passing everything) that counts them by API action on its
//! own, apart from rkit's report; the no-op plan is timed again with 50 ms added to every
//! request (a far region's round trip).
//!
//! `cargo providers && cargo bench -p rkit --bench scale -- [--instances N]` writes
//! `target/bench/scale.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use common::fault_proxy::{FaultProxy, Policy};
use common::moto::Moto;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The stack: one VPC, one subnet in it, `n` instances in the subnet.
fn spec(n: usize) -> String {
    let wasm = common::provider_wasm("aws");
    let mut resources = serde_json::Map::new();
    resources.insert(
        "Net".into(),
        json!({"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.8.0.0/16"}}),
    );
    resources.insert(
        "Sub".into(),
        json!({"Plugin": "aws", "Type": "Subnet", "Properties": {
            "VpcId": "{{.Resources.Net.ID}}", "CidrBlock": "10.8.0.0/18"}}),
    );
    for i in 0..n {
        resources.insert(
            format!("Web{i:05}"),
            json!({"Plugin": "aws", "Type": "Instance", "Properties": {
                "ImageId": "ami-12c6146b", "InstanceType": "t3.micro",
                "SubnetId": "{{.Resources.Sub.ID}}"}}),
        );
    }
    serde_json::to_string_pretty(&json!({
        "Stack": "scale",
        "Providers": {"aws": {"Source": wasm}},
        "Resources": resources,
    }))
    .unwrap()
}

/// One timed rkit run through the proxy: its wall time and the requests the proxy saw, by action.
fn run(
    moto: &Moto,
    proxy: &FaultProxy,
    dir: &Path,
    args: &[&str],
) -> (Duration, BTreeMap<String, usize>) {
    let before = proxy.log().len();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .arg("--approve")
        .current_dir(dir)
        .env("HOME", dir)
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .envs(moto.env())
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .expect("running rkit");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "rkit {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut actions = BTreeMap::new();
    for (action, _) in &proxy.log()[before..] {
        *actions.entry(action.clone()).or_insert(0) += 1;
    }
    (elapsed, actions)
}

fn total(actions: &BTreeMap<String, usize>) -> usize {
    actions.values().sum()
}

fn listed(actions: &BTreeMap<String, usize>) -> String {
    actions
        .iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--instances")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1000);
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint, Policy::Pass);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scale.json"), spec(n)).unwrap();
    let resources = n + 2;
    let mut report = format!(
        "# rkit against moto at scale: a VPC, a subnet and {n} instances ({resources} resources)\n\n\
         | operation | seconds | requests | per resource | by action |\n| --- | ---: | ---: | ---: | --- |\n"
    );
    let mut row = |what: &str, (took, actions): (Duration, BTreeMap<String, usize>)| {
        let line = format!(
            "| {what} | {:.2} | {} | {:.3} | {} |",
            took.as_secs_f64(),
            total(&actions),
            total(&actions) as f64 / resources as f64,
            listed(&actions)
        );
        eprintln!("{line}");
        let _ = writeln!(report, "{line}");
    };
    row(
        "apply",
        run(&moto, &proxy, dir.path(), &["apply", "scale.json", "--yes"]),
    );
    row(
        "plan, no changes",
        run(&moto, &proxy, dir.path(), &["plan", "scale.json"]),
    );
    proxy.set_delay(Duration::from_millis(50));
    row(
        "plan, no changes, 50 ms per request",
        run(&moto, &proxy, dir.path(), &["plan", "scale.json"]),
    );
    proxy.set_delay(Duration::ZERO);
    row(
        "destroy",
        run(
            &moto,
            &proxy,
            dir.path(),
            &["destroy", "scale.json", "--yes"],
        ),
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/scale.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &report).unwrap();
    print!("{report}");
}
