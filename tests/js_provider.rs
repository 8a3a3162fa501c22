//! Providers written in JavaScript (`providers/sdk-js`, componentize-js), end to end through
//! the real `rkit` binary: the `Null` type of `providers/testing/null-js` applies, plans no
//! changes and refuses properties it does not know, naming the field; the SDK's unit tests.

mod common;

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
