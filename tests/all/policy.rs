//! Policy as code through the real binary: a mandatory policy blocks an apply (nothing is
//! created), an advisory one warns, an override is recorded in the state and shown; a saved
//! plan made before a policy was added is refused at apply; a converge tick reports drift
//! that breaks a policy; a provider asking for a forbidden capability is refused at
//! approval; a bundle from an OCI registry is verified by signature and pinned in the lock;
//! `policy test` runs the examples' tests; a policy that does not parse names file:line:col.

use crate::common;

use common::stack::{Stack, file};
use serde_json::{Value, json};

/// No file under `secrets/` (mandatory).
const NO_SECRETS: &str = r#"package team.paths
enforcement := "mandatory"
deny contains {"msg": sprintf("%s: Path %s is under secrets/", [rc.name, rc.change.after.Path]), "resource": rc.name, "field": "Path"} if {
    some rc in input.resource_changes
    rc.change.actions != ["delete"]
    startswith(rc.change.after.Path, "secrets/")
}
"#;

/// Files are not empty (advisory).
const NOT_EMPTY: &str = r#"package team.content
enforcement := "advisory"
deny contains sprintf("%s: Content is empty", [rc.name]) if {
    some rc in input.resource_changes
    rc.change.after.Content == ""
}
warn contains sprintf("%s: no trailing newline", [rc.name]) if {
    some rc in input.resource_changes
    is_string(rc.change.after.Content)
    not endswith(rc.change.after.Content, "\n")
}
"#;

/// No "TODO" in a file (overridable).
const NO_TODO: &str = r#"package team.todo
enforcement := "overridable"
deny contains {"msg": sprintf("%s: Content holds a TODO", [rc.name]), "resource": rc.name, "field": "Content"} if {
    some rc in input.resource_changes
    rc.change.actions != ["delete"]
    contains(rc.change.after.Content, "TODO")
}
"#;

/// Writes `policies` (name, text) into the stack's `policies/` and a spec using them.
fn with_policies(stack: &Stack, resources: Value, policies: &[(&str, &str)]) {
    let dir = stack.dir.path().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in policies {
        std::fs::write(dir.join(name), text).unwrap();
    }
    stack.write(resources, json!({}));
    let mut spec: Value =
        serde_json::from_slice(&std::fs::read(stack.spec_path()).unwrap()).unwrap();
    spec["Policies"] = json!(["policies/"]);
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
}

#[test]
fn mandatory_blocks_advisory_warns_and_an_override_is_recorded() {
    let stack = Stack::new();
    let spec = json!({"Key": file("secrets/key.pem", "k"), "Note": file("note.txt", "")});
    with_policies(
        &stack,
        spec,
        &[("paths.rego", NO_SECRETS), ("content.rego", NOT_EMPTY)],
    );
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("✗ [mandatory] team.paths: Key: Path secrets/key.pem is under secrets/"),
        "{out}"
    );
    assert!(out.contains("this apply is refused by 1 policy"), "{out}");
    assert!(!stack.out("note.txt").exists(), "nothing is created");
    assert!(!stack.out("secrets/key.pem").exists(), "nothing is created");
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(out.contains("This plan cannot be applied."), "{out}");

    // A mandatory policy cannot be overridden.
    let out = stack.expect(
        1,
        &[
            "apply",
            "SPEC",
            "--yes",
            "--override",
            "team.paths",
            "--reason",
            "x",
        ],
    );
    assert!(
        out.contains("--override team.paths: the policy is mandatory: it cannot be overridden"),
        "{out}"
    );

    // Advisory: shown, applied.
    let spec = json!({"Note": file("note.txt", ""), "Todo": file("todo.txt", "TODO\n")});
    with_policies(&stack, spec, &[("todo.rego", NO_TODO)]);
    std::fs::remove_file(stack.dir.path().join("policies/paths.rego")).unwrap();
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("! [advisory] team.content: Note: Content is empty"),
        "{out}"
    );
    assert!(
        out.contains("! [warn] team.content: Note: no trailing newline"),
        "{out}"
    );
    assert!(
        out.contains("✗ [overridable] team.todo: Todo: Content holds a TODO"),
        "{out}"
    );
    assert!(!stack.out("note.txt").exists() && !stack.out("todo.txt").exists());

    // Overridden with a reason: applied, and recorded with who, when and why.
    let out = stack.expect(1, &["apply", "SPEC", "--yes", "--override", "team.todo"]);
    assert!(out.contains("--reason"), "{out}");
    let out = stack.expect_with(
        0,
        &[
            "apply",
            "SPEC",
            "--yes",
            "--override",
            "team.todo",
            "--reason",
            "ticket 42",
        ],
        &[("RKIT_WHO", "alice")],
    );
    assert!(out.contains("[overridable, overridden] team.todo"), "{out}");
    assert!(stack.out("todo.txt").exists());
    let state = stack.state();
    let history = &state["PolicyOverrides"][0];
    assert_eq!(history["Policy"], "team.todo");
    assert_eq!(history["Reason"], "ticket 42");
    assert_eq!(history["Who"], "alice");
    assert_eq!(history["Messages"], json!(["Todo: Content holds a TODO"]));
    assert!(history["At"].as_str().unwrap().starts_with("20"));
    let out = stack.expect(0, &["show", "SPEC"]);
    assert!(
        out.contains("team.todo overridden by alice at "),
        "show lists the override: {out}"
    );
    assert!(out.contains("ticket 42"), "{out}");
}

#[test]
fn a_saved_plan_made_before_a_policy_was_added_is_refused_at_apply() {
    let stack = Stack::new();
    stack.write(json!({"Todo": file("todo.txt", "TODO\n")}), json!({}));
    let plan = stack.dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    stack.expect(0, &["plan", "SPEC", "--out", plan]);
    with_policies(
        &stack,
        json!({"Todo": file("todo.txt", "TODO\n")}),
        &[("todo.rego", NO_TODO)],
    );
    let out = stack.expect(1, &["apply", plan]);
    assert!(out.contains("this apply is refused by 1 policy"), "{out}");
    // An override made at plan time is not taken from the file: only from the run.
    let overridden = stack.dir.path().join("overridden.json");
    let overridden = overridden.to_str().unwrap();
    let args = [
        "plan",
        "SPEC",
        "--override",
        "team.todo",
        "--reason",
        "r",
        "--out",
        overridden,
    ];
    stack.expect(0, &args);
    let out = stack.expect(1, &["apply", overridden]);
    assert!(out.contains("this apply is refused by 1 policy"), "{out}");
    assert!(
        out.contains("team.todo: Todo: Content holds a TODO"),
        "{out}"
    );
    assert!(!stack.out("todo.txt").exists());
    let out = stack.expect(1, &["policy", "check", plan]);
    assert!(out.contains("Policies: 1 checked, 1 blocking"), "{out}");
    // `--policy` binds a saved plan too, and `--override` lets it through.
    let out = stack.expect(
        0,
        &[
            "apply",
            plan,
            "--override",
            "team.todo",
            "--reason",
            "accepted",
        ],
    );
    assert!(out.contains("Apply complete"), "{out}");
}

#[test]
fn a_converge_tick_reports_drift_that_breaks_a_policy() {
    let stack = Stack::new();
    with_policies(
        &stack,
        json!({"Note": file("note.txt", "fine\n")}),
        &[("todo.rego", NO_TODO)],
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    std::fs::write(stack.out("note.txt"), "TODO: later\n").unwrap();
    let out = stack.expect(
        2,
        &["converge", "SPEC", "--once", "--observe-only", "--json"],
    );
    let findings: Vec<Value> = common::json_lines(&out)
        .into_iter()
        .filter(|l| l["type"] == "policy_finding")
        .collect();
    assert_eq!(findings.len(), 1, "{out}");
    assert_eq!(findings[0]["operation"], "converge");
    assert_eq!(findings[0]["finding"]["Resource"], "Note");
    assert_eq!(findings[0]["@level"], "error");
    let out = stack.expect(2, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(
        out.contains("policy in reality: [overridable] team.todo: Note: Content holds a TODO"),
        "{out}"
    );
    // Repaired, reality passes again.
    stack.expect(0, &["converge", "SPEC", "--once"]);
    let out = stack.expect(0, &["converge", "SPEC", "--once", "--json"]);
    assert!(!out.contains("policy_finding"), "{out}");
}

#[test]
fn a_provider_asking_for_a_forbidden_capability_is_refused_at_approval() {
    let stack = Stack::new();
    let forbid = r#"package team.capabilities
deny contains sprintf("provider %s asks for a host directory", [name]) if {
    some name, p in input.providers
    p.capabilities.filesystem
}
"#;
    with_policies(
        &stack,
        json!({"F": file("f.txt", "x")}),
        &[("caps.rego", forbid)],
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("provider local is refused by 1 policy"),
        "{out}"
    );
    assert!(
        out.contains("[mandatory] team.capabilities: provider local asks for a host directory"),
        "{out}"
    );
    assert!(
        !stack.dir.path().join("rkit.lock").exists(),
        "nothing is approved"
    );
}

#[test]
fn a_policy_that_does_not_parse_names_its_file_line_and_column() {
    let stack = Stack::new();
    let bad = "package bad\n\ndeny contains msg if {\n  msg := \n}\n";
    with_policies(
        &stack,
        json!({"F": file("f.txt", "x")}),
        &[("bad.rego", bad)],
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains(
            "policies/bad.rego: not a valid Rego policy: policies/bad.rego:4:7: expecting `}` while parsing set"
        ),
        "{out}"
    );
}

#[test]
fn the_example_policies_pass_their_own_tests() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    let stack = Stack::new();
    let out = stack.expect(0, &["policy", "test", examples.to_str().unwrap()]);
    let line = out.lines().last().unwrap();
    assert!(line.starts_with("PASS: "), "{out}");
    let passed: usize = line["PASS: ".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(passed >= 20, "{out}");

    // A failing test fails the command, naming it.
    let dir = stack.dir.path().join("failing");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.rego"), NO_TODO).unwrap();
    std::fs::write(
        dir.join("p_test.rego"),
        "package team.todo\ntest_wrong if { count(deny) == 0 with input as \
         {\"resource_changes\": [{\"name\": \"A\", \"change\": {\"actions\": [\"create\"], \
         \"after\": {\"Content\": \"TODO\"}}}]} }\n",
    )
    .unwrap();
    let out = stack.expect(1, &["policy", "test", dir.to_str().unwrap()]);
    assert!(out.contains("FAIL data.team.todo.test_wrong"), "{out}");
    assert!(out.contains("FAIL: 0/1 tests passed"), "{out}");
}

#[test]
fn a_bundle_from_a_registry_is_verified_by_signature_and_pinned_in_the_lock() {
    let registry = common::registry::Registry::start();
    let stack = Stack::new();
    let dir = stack.dir.path();
    stack.expect(
        0,
        &["provider", "keygen", dir.join("alice").to_str().unwrap()],
    );
    let alice = std::fs::read_to_string(dir.join("alice.pub")).unwrap();
    let alice = alice.trim();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("todo.rego"), NO_TODO).unwrap();
    let reference = format!("{}/team/policies:v1", registry.host);
    let key = dir.join("alice.key");
    let b = bundle.to_str().unwrap();
    stack.expect(
        0,
        &[
            "policy",
            "publish",
            b,
            &reference,
            "--sign",
            key.to_str().unwrap(),
        ],
    );

    stack.write(json!({"Todo": file("todo.txt", "TODO\n")}), json!({}));
    let mut spec: Value =
        serde_json::from_slice(&std::fs::read(stack.spec_path()).unwrap()).unwrap();
    spec["Policies"] = json!([{"Source": reference, "TrustedKeys": ["ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}]);
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains(&format!("policy bundle {reference} is refused")),
        "{out}"
    );

    spec["Policies"] = json!([{"Source": reference, "TrustedKeys": [alice]}]);
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("[overridable] team.todo: Todo: Content holds a TODO"),
        "{out}"
    );
    let lock: Value =
        serde_json::from_slice(&std::fs::read(dir.join("rkit.lock")).unwrap()).unwrap();
    let pin = &lock["Policies"][&reference];
    assert_eq!(pin["Signer"], alice);
    assert!(
        pin["ManifestDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // The tag moved to other content (signed by the same key): the pin holds the old one.
    std::fs::write(bundle.join("todo.rego"), NO_TODO.replace("TODO", "FIXME")).unwrap();
    stack.expect(
        0,
        &[
            "policy",
            "publish",
            b,
            &reference,
            "--sign",
            key.to_str().unwrap(),
        ],
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("Content holds a TODO"),
        "the pinned bundle still loads: {out}"
    );
    // A directory named like a reference never stands in for the bundle.
    let lookalike = format!("{}/team/lookalike:v1", registry.host);
    std::fs::create_dir_all(dir.join(&lookalike)).unwrap();
    std::fs::write(dir.join(&lookalike).join("allow.rego"), "package allow\n").unwrap();
    spec["Policies"] = json!([lookalike]);
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(out.contains("the registry has no such tag"), "{out}");
    // An unsigned bundle is refused.
    let unsigned = format!("{}/team/unsigned:v1", registry.host);
    stack.expect(0, &["policy", "publish", b, &unsigned]);
    spec["Policies"] = json!([unsigned]);
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(out.contains("it is not signed"), "{out}");
}

#[test]
fn an_import_a_policy_denies_records_nothing() {
    let stack = Stack::new();
    with_policies(
        &stack,
        json!({"Note": file("note.txt", "fine\n")}),
        &[("todo.rego", NO_TODO)],
    );
    std::fs::create_dir_all(stack.out("")).unwrap();
    std::fs::write(stack.out("note.txt"), "TODO: write it\n").unwrap();
    let out = stack.expect(1, &["import", "SPEC", "Note", "note.txt"]);
    assert!(
        out.contains("importing note.txt as Note is refused by 1 policy"),
        "{out}"
    );
    assert!(out.contains("Nothing was recorded."), "{out}");
    let state = stack.dir.path().join("stack.rkit-state.json");
    assert!(
        !state.exists()
            || stack.state()["Resources"]
                .as_object()
                .is_none_or(|r| r.is_empty()),
        "nothing is recorded"
    );
    let out = stack.expect(
        0,
        &[
            "import",
            "SPEC",
            "Note",
            "note.txt",
            "--override",
            "team.todo",
            "--reason",
            "legacy",
        ],
    );
    assert!(out.contains("Note: imported note.txt"), "{out}");
    assert_eq!(stack.state()["PolicyOverrides"][0]["Policy"], "team.todo");
}
