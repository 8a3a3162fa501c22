//! The engine end to end: the real `rkit` binary, the real `local` provider component, real
//! files in a temporary directory.

use crate::common;

use common::stack::{Stack, file, write_null};
use serde_json::{Value, json};
use std::process::Command;

fn quickstart(stack: &Stack, token_file: &str) {
    stack.write(
        json!({
            "Site": {"Plugin": "local", "Type": "Directory", "Properties": {"Path": "site"}},
            "Token": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": 16}},
            "TokenFile": {
                "Plugin": "local", "Type": "File", "DependsOn": ["Site"],
                "Properties": {"Path": token_file, "Content": "{{.Resources.Token.Attributes.Value}}"}
            }
        }),
        json!({"Token": "{{.Resources.Token.Attributes.Value}}"}),
    );
}

#[test]
fn apply_reapply_update_replace_delete_destroy() {
    let stack = Stack::new();
    quickstart(&stack, "site/token.txt");

    // Apply from nothing: dependencies first, the computed token flows into the file.
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Plan: 3 to create"), "{out}");
    assert!(out.contains("Content: (sensitive)"), "{out}");
    assert!(out.contains("Apply complete: 3 created"), "{out}");
    let token = std::fs::read_to_string(stack.out("site/token.txt")).unwrap();
    assert_eq!(token.len(), 16);
    // The token is sensitive (its schema says so), and so is what it flows into.
    assert!(
        out.contains("Token = (sensitive)") && !out.contains(&token),
        "{out}"
    );
    let state = stack.state();
    assert_eq!(
        state["Resources"]["TokenFile"]["Tags"]["rkit:stack"],
        "stack"
    );
    assert_eq!(
        state["Resources"]["TokenFile"]["Tags"]["rkit:name"],
        "TokenFile"
    );
    assert_eq!(state["Outputs"]["Token"], token.as_str());

    // Re-apply: nothing to do.
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("No changes: 3 resources are up to date."),
        "{out}"
    );

    // Drift is seen (refresh) and repaired by an in-place update.
    std::fs::write(stack.out("site/token.txt"), "tampered").unwrap();
    let out = stack.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(out.contains("~ TokenFile (local File)"), "{out}");
    assert!(
        out.contains("Content: (sensitive) => (sensitive)") && !out.contains(&token),
        "{out}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(stack.out("site/token.txt")).unwrap(),
        token
    );
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);

    // A force-new property (the path) replaces the file.
    quickstart(&stack, "site/token2.txt");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("-/+ TokenFile (local File): Path forces replacement"),
        "{out}"
    );
    assert!(out.contains("1 replaced"), "{out}");
    assert!(!stack.out("site/token.txt").exists());
    assert_eq!(
        std::fs::read_to_string(stack.out("site/token2.txt")).unwrap(),
        token
    );

    // A resource removed from the spec is deleted.
    stack.write(
        json!({
            "Site": {"Plugin": "local", "Type": "Directory", "Properties": {"Path": "site"}},
            "Token": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": 16}},
        }),
        json!({}),
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("- TokenFile (local File): it is gone from the spec"),
        "{out}"
    );
    assert!(!stack.out("site/token2.txt").exists());

    // Destroy: everything, dependents first.
    quickstart(&stack, "site/token.txt");
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let out = stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(
        out.contains("Destroy complete: 0 created, 0 updated, 0 replaced, 3 deleted"),
        "{out}"
    );
    let file_gone = out.find("- TokenFile: deleted").unwrap();
    let dir_gone = out.find("- Site: deleted").unwrap();
    assert!(
        file_gone < dir_gone,
        "the directory went before its file:\n{out}"
    );
    assert!(!stack.out("site").exists());
    assert!(stack.state()["Resources"].as_object().unwrap().is_empty());
}

#[test]
fn a_failure_mid_apply_keeps_what_was_created_and_the_next_apply_finishes() {
    let stack = Stack::new();
    // `blocked/` is a file, so nothing can be created under it.
    std::fs::create_dir_all(stack.out("")).unwrap();
    std::fs::write(stack.out("blocked"), "in the way").unwrap();
    stack.write(
        json!({
            "Fine": file("fine.txt", "ok"),
            "Broken": file("blocked/x.txt", "never"),
            "Dependent": {"Plugin": "local", "Type": "File",
                "Properties": {"Path": "dep.txt", "Content": "{{.Resources.Broken.ID}}"}},
        }),
        json!({}),
    );
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("failed:  Broken (local File): creating the parent of \"blocked/x.txt\""),
        "{out}"
    );
    assert!(
        out.contains("skipped: Dependent (it waits for Broken, which failed)"),
        "{out}"
    );
    assert!(
        out.contains(
            "Apply incomplete: 1 created, 0 updated, 0 replaced, 0 deleted; 1 failed, 1 skipped."
        ),
        "{out}"
    );
    // What was created is recorded.
    let state = stack.state();
    assert_eq!(state["Resources"]["Fine"]["ID"], "fine.txt");
    assert!(state["Resources"].get("Broken").is_none());
    let list = stack.expect(0, &["state", "list", "SPEC"]);
    assert_eq!(list.trim(), "Fine\tlocal File\tfine.txt");

    std::fs::remove_file(stack.out("blocked")).unwrap();
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 1 unchanged."),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(stack.out("dep.txt")).unwrap(),
        "blocked/x.txt"
    );
}

#[test]
fn bad_specs_fail_with_errors_naming_file_resource_and_field() {
    let stack = Stack::new();
    let spec = stack.spec_path();
    let name = spec.display();

    std::fs::write(
        &spec,
        "{\n  \"Resources\": {\n    \"A\": {\"Plugin\": \"local\" \"Type\": \"File\"}\n  }\n}",
    )
    .unwrap();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains(&format!("{name}:3:29: invalid JSON: expected `,` or `}}`")),
        "{out}"
    );

    stack.write(
        json!({
            "A": {"Plugin": "local", "Type": "File", "Properties": {"Path": "{{.Resources.B.ID}}"}},
            "B": {"Plugin": "local", "Type": "File", "Properties": {"Path": "b"}, "DependsOn": ["A"]},
        }),
        json!({}),
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("resource A: field Properties.Path: dependency cycle: A -> B -> A"),
        "{out}"
    );

    // Every unknown reference at once, each with the name likely meant.
    stack.write(
        json!({
            "Alpha": {"Plugin": "local", "Type": "File", "Properties": {"Path": "{{.Resources.Alpah.ID}}"}},
            "B": {"Plugin": "local", "Type": "File", "Properties": {"Path": "{{.Resources.Zed.ID}}"}, "DependsOn": ["Alfa"]},
        }),
        json!({}),
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    for problem in [
        "resource Alpha: field Properties.Path: reference {{.Resources.Alpah.ID}} names no resource of this spec, did you mean \"Alpha\"?",
        "resource B: field Properties.Path: reference {{.Resources.Zed.ID}} names no resource of this spec\n",
        "resource B: field DependsOn: \"Alfa\" names no resource of this spec, did you mean \"Alpha\"?",
        "3 problems in the spec",
    ] {
        assert!(out.contains(problem), "{problem}: {out}");
    }

    stack.write(json!({"A": file("{{.Resources.Nope.ID}}", "")}), json!({}));
    let out = stack.expect(1, &["validate", "SPEC"]);
    // The error names file, line and column, resource and field, and shows the line.
    assert!(out.contains(&format!("{name}:")) && out.contains(": resource A: field Properties.Path: reference {{.Resources.Nope.ID}} names no resource of this spec"), "{out}");
    assert!(
        out.contains("^^^^^^^^^^^^^^^^^^^^^^^^ field Properties.Path"),
        "{out}"
    );

    stack.write(
        json!({
            "T": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": 8}},
            "A": file("a", "{{.Resources.T.Attributes.Valeu}}"),
        }),
        json!({}),
    );
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(out.contains("resource A: field Properties.Content: reference {{.Resources.T.Attributes.Valeu}}: local RandomString has no attribute \"Valeu\" (it has: Value)"), "{out}");

    stack.write(
        json!({"A": file("../escape", ""), "B": {"Plugin": "local", "Type": "Nope"}}),
        json!({}),
    );
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(
        out.contains(
            "resource A: field Properties.Path: \"../escape\" must not leave the granted directory"
        ),
        "{out}"
    );
    assert!(out.contains("resource B: field Type: provider local has no type \"Nope\" (it has: Directory, File, RandomString)"), "{out}");

    stack.write(
        json!({"A": {"Plugin": "elsewhere", "Type": "X"}}),
        json!({}),
    );
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains(
            "stack.json:12:17: resource A: field Plugin: plugin \"elsewhere\" has no provider \
             (pass --provider elsewhere=PATH, or --provider PATH to a module named \"elsewhere\", \
             or set Providers.elsewhere.Source)"
        ),
        "{out}"
    );
    // A misspelt plugin is named with the one meant.
    stack.write(json!({"A": {"Plugin": "locl", "Type": "File"}}), json!({}));
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("plugin \"locl\" has no provider, did you mean \"local\"? (pass"),
        "{out}"
    );
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_the_state_moved() {
    let stack = Stack::new();
    stack.write(json!({"A": file("a.txt", "one")}), json!({}));
    let plan = stack.dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    let out = stack.expect(0, &["plan", "SPEC", "--out", plan]);
    assert!(out.contains("Saved the plan"), "{out}");
    // The spec changes after planning: the saved plan still applies what was planned.
    stack.write(json!({"A": file("a.txt", "two")}), json!({}));
    // No --yes and no terminal: a saved plan was the review, it applies without asking.
    let out = stack.expect(0, &["apply", plan]);
    assert!(!out.contains("Do you want"), "{out}");
    assert!(out.contains("Apply complete: 1 created"), "{out}");
    assert_eq!(std::fs::read_to_string(stack.out("a.txt")).unwrap(), "one");
    let out = stack.expect(1, &["apply", plan, "--yes"]);
    assert!(out.contains("changed since this plan was made"), "{out}");

    let lines = common::json_lines(&stack.expect(0, &["plan", "SPEC", "--json"]));
    let json_plan = &lines.iter().find(|l| l["type"] == "plan").unwrap()["plan"];
    assert_eq!(json_plan["Steps"][0]["Action"], "update");
    assert_eq!(json_plan["Steps"][0]["Changes"][0]["Field"], "Content");
}

#[test]
fn without_yes_and_without_an_answer_nothing_is_applied() {
    let stack = Stack::new();
    stack.write(json!({"A": file("a.txt", "x")}), json!({}));
    let out = stack.expect(1, &["apply", "SPEC"]);
    assert!(
        out.contains("no answer on standard input; pass --yes to apply without asking"),
        "{out}"
    );
    assert!(!stack.out("a.txt").exists());
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let out = stack.expect(1, &["destroy", "SPEC"]);
    assert!(
        out.contains("Do you really want to destroy these resources?")
            && out.contains("pass --yes to destroy without asking"),
        "{out}"
    );
    assert!(stack.out("a.txt").exists());
}

#[test]
fn outputs_print_and_plan_destroy_saves_a_destroy() {
    let stack = Stack::new();
    stack.write(
        json!({"A": file("a.txt", "x")}),
        json!({"Path": "{{.Resources.A.ID}}", "Both": ["{{.Resources.A.ID}}", 2]}),
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let out = stack.expect(0, &["output", "SPEC"]);
    assert_eq!(out, "Both = [\"a.txt\",2]\nPath = \"a.txt\"\n");
    assert_eq!(stack.expect(0, &["output", "SPEC", "Path"]), "\"a.txt\"\n");
    assert_eq!(
        stack.expect(0, &["output", "SPEC", "Path", "--raw"]),
        "a.txt"
    );
    let all: Value = serde_json::from_str(&stack.expect(0, &["output", "SPEC", "--json"])).unwrap();
    assert_eq!(
        all,
        json!({"Path": {"Value": "a.txt", "Sensitive": false},
               "Both": {"Value": ["a.txt", 2], "Sensitive": false}})
    );
    let err = stack.expect(1, &["output", "SPEC", "Nope"]);
    assert!(
        err.contains("no output \"Nope\" is recorded (recorded: Both, Path)"),
        "{err}"
    );
    let err = stack.expect(1, &["output", "SPEC", "Both", "--raw"]);
    assert!(err.contains("is not a string"), "{err}");

    // plan --destroy shows (and saves) what destroy would do.
    let saved = stack.dir.path().join("destroy.plan");
    let saved = saved.to_str().unwrap();
    let out = stack.expect(0, &["plan", "SPEC", "--destroy", "--out", saved]);
    assert!(
        out.contains("Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 0 unchanged."),
        "{out}"
    );
    assert!(stack.out("a.txt").exists());
    let out = stack.expect(0, &["apply", saved]);
    assert!(out.contains("1 deleted"), "{out}");
    assert!(!stack.out("a.txt").exists());
}

#[test]
fn a_second_apply_on_a_locked_state_is_refused() {
    let stack = Stack::new();
    stack.write(json!({"A": file("a.txt", "x")}), json!({}));
    let state = stack.dir.path().join("stack.rkit-state.json");
    let _held = rkit::state::StateStore::open(
        &rkit::state::Location::File(state.clone()),
        &rkit::state::Keys::default(),
    )
    .unwrap();
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("is locked by another rkit (pid "), "{out}");
}

#[test]
fn providers_bind_by_flag_and_graph_prints_dot() {
    let stack = Stack::new();
    // No Source in the spec: the module comes from --provider, under the name given.
    let spec = json!({
        "Providers": {"files": {"Grants": {"Filesystem": "out"}}},
        "Resources": {
            "D": {"Plugin": "files", "Type": "Directory", "Properties": {"Path": "d"}},
            "F": {"Plugin": "files", "Type": "File", "Properties": {"Path": "d/f"}, "DependsOn": ["D"]},
        }
    });
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let wasm = common::provider_wasm("local");
    let binding = format!("files={}", wasm.display());
    stack.expect(0, &["apply", "SPEC", "--yes", "--provider", &binding]);
    assert!(stack.out("d/f").exists());
    let dot = stack.expect(0, &["graph", "SPEC"]);
    assert!(dot.starts_with("digraph rkit {"), "{dot}");
    assert!(dot.contains("\"D\" -> \"F\";"), "{dot}");
    let shown: Value =
        serde_json::from_str(&stack.expect(0, &["state", "show", "SPEC", "F"])).unwrap();
    assert_eq!(shown["ID"], "d/f");
    assert_eq!(shown["DependsOn"], json!(["D"]));
}

/// Writes a spec of `null` provider resources.
#[test]
fn transient_errors_are_retried_until_they_pass_or_attempts_run_out() {
    let stack = Stack::new();
    write_null(
        &stack,
        json!({
            "Passes": {"Plugin": "null", "Type": "Flaky", "Properties": {"Key": "a", "Failures": 2}},
            "GivesUp": {"Plugin": "null", "Type": "Flaky", "Properties": {"Key": "b", "Failures": 20}},
        }),
    );
    let out = stack.expect(1, &["apply", "SPEC", "--yes", "--parallelism", "1"]);
    assert!(out.contains("+ Passes: created"), "{out}");
    // Every retry is shown with its reason as it happens.
    assert!(out.contains("+ Passes: Creating…"), "{out}");
    assert!(
        out.contains("+ Passes: retrying in ") && out.contains("(attempt 3 of 8): throttled"),
        "{out}"
    );
    assert_eq!(out.matches("+ GivesUp: retrying in ").count(), 7, "{out}");
    assert!(
        out.contains(
            "failed:  GivesUp (null Flaky): throttled: attempt 8 of 20 fails (after 8 attempts) [transient]"
        ),
        "{out}"
    );
    let state = stack.state();
    assert_eq!(state["Resources"]["Passes"]["Attributes"]["Attempts"], 3);
    assert!(state["Resources"].get("GivesUp").is_none());
}

#[test]
fn create_before_destroy_replaces_without_a_gap() {
    let stack = Stack::new();
    let versioned = |input: &str| {
        json!({"V": {"Plugin": "null", "Type": "Versioned", "Properties": {"Input": input}},
               "User": {"Plugin": "null", "Type": "Null", "Properties": {"Input": "{{.Resources.V.ID}}"}}})
    };
    write_null(&stack, versioned("v1"));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let old_id = stack.state()["Resources"]["V"]["ID"]
        .as_str()
        .unwrap()
        .to_string();

    write_null(&stack, versioned("v2"));
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("-/+ V (null Versioned): Input forces replacement (create before destroy)"),
        "{out}"
    );
    let created = out.find("+ V: created (replacement)").unwrap();
    let deleted = out.find("- V: deleted (to replace)").unwrap();
    assert!(
        created < deleted,
        "the old V went before the new one existed:\n{out}"
    );
    let state = stack.state();
    let new_id = state["Resources"]["V"]["ID"].as_str().unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(state["Resources"]["User"]["Properties"]["Input"], new_id);
    assert_eq!(state["Resources"].as_object().unwrap().len(), 2, "{state}");
}

/// SPI 0.4's nested force-new paths: `Keyed` (null provider) is replaced when `Input.Key` or
/// an `Input.Peers[*].Asn` changes, and updated in place for any other change inside `Input`.
#[test]
fn nested_force_new_paths_replace_only_for_what_they_name() {
    let stack = Stack::new();
    let keyed = |input: Value| json!({"K": {"Plugin": "null", "Type": "Keyed", "Properties": {"Input": input}}});
    let input = json!({"Key": "a", "Size": 1, "Peers": [{"Asn": 1, "Ip": "x"}]});
    write_null(&stack, keyed(input));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let id = |stack: &Stack| {
        stack.state()["Resources"]["K"]["ID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = id(&stack);
    // Other members of Input change: updated in place.
    write_null(
        &stack,
        keyed(json!({"Key": "a", "Size": 2, "Peers": [{"Asn": 1, "Ip": "y"}]})),
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("~ K (null Keyed)"), "{out}");
    assert_eq!(id(&stack), first, "updated in place:\n{out}");
    // A peer's Asn changes: replaced, and the plan names the path.
    write_null(
        &stack,
        keyed(json!({"Key": "a", "Size": 2, "Peers": [{"Asn": 2, "Ip": "y"}]})),
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("-/+ K (null Keyed): Input.Peers[*].Asn forces replacement"),
        "{out}"
    );
    let second = id(&stack);
    assert_ne!(second, first);
    // The key changes: replaced again.
    write_null(
        &stack,
        keyed(json!({"Key": "b", "Size": 2, "Peers": [{"Asn": 2, "Ip": "y"}]})),
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("-/+ K (null Keyed): Input.Key forces replacement"),
        "{out}"
    );
    assert_ne!(id(&stack), second);
    let out = stack.expect(0, &["plan", "SPEC"]);
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn an_interactive_yes_applies() {
    use std::io::Write;
    let stack = Stack::new();
    stack.write(json!({"A": file("a.txt", "x")}), json!({}));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(["apply", stack.spec_path().to_str().unwrap(), "--approve"])
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Do you want to apply these changes? Only 'yes' will be accepted:"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(stack.out("a.txt")).unwrap(), "x");
}

#[test]
fn an_apply_killed_mid_way_loses_nothing_and_the_next_one_finishes() {
    let stack = Stack::new();
    let resources: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            let slow = json!({"Plugin": "null", "Type": "Sleepy", "Properties": {"Ms": 100}});
            (format!("S{i:02}"), slow)
        })
        .collect();
    write_null(&stack, Value::Object(resources));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args([
            "apply",
            stack.spec_path().to_str().unwrap(),
            "--approve",
            "--yes",
            "--parallelism",
            "2",
        ])
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // 20 creates of 100 ms, two at a time: about a second. Kill it (SIGKILL) once a few are
    // recorded (however long loading the provider took on this machine).
    let started = std::time::Instant::now();
    let recorded = || {
        String::from_utf8_lossy(&stack.rkit(&["state", "list", "SPEC"]).stdout)
            .lines()
            .count()
    };
    while recorded() < 4 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let listed = stack.expect(0, &["state", "list", "SPEC"]);
    let recorded = listed.lines().count();
    assert!(
        (2..20).contains(&recorded),
        "{recorded} recorded:\n{listed}"
    );
    // The lock died with the process; what was recorded is not created again.
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains(&format!(
            "Plan: {} to create, 0 to update, 0 to replace, 0 to delete, {recorded} unchanged.",
            20 - recorded
        )),
        "{out}"
    );
    assert_eq!(
        stack.expect(0, &["state", "list", "SPEC"]).lines().count(),
        20
    );
}

#[test]
fn target_exclude_and_replace_limit_and_force_a_run() {
    let stack = Stack::new();
    let spec = |a: &str, c: &str| {
        json!({
            "A": file("a.txt", a),
            "B": {"Plugin": "local", "Type": "File",
                  "Properties": {"Path": "b.txt", "Content": "{{.Resources.A.ID}}"}},
            "C": file("c.txt", c),
        })
    };
    stack.write(spec("1", "1"), json!({}));
    stack.expect(0, &["apply", "SPEC", "--yes"]);

    // A and C change; --target B takes B and what it depends on (A), not C.
    stack.write(spec("2", "2"), json!({}));
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--target", "B"]);
    assert!(
        out.contains("~ A (local File)") && !out.contains("C (local File)"),
        "{out}"
    );
    assert!(out.contains("limited by --target/--exclude"), "{out}");
    assert_eq!(std::fs::read_to_string(stack.out("a.txt")).unwrap(), "2");
    assert_eq!(std::fs::read_to_string(stack.out("c.txt")).unwrap(), "1");

    // --exclude C leaves it; then C alone is left to change.
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--exclude", "C"]);
    assert!(out.contains("No changes"), "{out}");
    let out = stack.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(out.contains("~ C (local File)"), "{out}");
    stack.expect(0, &["apply", "SPEC", "--yes"]);

    // --replace forces a replacement nothing else asks for.
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--replace", "C"]);
    assert!(
        out.contains("-/+ C (local File): its replacement was asked for (--replace)"),
        "{out}"
    );
    assert!(out.contains("1 replaced"), "{out}");
    let err = stack.expect(1, &["plan", "SPEC", "--replace", "Nope"]);
    assert!(
        err.contains("--replace Nope: no resource \"Nope\" in the spec"),
        "{err}"
    );
}
