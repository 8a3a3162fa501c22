//! Providers written in JavaScript (`providers/sdk-js`, componentize-js), end to end through
//! the real `rkit` binary: the `Null` type of `providers/testing/null-js` applies, plans no
//! changes and refuses properties it does not know, naming the field; the SDK's unit tests.

use crate::common;

use common::stack::Stack;
use serde_json::{Value, json};

fn write(stack: &Stack, resources: Value) {
    let spec = json!({
        "Providers": {"null-js": {"Source": common::provider_wasm("null-js")}},
        "Resources": resources,
        "Outputs": {"Seven": "{{.Resources.R7.Attributes.Output}}"},
    });
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
}

#[test]
fn the_js_null_type_applies_plans_and_names_bad_fields() {
    let stack = Stack::new();
    let mut resources: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            (
                format!("R{i}"),
                json!({"Plugin": "null-js", "Type": "Null", "Properties": {"Input": {"n": i}}}),
            )
        })
        .collect();
    resources.insert(
        "Bad".into(),
        json!({"Plugin": "null-js", "Type": "Null", "Properties": {"Colour": 1}}),
    );
    write(&stack, Value::Object(resources.clone()));
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(
        out.contains("unknown property 'Colour' (known: Input)"),
        "{out}"
    );
    resources.remove("Bad");
    write(&stack, Value::Object(resources));
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Apply complete: 20 created"), "{out}");
    assert_eq!(
        stack.expect(0, &["output", "SPEC", "Seven"]).trim(),
        "{\"n\":7}"
    );
    assert!(stack.expect(0, &["plan", "SPEC"]).contains("No changes"));
    let out = stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(out.contains("20 deleted"), "{out}");
}

#[test]
fn the_js_sdk_unit_tests_pass() {
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/sdk-js");
    let out = std::process::Command::new("node")
        .args(["--test", "test/"])
        .current_dir(&sdk)
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("# fail 0"), "{text}");
}

/// The S3 provider in JavaScript (`providers/s3`) against moto's S3: it holds no secret (rkit
/// signs its requests at the gate and lets through only its declared S3 actions); what the
/// bucket holds is checked with boto3.
#[test]
fn the_js_s3_provider_manages_buckets_and_objects_signed_by_rkit() {
    let moto = common::moto::Moto::start();
    let stack = Stack::new();
    let bucket = |versioning: bool, tags: Value, policy: Option<Value>| {
        let mut p = json!({"Name": "rkit-site", "Versioning": versioning, "Tags": tags});
        if let Some(policy) = policy {
            p["Policy"] = policy;
        }
        json!({"Plugin": "s3", "Type": "Bucket", "Properties": p})
    };
    let object = |key: &str, content: &str| {
        json!({"Plugin": "s3", "Type": "Object", "Properties": {
            "Bucket": "{{.Resources.Site.ID}}", "Key": key, "Content": content,
            "ContentType": "text/html"}})
    };
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::rkit-site"}]});
    let write = |resources: Value| {
        let spec = json!({
            "Providers": {"s3": {"Source": common::provider_wasm("s3")}},
            "Resources": resources,
        });
        std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    };
    let env: Vec<(String, String)> = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = |code: i32, args: &[&str]| stack.expect_with(code, args, &env);
    let buckets = || moto.emulator_with(&["buckets"]);

    write(json!({
        "Site": bucket(true, json!({"team": "web"}), Some(policy.clone())),
        "Index": object("index.html", "<h1>hi</h1>"),
    }));
    let out = run(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Apply complete: 2 created"), "{out}");
    assert!(
        out.contains("its requests to") && out.contains("are signed by rkit; it never sees a key"),
        "{out}"
    );
    let site = &buckets()["rkit-site"];
    assert_eq!(site["versioning"], "Enabled");
    assert_eq!(site["tags"]["team"], "web");
    assert_eq!(site["tags"]["rkit:name"], "Site");
    assert_eq!(site["policy"], policy);
    let index = &site["objects"]["index.html"];
    assert_eq!(
        (&index["content"], &index["content_type"]),
        (&json!("<h1>hi</h1>"), &json!("text/html"))
    );
    assert_eq!(index["tags"]["rkit:name"], "Index");
    assert!(run(0, &["plan", "SPEC"]).contains("No changes"));

    // In place: versioning suspended, tags, policy removed, content; replaced: the key.
    write(json!({
        "Site": bucket(false, json!({"team": "edge"}), None),
        "Index": object("home.html", "<h1>hello</h1>"),
    }));
    let out = run(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("1 updated, 1 replaced"), "{out}");
    let site = &buckets()["rkit-site"];
    assert_eq!(site["versioning"], "Suspended");
    assert_eq!(site["tags"]["team"], "edge");
    assert_eq!(site["policy"], Value::Null);
    let keys: Vec<&String> = site["objects"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["home.html"]);

    // Drift: the object changed behind rkit's back is put back.
    moto.emulator_with(&["put-object", "rkit-site", "home.html", "defaced"]);
    let plan = run(0, &["plan", "SPEC"]);
    assert!(plan.contains("Index") && plan.contains("update"), "{plan}");
    run(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(
        buckets()["rkit-site"]["objects"]["home.html"]["content"],
        "<h1>hello</h1>"
    );

    // A bucket someone else made is never taken over.
    moto.emulator_with(&["bucket", "theirs-bucket"]);
    write(json!({
        "Site": bucket(false, json!({"team": "edge"}), None),
        "Index": object("home.html", "<h1>hello</h1>"),
        "Theirs": {"Plugin": "s3", "Type": "Bucket", "Properties": {"Name": "theirs-bucket"}},
    }));
    let out = run(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("bucket theirs-bucket already exists (owned by nobody known)"),
        "{out}"
    );

    // An object rkit does not manage is in the bucket: not deleted without ForceDestroy, and
    // said so (a current object, so that every S3 refuses DeleteBucket).
    moto.emulator_with(&["put-object", "rkit-site", "stray.txt", "not rkit's"]);
    let out = run(1, &["destroy", "SPEC", "--yes"]);
    assert!(
        out.contains(
            "bucket rkit-site is not empty (objects, or old versions of them): delete them, or \
             set ForceDestroy"
        ),
        "{out}"
    );
    assert!(buckets().get("theirs-bucket").is_some());

    // ForceDestroy empties a versioned bucket (every version) and deletes it.
    let logs = Stack::new();
    let spec = |content: &str| {
        json!({
            "Stack": "logs",
            "Providers": {"s3": {"Source": common::provider_wasm("s3")}},
            "Resources": {
                "Logs": {"Plugin": "s3", "Type": "Bucket", "Properties": {
                    "Name": "rkit-logs", "Versioning": true, "ForceDestroy": true}},
                "Day": {"Plugin": "s3", "Type": "Object", "Properties": {
                    "Bucket": "{{.Resources.Logs.ID}}", "Key": "day.log", "Content": content}},
            },
        })
        .to_string()
    };
    let run_logs = |args: &[&str]| logs.expect_with(0, args, &env);
    std::fs::write(logs.spec_path(), spec("one")).unwrap();
    run_logs(&["apply", "SPEC", "--yes"]);
    std::fs::write(logs.spec_path(), spec("two")).unwrap();
    run_logs(&["apply", "SPEC", "--yes"]);
    assert_eq!(
        buckets()["rkit-logs"]["objects"]["day.log"]["content"],
        "two"
    );
    run_logs(&["destroy", "SPEC", "--yes"]);
    assert!(buckets().get("rkit-logs").is_none());
}
