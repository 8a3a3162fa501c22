//! The generated `awscc` provider against the hand-written `aws` one (issue 28), each step a
//! real `rkit` process against moto with the Cloud Control emulator in front:
//! - loading: module size; `provider inspect` with an empty compiled-module cache (first
//!   load) and with a warm one; a plan of a spec using three types (empty state: loading,
//!   describing, validating, planning);
//! - operations on 10 VPCs (`Vpc` of aws, `AWS::EC2::VPC` of awscc): create, read (a no-op
//!   plan's refresh), update (EnableDnsHostnames) and delete, wall time and the HTTP requests
//!   the sandbox's gate counted, per object;
//! - refreshing 10 and 100 queues (a no-op plan): requests and time.
//!
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/aws/requirements.txt &&
//! cargo providers && cargo bench -p rkit --bench awscc -- [--rounds N]` writes
//! `target/bench/awscc.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use common::moto::Moto;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How many VPCs each operation acts on.
const N: usize = 10;

/// The commands timed, on the spec in the step's directory.
const APPLY: &[&str] = &["apply", "spec.json", "--yes", "--approve"];
const PLAN: &[&str] = &["plan", "spec.json", "--approve"];
const DESTROY: &[&str] = &["destroy", "spec.json", "--yes", "--approve"];

/// One timed rkit run in `dir` with `cache` as the module cache: wall time and the requests
/// `plugin` reported.
fn run(moto: &Moto, dir: &Path, cache: &Path, plugin: &str, args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("RKIT_CACHE_DIR", cache)
        .envs(moto.env())
        .output()
        .expect("running rkit");
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rkit {args:?}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = format!("{plugin}: ");
    let requests = text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    (elapsed, requests)
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

/// A spec of `resources` with both providers.
fn spec(resources: Value) -> String {
    json!({
        "Providers": {
            "aws": {"Source": common::provider_wasm("aws")},
            "awscc": {"Source": common::provider_wasm("awscc")},
        },
        "Resources": resources,
    })
    .to_string()
}

/// Three types of each provider, nothing referenced across.
fn three_types(plugin: &str) -> Value {
    match plugin {
        "aws" => json!({
            "Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.1.0.0/16"}},
            "Sub": {"Plugin": "aws", "Type": "Subnet", "Properties": {"VpcId": "{{.Resources.Net.ID}}", "CidrBlock": "10.1.1.0/24"}},
            "Sg": {"Plugin": "aws", "Type": "SecurityGroup", "Properties": {"GroupName": "g", "Description": "d", "VpcId": "{{.Resources.Net.ID}}"}},
        }),
        _ => json!({
            "Queue": {"Plugin": "awscc", "Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
            "Role": {"Plugin": "awscc", "Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
            "Table": {"Plugin": "awscc", "Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
        }),
    }
}

/// `N` VPCs of `plugin`, with DNS host names `hostnames`.
fn vpcs(plugin: &str, hostnames: bool) -> Value {
    let (ty, cidr) = match plugin {
        "aws" => ("Vpc", "CidrBlock"),
        _ => ("AWS::EC2::VPC", "CidrBlock"),
    };
    (0..N)
        .map(|i| {
            let properties =
                json!({cidr: format!("10.{i}.0.0/16"), "EnableDnsHostnames": hostnames});
            (
                format!("Vpc{i}"),
                json!({"Plugin": plugin, "Type": ty, "Properties": properties}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Loading: first load, cached load and a plan of three types, medians of `rounds`.
fn loading(moto: &Moto, rounds: usize, report: &mut String) {
    let _ = writeln!(
        report,
        "## Loading ({rounds} rounds, medians)\n\n| provider | module | first load (inspect, empty cache) | cached load (inspect) | plan using 3 types |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for plugin in ["aws", "awscc"] {
        let wasm = common::provider_wasm(plugin);
        let size = std::fs::metadata(&wasm).unwrap().len();
        let path = wasm.to_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.json"), spec(three_types(plugin))).unwrap();
        let warm = tempfile::tempdir().unwrap();
        run(
            moto,
            dir.path(),
            warm.path(),
            plugin,
            &["provider", "inspect", path],
        );
        let (mut first, mut cached, mut plans) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let empty = tempfile::tempdir().unwrap();
            first.push(
                run(
                    moto,
                    dir.path(),
                    empty.path(),
                    plugin,
                    &["provider", "inspect", path],
                )
                .0,
            );
            cached.push(
                run(
                    moto,
                    dir.path(),
                    warm.path(),
                    plugin,
                    &["provider", "inspect", path],
                )
                .0,
            );
            plans.push(run(moto, dir.path(), warm.path(), plugin, PLAN).0);
        }
        let _ = writeln!(
            report,
            "| {plugin} | {:.2} MiB | {:.0} ms | {:.0} ms | {:.0} ms |",
            size as f64 / 1048576.0,
            median_ms(first),
            median_ms(cached),
            median_ms(plans)
        );
    }
}

/// Create, read, update and delete of `N` VPCs by each provider, medians of `rounds`.
fn operations(moto: &Moto, rounds: usize, report: &mut String) {
    let _ = writeln!(
        report,
        "\n## {N} VPCs ({rounds} rounds, medians; requests per VPC)\n\n| provider | create | read (no-op plan) | update | delete |\n| --- | ---: | ---: | ---: | ---: |"
    );
    let cache = common::cache_dir();
    for plugin in ["aws", "awscc"] {
        let mut times = vec![Vec::new(); 4];
        let mut requests = [0u64; 4];
        for round in 0..=rounds {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("spec.json");
            std::fs::write(&file, spec(vpcs(plugin, false))).unwrap();
            let mut steps = vec![run(moto, dir.path(), &cache, plugin, APPLY)];
            steps.push(run(moto, dir.path(), &cache, plugin, PLAN));
            std::fs::write(&file, spec(vpcs(plugin, true))).unwrap();
            steps.push(run(moto, dir.path(), &cache, plugin, APPLY));
            steps.push(run(moto, dir.path(), &cache, plugin, DESTROY));
            if round == 0 {
                continue; // warm-up: the compiled module cached, moto's backends awake
            }
            for (i, (time, n)) in steps.into_iter().enumerate() {
                times[i].push(time);
                requests[i] = n;
            }
        }
        let cells: Vec<String> = times
            .into_iter()
            .zip(requests)
            .map(|(t, n)| format!("{:.0} ms, {:.1}", median_ms(t), n as f64 / N as f64))
            .collect();
        let _ = writeln!(report, "| {plugin} | {} |", cells.join(" | "));
    }
}

/// A no-op plan of `count` queues: requests and time of the refresh (ListResources pages
/// where the batch is large enough, GetResource otherwise).
fn many_reads(moto: &Moto, rounds: usize, report: &mut String) {
    let _ = writeln!(
        report,
        "\n## Refreshing many queues ({rounds} rounds, medians)\n\n| queues | no-op plan | requests |\n| ---: | ---: | ---: |"
    );
    let cache = common::cache_dir();
    for count in [10, 100] {
        let queues: serde_json::Map<String, Value> = (0..count)
            .map(|i| {
                let q = json!({"Plugin": "awscc", "Type": "AWS::SQS::Queue",
                               "Properties": {"QueueName": format!("many-{count}-{i}")}});
                (format!("Q{i}"), q)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.json"), spec(queues.into())).unwrap();
        run(moto, dir.path(), &cache, "awscc", APPLY);
        let (mut times, mut requests) = (Vec::new(), 0);
        for _ in 0..rounds {
            let (time, n) = run(moto, dir.path(), &cache, "awscc", PLAN);
            times.push(time);
            requests = n;
        }
        run(moto, dir.path(), &cache, "awscc", DESTROY);
        let _ = writeln!(
            report,
            "| {count} | {:.0} ms | {requests} |",
            median_ms(times)
        );
    }
}

fn main() {
    let rounds = common::rounds(5);
    let moto = Moto::with_cloud_control(&[]);
    let mut report = String::from("# awscc against aws\n\n");
    loading(&moto, rounds, &mut report);
    operations(&moto, rounds, &mut report);
    many_reads(&moto, rounds, &mut report);
    print!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("awscc.md"), report).unwrap();
}
