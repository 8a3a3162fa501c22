//! Policy evaluation at scale: the example policies (`examples/policies/`, every one of
//! them) checked against plans of N changes (default 1,000 and 10,000 creates of the `null`
//! provider's resources), beside the plan's own time. Measured: `plan` without policies,
//! `plan` with them, the check alone (`Session::check`: the input document built,
//! converted and every package's `deny` and `warn` evaluated), and the same policies on an
//! input document of N AWS changes as the `awscc` provider plans them (instances, security
//! groups with ingress rules, buckets, volumes, DB instances, every one tagged), where every
//! policy's rules match and walk their properties.
//!
//! Run with `cargo providers && cargo bench -p rkit --bench policy [-- N...]` (or `--
//! --packages`: each example policy alone; `-- --floor`: the document's conversion and one
//! rule). Prints a Markdown table.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use rkit::engine::{PlanOptions, PolicyRun, ProviderArg, Session};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn spec(n: usize) -> serde_json::Value {
    let mut resources = serde_json::Map::new();
    for i in 0..n {
        let input = if i == 0 {
            json!("root")
        } else {
            json!("{{.Resources.R0.ID}}")
        };
        resources.insert(
            format!("R{i}"),
            json!({"Plugin": "null", "Type": "Null", "Properties": {"Input": input}}),
        );
    }
    json!({ "Parameters": {"Env": {"Default": "dev"}}, "Resources": resources })
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

async fn timed_plan(s: &mut Session) -> (Duration, rkit::engine::Plan) {
    let started = Instant::now();
    s.validate().await.unwrap();
    let plan = s.plan(&PlanOptions::default()).await.unwrap();
    (started.elapsed(), plan)
}

async fn measure(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("policy.json");
    std::fs::write(&spec_path, spec(n).to_string()).unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");

    let mut plain = session(&spec_path).await;
    let (bare, _) = timed_plan(&mut plain).await;
    drop(plain);

    let s = session(&spec_path).await;
    let source = rkit::policy::Source::at(examples.to_str().unwrap());
    let silent: rkit::engine::Events = std::sync::Arc::new(rkit::engine::Silent);
    let policies = rkit::engine::load_policies(s.spec(), &[source], false, &silent)
        .await
        .unwrap();
    let packages = policies.packages().len();
    let mut s = s.with_policies(PolicyRun {
        policies,
        who: "bench".into(),
        ..Default::default()
    });
    let (with, mut plan) = timed_plan(&mut s).await;
    assert_eq!(plan.counts().create, n);
    let mut checks = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        s.check(&mut plan, "plan").unwrap();
        checks.push(started.elapsed());
    }
    checks.sort();
    let check = checks[checks.len() / 2];
    let aws = aws_check(s.policies(), n);
    println!(
        "| {n} | {packages} | {:.3} | {:.3} | {:.3} ({:.1}%) | {:.3} ({:.1}%) |",
        bare.as_secs_f64(),
        with.as_secs_f64(),
        check.as_secs_f64(),
        check.as_secs_f64() * 100.0 / bare.as_secs_f64(),
        aws.as_secs_f64(),
        aws.as_secs_f64() * 100.0 / bare.as_secs_f64()
    );
}

/// One AWS change of kind `i % 5`, as `awscc` plans it.
fn aws_change(i: usize) -> serde_json::Value {
    let tags = json!([{"Key": "owner", "Value": "web"}, {"Key": "cost-center", "Value": "42"}]);
    let (ty, after) = match i % 5 {
        0 => (
            "AWS::EC2::Instance",
            json!({"InstanceType": "t3.micro", "ImageId": "ami-1",
            "SubnetId": null, "Monitoring": true, "Tags": tags}),
        ),
        1 => (
            "AWS::EC2::SecurityGroup",
            json!({"GroupDescription": "web", "VpcId": "vpc-1",
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}],
            "Tags": tags}),
        ),
        2 => (
            "AWS::S3::Bucket",
            json!({"BucketName": format!("b-{i}"),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true,
                "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
            "Tags": tags}),
        ),
        3 => (
            "AWS::EC2::Volume",
            json!({"AvailabilityZone": "us-east-1a", "Size": 20,
            "Encrypted": true, "Tags": tags}),
        ),
        _ => (
            "AWS::RDS::DBInstance",
            json!({"DBInstanceClass": "db.t3.micro", "Engine": "postgres",
            "StorageEncrypted": true, "BackupRetentionPeriod": 7, "DeletionProtection": true,
            "MasterUserPassword": "(sensitive)", "MonitoringInterval": 60, "Tags": tags}),
        ),
    };
    json!({"address": format!("R{i}"), "name": format!("R{i}"), "type": ty, "plugin": "awscc",
        "change": {"actions": ["create"], "before": null, "after": after,
            "after_unknown": {"SubnetId": true}, "sensitive": ["MasterUserPassword"],
            "replace_paths": []}})
}

/// The policies on `n` AWS changes (median of 5): the document converted and evaluated.
fn aws_check(policies: &rkit::policy::Policies, n: usize) -> Duration {
    let changes: Vec<_> = (0..n).map(aws_change).collect();
    let doc = json!({
        "rkit": {"version": "0.1.0", "operation": "plan"}, "stack": "web",
        "who": {"name": "bench@host", "user": "bench", "host": "host"},
        "parameters": {"Env": "dev"}, "resource_changes": changes,
        "providers": {"awscc": {"source": "awscc.wasm", "name": "awscc", "version": "0.1.0",
            "digest": "sha256:0", "config": {"Region": "us-east-1"},
            "capabilities": {"http_hosts": ["https://cloudcontrolapi.us-east-1.amazonaws.com"],
                "api_actions": ["cloudformation:CreateResource"], "credentials": ["aws"],
                "resource_types": ["AWS::*"], "filesystem": false, "memory_mib": 64},
            "grants": {}}},
    });
    let mut times = Vec::new();
    for _ in 0..5 {
        let input = rkit::policy::Input {
            masked: doc.clone(),
            revealed: None,
        };
        let started = Instant::now();
        let verdict = policies.evaluate(&input).unwrap();
        times.push(started.elapsed());
        assert!(verdict.passed(), "{:?}", verdict.findings.first());
    }
    times.sort();
    times[2]
}

/// With `--packages`: each example policy alone on 1,000 AWS changes.
fn per_package() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    let mut names: Vec<_> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .filter(|p| !p.to_string_lossy().ends_with("_test.rego"))
        .collect();
    names.sort();
    for path in names {
        let files =
            rkit::policy::load::read_files(&path, &path.display().to_string(), false).unwrap();
        let policies = rkit::policy::Policies::new(files).unwrap();
        let took = aws_check(&policies, 1_000);
        println!(
            "| {} | {:.1} ms |",
            path.file_name().unwrap().to_string_lossy(),
            took.as_secs_f64() * 1e3
        );
    }
}

/// With `--floor`: what any policy pays on N AWS changes: the document converted to the
/// interpreter's values, and one rule that looks at every change's type and matches none.
fn floor(n: usize) {
    let changes: Vec<_> = (0..n).map(aws_change).collect();
    let doc = json!({"resource_changes": changes});
    let started = Instant::now();
    let _value = regorus::Value::from(doc.clone());
    let convert = started.elapsed();
    let started = Instant::now();
    let text = serde_json::to_string(&doc).unwrap();
    let _value = regorus::Value::from_json_str(&text).unwrap();
    let via_text = started.elapsed();
    let file = rkit::policy::load::File {
        name: "floor.rego".into(),
        text: "package floor\ndeny contains rc.name if {\n  some rc in input.resource_changes\n  rc.type == \"none\"\n}\n".into(),
        sensitive: false,
        origin: String::new(),
    };
    let policies = rkit::policy::Policies::new(vec![file]).unwrap();
    let input = rkit::policy::Input {
        masked: doc,
        revealed: None,
    };
    let started = Instant::now();
    policies.evaluate(&input).unwrap();
    println!(
        "| {n} | convert {:.1} ms (through text {:.1} ms) | convert + one rule {:.1} ms |",
        convert.as_secs_f64() * 1e3,
        via_text.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
}

fn main() {
    if std::env::args().any(|a| a == "--floor") {
        floor(1_000);
        floor(10_000);
        return;
    }
    if std::env::args().any(|a| a == "--packages") {
        per_package();
        return;
    }
    let mut sizes: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000];
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| changes | policies | plan without (s) | plan with (s) | check alone (s; of plan) | on N AWS changes (s; of plan) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        runtime.block_on(measure(n));
    }
}
