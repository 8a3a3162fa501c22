//! A provider written in Python (`providers/etcd`, on `providers/sdk-python`), end to end:
//! the real `rkit` binary against Debian's etcd on loopback, what etcd holds checked with
//! `etcdctl`. Apply, no-op plan, update in place, replace, drift under an owned prefix,
//! adoption after a lost state, a conflict with a key someone else owns, destroy; the SDK's
//! field-named errors and its unit tests.

use crate::common;

use common::etcd::Etcd;
use common::stack::Stack;
use serde_json::{Value, json};

fn write(stack: &Stack, etcd: &Etcd, resources: Value) {
    let spec = json!({
        "Providers": {"etcd": {
            "Source": common::provider_wasm("etcd"),
            "Config": {"Endpoint": etcd.endpoint},
            "Grants": {"Http": [etcd.endpoint]},
        }},
        "Resources": resources,
    });
    std::fs::write(stack.spec_path(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

fn key(name: &str, value: &str) -> Value {
    json!({"Plugin": "etcd", "Type": "Key", "Properties": {"Key": name, "Value": value}})
}

fn summary(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("Apply complete") || l.starts_with("Destroy complete"))
        .unwrap_or_default()
}

#[test]
fn an_etcd_stack_in_python_applies_updates_replaces_repairs_and_destroys() {
    let etcd = Etcd::start();
    let stack = Stack::new();
    write(
        &stack,
        &etcd,
        json!({
            "Greeting": key("/app/greeting", "hello"),
            "Session": {"Plugin": "etcd", "Type": "Key",
                        "Properties": {"Key": "/app/session", "Value": "s1", "LeaseTtl": 600}},
            "Config": {"Plugin": "etcd", "Type": "Prefix",
                       "Properties": {"Prefix": "/config/", "Keys": {"a": "1", "b": "2"}}},
            "Copy": key("/app/copy", "lease {{.Resources.Session.Attributes.Lease}}"),
        }),
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        summary(&out).starts_with("Apply complete: 4 created"),
        "{out}"
    );
    assert_eq!(etcd.get("/app/greeting").as_deref(), Some("hello"));
    assert_eq!(etcd.get("/app/session").as_deref(), Some("s1"));
    assert_eq!(
        etcd.under("/config/"),
        [
            ("/config/a".into(), "1".into()),
            ("/config/b".into(), "2".into())
        ]
    );
    // The session key hangs on a lease of 600 s.
    let leases = etcd.ctl(&["lease", "list"]);
    assert!(leases.contains("found 1 leases"), "{leases}");
    // A reference to a computed attribute: the session's lease.
    let lease = etcd.get("/app/copy").unwrap();
    assert!(
        lease
            .strip_prefix("lease ")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0,
        "{lease}"
    );
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));

    // In place: a value; replaced: a key's name (force-new).
    write(
        &stack,
        &etcd,
        json!({
            "Greeting": key("/app/greeting", "bonjour"),
            "Session": {"Plugin": "etcd", "Type": "Key",
                        "Properties": {"Key": "/app/session2", "Value": "s1", "LeaseTtl": 600}},
            "Config": {"Plugin": "etcd", "Type": "Prefix",
                       "Properties": {"Prefix": "/config/", "Keys": {"a": "1", "b": "2"}}},
            "Copy": key("/app/copy", "lease {{.Resources.Session.Attributes.Lease}}"),
        }),
    );
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains("Session") && plan.contains("replace"),
        "{plan}"
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        summary(&out).contains("1 replaced") && summary(&out).contains("2 updated"),
        "{out}"
    );
    assert_eq!(etcd.get("/app/greeting").as_deref(), Some("bonjour"));
    assert_eq!(etcd.get("/app/session"), None);
    assert_eq!(etcd.get("/app/session2").as_deref(), Some("s1"));
    // The replacement's new lease reached what uses it, in the same apply.
    assert_ne!(etcd.get("/app/copy").unwrap(), lease);
    // The old session's lease was revoked with its key.
    assert!(etcd.ctl(&["lease", "list"]).contains("found 1 leases"));

    // Drift: someone adds a key under the owned prefix and changes another.
    etcd.ctl(&["put", "/config/intruder", "x"]);
    etcd.ctl(&["put", "/config/a", "changed"]);
    etcd.ctl(&["put", "/app/greeting", "hacked"]);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains("Config") && plan.contains("Greeting") && plan.contains("update"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(
        etcd.under("/config/"),
        [
            ("/config/a".into(), "1".into()),
            ("/config/b".into(), "2".into())
        ]
    );
    assert_eq!(etcd.get("/app/greeting").as_deref(), Some("bonjour"));
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));

    // Drift the SDK reports by leaving a property out: the session key rewritten without its
    // lease. Absent is unset: the plan sees the lost lease, predicts no dependent's value from
    // the drifted one, one apply repairs it (the detached lease released, not leaked) and the
    // next plan is clean.
    let copied = etcd.get("/app/copy").unwrap();
    etcd.ctl(&["put", "/app/session2", "s1"]);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("LeaseTtl: (none) => 600"), "{plan}");
    assert!(
        plan.contains("~ Copy") && plan.contains("(known after apply)"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(etcd.ctl(&["lease", "list"]).contains("found 1 leases"));
    assert_ne!(
        etcd.get("/app/copy").unwrap(),
        copied,
        "the copy names the new lease"
    );
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));

    // The state lost: the next apply finds its objects by their tags, creates nothing twice.
    std::fs::remove_file(stack.dir.path().join("stack.rkit-state.json")).unwrap();
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    for id in ["/config/", "/app/session2", "/app/copy", "/app/greeting"] {
        assert!(out.contains(&format!("adopted [{id}]")), "{out}");
    }
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));
    assert_eq!(
        stack.state()["Resources"].as_object().unwrap().len(),
        4,
        "{out}"
    );

    let out = stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(summary(&out).contains("4 deleted; 0 failed"), "{out}");
    assert!(etcd.under("/app/").is_empty());
    assert!(etcd.under("/config/").is_empty());
    assert!(
        etcd.under("/.rkit-tags/").is_empty(),
        "tags removed with their objects"
    );
    assert!(etcd.ctl(&["lease", "list"]).contains("found 0 leases"));
}

#[test]
fn a_key_someone_else_owns_is_never_overwritten_and_errors_name_the_field() {
    let etcd = Etcd::start();
    let stack = Stack::new();
    etcd.ctl(&["put", "/theirs", "keep me"]);
    write(&stack, &etcd, json!({"Mine": key("/theirs", "overwrite")}));
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("/theirs already exists in etcd (owned by nobody known)"),
        "{out}"
    );
    assert_eq!(etcd.get("/theirs").as_deref(), Some("keep me"));

    write(
        &stack,
        &etcd,
        json!({
            "Bad": {"Plugin": "etcd", "Type": "Key",
                    "Properties": {"Key": "/k", "Value": 7, "LeaseTtl": 0}},
            "Unknown": {"Plugin": "etcd", "Type": "Key",
                        "Properties": {"Key": "/k2", "Value": "v", "Colour": "red"}},
            "Owner": {"Plugin": "etcd", "Type": "Prefix", "Properties": {"Prefix": "/"}},
        }),
    );
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(
        out.contains("Value: expected a string, found a number"),
        "{out}"
    );
    assert!(
        out.contains("Colour: unknown property 'Colour' (known: Key, Value, LeaseTtl)"),
        "{out}"
    );
    assert!(
        out.contains("overlaps /.rkit-tags/, where rkit keeps tags"),
        "{out}"
    );
    assert!(etcd.under("/k").is_empty());
}

/// The Python `Null` type (the benchmark's, `providers/testing/null-python`) applies and
/// plans like the Rust one.
#[test]
fn the_python_null_type_applies_and_plans_no_changes() {
    let stack = Stack::new();
    let resources: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            (
                format!("R{i}"),
                json!({"Plugin": "null-python", "Type": "Null", "Properties": {"Input": {"n": i}}}),
            )
        })
        .collect();
    let spec = json!({
        "Providers": {"null-python": {"Source": common::provider_wasm("null-python")}},
        "Resources": resources,
        "Outputs": {"Seven": "{{.Resources.R7.Attributes.Output}}"},
    });
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        summary(&out).starts_with("Apply complete: 20 created"),
        "{out}"
    );
    assert_eq!(
        stack.expect(0, &["output", "SPEC", "Seven"]).trim(),
        "{\"n\":7}"
    );
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));
}

#[test]
fn the_python_sdk_unit_tests_pass() {
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/sdk-python");
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests", "-v"])
        .current_dir(&sdk)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");
}
