//! The everyday commands end to end through the real `rkit` binary: sensitive values never
//! shown (every output of every command searched for them), parameters, `show`, `output`.

use crate::common;

use common::stack::{Stack, file};
use serde_json::{Value, json};

/// The quickstart with a sensitive parameter: a random token (sensitive by its schema) flows
/// into a file and an output; a password parameter flows into another file and an output.
fn secrets(stack: &Stack) {
    let spec = json!({
        "Parameters": {
            "Password": {"Type": "String", "Sensitive": true, "Description": "the admin password"},
            "Env": {"Default": "dev"},
        },
        "Providers": {"local": {"Source": common::provider_wasm("local"), "Grants": {"Filesystem": "out"}}},
        "Resources": {
            "Token": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": 24}},
            "TokenFile": {"Plugin": "local", "Type": "File",
                          "Properties": {"Path": "token.txt", "Content": "t={{.Resources.Token.Attributes.Value}}"}},
            "PasswordFile": {"Plugin": "local", "Type": "File",
                             "Properties": {"Path": "{{.Parameters.Env}}-pw.txt", "Content": "{{.Parameters.Password}}"}},
        },
        "Outputs": {
            "Token": "{{.Resources.Token.Attributes.Value}}",
            "Password": {"Value": "{{.Parameters.Password}}", "Description": "shown as (sensitive)"},
            "Path": "{{.Resources.PasswordFile.ID}}",
        }
    });
    std::fs::write(stack.spec_path(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

const PASSWORD: &str = "hunter2-correct-horse";

#[test]
fn sensitive_values_appear_in_no_output_unless_asked_for() {
    let stack = Stack::new();
    secrets(&stack);
    let var = format!("Password={PASSWORD}");
    let v = var.as_str();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut run = |code: i32, args: &[&str]| {
        let out = stack.expect(code, args);
        outputs.push((args.join(" "), out.clone()));
        out
    };
    run(0, &["plan", "SPEC", "--var", v]);
    run(0, &["plan", "SPEC", "--var", v, "--json"]);
    let applied = run(0, &["apply", "SPEC", "--yes", "--var", v]);
    assert!(applied.contains("Token = (sensitive)"), "{applied}");
    assert!(applied.contains("Password = (sensitive)"), "{applied}");
    assert!(applied.contains("Path = \"dev-pw.txt\""), "{applied}");
    let token = std::fs::read_to_string(stack.out("token.txt")).unwrap();
    let token = token.strip_prefix("t=").unwrap().to_string();
    assert_eq!(token.len(), 24);
    assert_eq!(
        std::fs::read_to_string(stack.out("dev-pw.txt")).unwrap(),
        PASSWORD
    );

    // Change the password: the diff shows that Content changes, not to what.
    let other = "Password=another-secret-value";
    let planned = run(0, &["plan", "SPEC", "--var", other]);
    assert!(
        planned.contains("Content: (sensitive) => (sensitive)"),
        "{planned}"
    );
    run(0, &["plan", "SPEC", "--var", other, "--json"]);
    let saved = stack.dir.path().join("p.json");
    let saved = saved.to_str().unwrap();
    run(0, &["plan", "SPEC", "--var", other, "--out", saved]);
    run(0, &["show", saved]);
    run(0, &["show", saved, "--json"]);
    run(0, &["apply", "SPEC", "--yes", "--json", "--var", v]);
    run(0, &["output", "SPEC"]);
    run(0, &["output", "SPEC", "--json"]);
    run(0, &["output", "SPEC", "Token"]);
    run(0, &["show", "SPEC"]);
    run(0, &["show", "SPEC", "--json"]);
    run(
        0,
        &[
            "state",
            "show",
            "SPEC",
            "Token",
            "TokenFile",
            "PasswordFile",
        ],
    );
    run(0, &["state", "list", "SPEC"]);
    run(0, &["destroy", "SPEC", "--yes", "--var", v]);
    for (command, out) in &outputs {
        for secret in [token.as_str(), PASSWORD, "another-secret-value"] {
            assert!(
                !out.contains(secret),
                "rkit {command} shows a sensitive value:\n{out}"
            );
        }
        assert!(!out.contains(PASSWORD), "{command}");
    }
    assert!(outputs.iter().any(|(_, o)| o.contains("(sensitive)")));

    // Asked for explicitly, they are shown.
    stack.expect(0, &["apply", "SPEC", "--yes", "--var", v]);
    let token = std::fs::read_to_string(stack.out("token.txt")).unwrap();
    let token = token.strip_prefix("t=").unwrap();
    assert_eq!(
        stack.expect(0, &["output", "SPEC", "Token", "--raw"]),
        token
    );
    let all = stack.expect(0, &["output", "SPEC", "--json", "--show-sensitive"]);
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(
        all["Password"],
        json!({"Value": PASSWORD, "Sensitive": true})
    );
    // Not asked for, a sensitive output is marked as such and has no value, not a
    // placeholder string a script would take for one; asked for by name, it is the value.
    let all: Value = serde_json::from_str(&stack.expect(0, &["output", "SPEC", "--json"])).unwrap();
    assert_eq!(all["Password"], json!({"Sensitive": true}));
    assert_eq!(
        stack.expect(0, &["output", "SPEC", "Password", "--json"]),
        format!("{}\n", json!(PASSWORD))
    );
    let shown = stack.expect(0, &["state", "show", "SPEC", "Token", "--show-sensitive"]);
    assert!(shown.contains(token), "{shown}");
    let shown = stack.expect(0, &["plan", "SPEC", "--var", other, "--show-sensitive"]);
    assert!(shown.contains("another-secret-value"), "{shown}");

    // A state recorded before the values were marked (an older rkit or provider): the next
    // apply, even with nothing to change, records what is sensitive.
    let path = stack.dir.path().join("stack.rkit-state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["Resources"]["Token"]
        .as_object_mut()
        .unwrap()
        .remove("Sensitive");
    state.as_object_mut().unwrap().remove("SensitiveOutputs");
    std::fs::write(&path, state.to_string()).unwrap();
    let shown = stack.expect(0, &["state", "show", "SPEC", "Token"]);
    assert!(
        shown.contains(token),
        "the unmarked state shows it: {shown}"
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--var", v]);
    assert!(out.contains("No changes"), "{out}");
    for args in [
        &["state", "show", "SPEC", "Token"][..],
        &["output", "SPEC"][..],
    ] {
        let shown = stack.expect(0, args);
        assert!(
            !shown.contains(token) && shown.contains("(sensitive)"),
            "{shown}"
        );
    }
}

fn with_parameters(stack: &Stack) {
    let spec = json!({
        "Parameters": {
            "Env": {"Default": "dev", "Description": "where"},
            "Count": {"Type": "Number"},
            "Flags": {"Type": "List", "Default": []},
        },
        "Providers": {"local": {"Source": common::provider_wasm("local"), "Grants": {"Filesystem": "out"}}},
        "Resources": {
            "F": {"Plugin": "local", "Type": "File",
                  "Properties": {"Path": "{{.Parameters.Env}}.txt", "Content": "n={{.Parameters.Count}} {{.Parameters.Flags}}"}},
        },
        "Outputs": {"Count": "{{.Parameters.Count}}"}
    });
    std::fs::write(stack.spec_path(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

#[test]
fn parameters_come_from_vars_files_and_the_environment_with_clear_errors() {
    let stack = Stack::new();
    with_parameters(&stack);
    let spec = stack.spec_path();
    let spec = spec.display();
    let out = stack.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains(&format!(
            "error: {spec}: parameter Count has no value: give it with --var Count=VALUE, \
             --var-file FILE or RKIT_VAR_Count, or declare a Default"
        )),
        "{out}"
    );
    let out = stack.expect(1, &["plan", "SPEC", "--var", "Count=three"]);
    assert!(
        out.contains(
            "error: --var Count: parameter Count is a Number; \"three\" is not (give it as JSON)"
        ),
        "{out}"
    );
    let out = stack.expect(1, &["plan", "SPEC", "--var", "Count=1", "--var", "Cuont=2"]);
    assert!(
        out.contains("--var Cuont: the spec")
            && out.contains("declares no parameter \"Cuont\" (it declares: Env, Count, Flags)"),
        "{out}"
    );

    stack.expect(0, &["apply", "SPEC", "--yes", "--var", "Count=2"]);
    assert_eq!(
        std::fs::read_to_string(stack.out("dev.txt")).unwrap(),
        "n=2 []"
    );
    assert_eq!(stack.expect(0, &["output", "SPEC", "Count"]), "2\n");

    // The environment, then a file, then --var: the last wins.
    let vars = stack.dir.path().join("vars.json");
    std::fs::write(&vars, r#"{"Count": 5, "Flags": ["x"]}"#).unwrap();
    let out = stack.rkit_with(
        &[
            "apply",
            "SPEC",
            "--yes",
            "--var-file",
            vars.to_str().unwrap(),
        ],
        &[("RKIT_VAR_Count", "4"), ("RKIT_VAR_Env", "prod")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(stack.out("prod.txt")).unwrap(),
        "n=5 [\"x\"]"
    );
    assert!(
        !stack.out("dev.txt").exists(),
        "the path changed: the file was replaced"
    );

    // An unknown parameter in the spec names resource and field.
    let mut bad: Value =
        serde_json::from_slice(&std::fs::read(stack.spec_path()).unwrap()).unwrap();
    bad["Resources"]["F"]["Properties"]["Content"] = json!("{{.Parameters.Nope}}");
    std::fs::write(
        stack.spec_path(),
        serde_json::to_string_pretty(&bad).unwrap(),
    )
    .unwrap();
    let out = stack.expect(1, &["plan", "SPEC", "--var", "Count=1"]);
    // File, line and column, resource and field; then the line itself, underlined.
    let line = std::fs::read_to_string(stack.spec_path())
        .unwrap()
        .lines()
        .position(|l| l.contains("Parameters.Nope"))
        .unwrap()
        + 1;
    assert!(
        out.contains(&format!(
            "{spec}:{line}:20: resource F: field Properties.Content: {{{{.Parameters.Nope}}}} names no parameter of this spec (it declares: Count, Env, Flags)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("--> {spec}:{line}:20"))
            && out.contains("^^^^^^^^^^^^^^^^^^^^^^ field Properties.Content"),
        "{out}"
    );
}

#[test]
fn show_prints_the_state_and_saved_plans() {
    let stack = Stack::new();
    stack.write(
        json!({"A": file("a.txt", "x")}),
        json!({"Where": "{{.Resources.A.ID}}"}),
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let out = stack.expect(0, &["show", "SPEC"]);
    assert!(out.contains("# A (local File) [a.txt]"), "{out}");
    assert!(out.contains("    Content = \"x\""), "{out}");
    assert!(out.contains("Outputs:\n  Where = \"a.txt\""), "{out}");
    let doc: Value = serde_json::from_str(&stack.expect(0, &["show", "SPEC", "--json"])).unwrap();
    assert_eq!(doc["Resources"]["A"]["ID"], "a.txt");
    assert_eq!(doc["Outputs"]["Where"], "a.txt");

    stack.write(json!({"A": file("a.txt", "y")}), json!({}));
    let saved = stack.dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    stack.expect(0, &["plan", "SPEC", "--out", saved]);
    let out = stack.expect(0, &["show", saved]);
    assert!(
        out.contains("~ A (local File)") && out.contains("Content: \"x\" => \"y\""),
        "{out}"
    );
    let plan: Value = serde_json::from_str(&stack.expect(0, &["show", saved, "--json"])).unwrap();
    assert_eq!(plan["Steps"][0]["Action"], "update");
    // The saved plan carries what apply needs: not the spec's resources.
    let file: Value = serde_json::from_slice(&std::fs::read(saved).unwrap()).unwrap();
    assert!(file.get("Spec").is_none(), "{file}");
    assert_eq!(file["Plan"]["Steps"][0]["Properties"]["Content"], "y");
    std::fs::remove_file(stack.spec_path()).unwrap();
    let out = stack.expect(0, &["apply", saved]);
    assert!(
        out.contains("Apply complete: 0 created, 1 updated"),
        "{out}"
    );
}

#[test]
fn graph_draws_dot_and_svg_coloured_by_a_saved_plan() {
    let stack = Stack::new();
    stack.write(
        json!({"A": file("a.txt", "x"), "B": {"Plugin": "local", "Type": "File", "DependsOn": ["A"],
                                               "Properties": {"Path": "b.txt", "Content": "y"}}}),
        json!({}),
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    stack.write(
        json!({"A": file("a.txt", "changed"), "C": file("c.txt", "new")}),
        json!({}),
    );
    let saved = stack.dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    stack.expect(0, &["plan", "SPEC", "--out", saved]);

    let svg = stack.expect(0, &["graph", "SPEC", "--format", "svg", "--plan", saved]);
    let doc = roxmltree::Document::parse(svg.trim()).expect("well-formed SVG");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .filter_map(|n| n.text())
        .collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "(leaves the spec)",
            "A",
            "B",
            "C",
            "local File",
            "local File"
        ],
        "one node per resource with its type (B: deleted)"
    );
    // On a white background (readable in a dark viewer), with a legend of the colours.
    assert!(
        svg.contains("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"),
        "{svg}"
    );
    for (colour, action) in [
        ("palegreen", "create"),
        ("khaki", "update"),
        ("salmon", "delete"),
    ] {
        assert!(
            svg.contains(&format!("fill=\"{colour}\" stroke=\"black\"/><text")),
            "{svg}"
        );
        assert!(svg.contains(&format!(">{action}</text>")), "{svg}");
    }

    let dot = stack.expect(0, &["graph", "SPEC", "--plan", saved]);
    assert!(
        dot.contains("\"A\" [style=filled, fillcolor=\"khaki\""),
        "{dot}"
    );
    assert!(
        dot.contains("\"B\" [style=filled, fillcolor=\"salmon\""),
        "{dot}"
    );
    assert!(
        dot.contains("\"C\" [style=filled, fillcolor=\"palegreen\""),
        "{dot}"
    );
}

/// Everything rkit reads is untrusted input (issue 25): a spec with a key written twice or a
/// byte-order mark, a var file with comments or a repeated key, a saved plan edited to hold
/// a malformed template or a step waiting on itself, an environment variable that is not
/// UTF-8: errors naming the place, never a panic or a hang.
#[test]
fn untrusted_input_gets_errors_never_panics_or_hangs() {
    let stack = Stack::new();
    stack.write(json!({"A": file("a.txt", "x")}), json!({}));
    // A byte-order mark, as Windows editors write one: read past.
    let spec = std::fs::read_to_string(stack.spec_path()).unwrap();
    std::fs::write(stack.spec_path(), format!("\u{feff}{spec}")).unwrap();
    stack.expect(0, &["validate", "SPEC"]);
    // A resource written twice: refused where the second one is.
    let twice = spec.replacen("\"A\": {", "\"A\": {\"Plugin\": \"local\", \"Type\": \"File\", \"Properties\": {\"Path\": \"b.txt\"}},\n    \"A\": {", 1);
    std::fs::write(stack.spec_path(), twice).unwrap();
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(
        out.contains("key \"A\" appears twice in Resources"),
        "{out}"
    );
    assert!(out.contains("stack.json:"), "{out}");
    std::fs::write(stack.spec_path(), &spec).unwrap();

    // A saved plan edited: a step that waits on itself, a malformed template.
    stack.write(json!({"A": file("a.txt", "y")}), json!({}));
    let saved = stack.dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    stack.expect(0, &["plan", "SPEC", "--out", saved]);
    let original: Value = serde_json::from_slice(&std::fs::read(saved).unwrap()).unwrap();
    for (edit, why) in [
        (json!({"DependsOn": ["A"]}), "step A waits for itself"),
        (
            json!({"Properties": {"Path": "a.txt", "Content": "{{.Resources.A"}}),
            "step A: field Content",
        ),
    ] {
        let mut plan = original.clone();
        for (k, v) in edit.as_object().unwrap() {
            plan["Plan"]["Steps"][0][k] = v.clone();
        }
        std::fs::write(saved, plan.to_string()).unwrap();
        let started = std::time::Instant::now();
        let out = stack.expect(1, &["apply", saved]);
        assert!(
            out.contains("not a valid saved plan") && out.contains(why),
            "{out}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
    // The state was not locked by the refused plans: the spec still applies.
    std::fs::write(saved, original.to_string()).unwrap();
    stack.expect(0, &["apply", saved]);

    // An environment variable that is not UTF-8, even one rkit never reads.
    use std::os::unix::ffi::OsStrExt;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(["validate", stack.spec_path().to_str().unwrap()])
        .env(
            std::ffi::OsStr::from_bytes(b"NOT_UTF8"),
            std::ffi::OsStr::from_bytes(b"\xff\xfe"),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

/// `--replace` reaches what depends on the replaced resource in the same apply (issue 25):
/// the plan shows the dependent's update with the new value unknown until apply, and after
/// one apply the file holds the new token that `output` shows.
#[test]
fn a_replacement_updates_its_dependents_in_the_same_apply() {
    let stack = Stack::new();
    stack.write(
        json!({
            "Token": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": 24}},
            "Holder": file("token.txt", "{{.Resources.Token.Attributes.Value}}"),
        }),
        json!({"Token": "{{.Resources.Token.Attributes.Value}}"}),
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let before = std::fs::read_to_string(stack.out("token.txt")).unwrap();
    let plan = stack.expect(
        0,
        &["plan", "SPEC", "--replace", "Token", "--show-sensitive"],
    );
    assert!(
        plan.contains("-/+ Token") && plan.contains("~ Holder"),
        "{plan}"
    );
    assert!(plan.contains("(known after apply)"), "{plan}");
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--replace", "Token"]);
    assert!(
        out.contains("1 updated") && out.contains("1 replaced"),
        "{out}"
    );
    let after = std::fs::read_to_string(stack.out("token.txt")).unwrap();
    let shown = stack.expect(0, &["output", "SPEC", "Token", "--raw"]);
    assert_ne!(before, after, "the token was replaced");
    assert_eq!(shown.trim(), after, "the file holds the token output shows");
    let again = stack.expect(0, &["plan", "SPEC"]);
    assert!(again.contains("No changes"), "{again}");
}

/// A replacement a changed property forces, of something another resource keeps using, makes
/// the new one first, moves its user onto it, and only then deletes the old one (issue 25).
#[test]
fn a_forced_replacement_in_use_is_made_before_the_old_one_goes() {
    let stack = Stack::new();
    let write = |length: u32| {
        stack.write(
            json!({
                "Token": {"Plugin": "local", "Type": "RandomString", "Properties": {"Length": length}},
                "Holder": file("token.txt", "{{.Resources.Token.Attributes.Value}}"),
            }),
            json!({}),
        )
    };
    write(12);
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    write(16);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains(
            "-/+ Token (local RandomString): Length forces replacement; in use by Holder \
             (create before destroy)"
        ),
        "{plan}"
    );
    let events = stack.expect(0, &["apply", "SPEC", "--yes", "--json"]);
    let finished = common::finished_operations(&events);
    assert_eq!(
        finished,
        ["replace Token", "update Holder", "delete-for-replace Token"]
    );
    assert_eq!(
        std::fs::read_to_string(stack.out("token.txt"))
            .unwrap()
            .len(),
        16
    );
}

/// A module given with `--provider` is one approval from any working directory, and the lock
/// remembers it: later commands need not repeat it (issue 25).
#[test]
fn a_provider_given_once_is_remembered_and_the_same_from_anywhere() {
    let stack = Stack::new();
    let spec = json!({"Resources": {"N": {"Plugin": "null", "Type": "Null",
        "Properties": {"Input": "x"}}}});
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
    let wasm = stack.dir.path().join("modules/null.wasm");
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::copy(common::provider_wasm("null"), &wasm).unwrap();
    let here = stack.dir.path();
    let sub = here.join("modules");
    let run = |dir: &std::path::Path, args: &[&str]| common::rkit(dir, &[], args);
    let spec = stack.spec_path();
    let spec = spec.to_str().unwrap();
    let (code, out) = run(
        here,
        &[
            "apply",
            spec,
            "--yes",
            "--approve",
            "--provider",
            "null=modules/null.wasm",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let lock = std::fs::read_to_string(here.join("rkit.lock")).unwrap();
    assert!(lock.contains("\"Source\": \"modules/null.wasm\""), "{lock}");
    // From another directory, the same module by another relative path: no new approval.
    let (code, out) = run(&sub, &["plan", spec, "--provider", "null=null.wasm"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("No changes: 1 resource is up to date."),
        "{out}"
    );
    // Without --provider: the lock remembers where the module is.
    let (code, out) = run(&sub, &["plan", spec]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
}
