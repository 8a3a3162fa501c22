//! The engine's events as the CLI renders them, end to end through the real `rkit` binary:
//! `--json` streams (one object per line, ordered, complete), the human view on a terminal
//! (progress lines, colour) and without one, and `NO_COLOR` / `--no-color`.

use crate::common;

use common::stack::{Stack, write_null};
use serde_json::{Value, json};
use std::io::Write;

/// A (Null) ← B (Sleepy, depends on A); C (Null) alone.
fn three(stack: &Stack, sleep_ms: u64) {
    write_null(
        stack,
        json!({
            "A": {"Plugin": "null", "Type": "Null", "Properties": {"Input": "a"}},
            "B": {"Plugin": "null", "Type": "Sleepy", "DependsOn": ["A"], "Properties": {"Ms": sleep_ms}},
            "C": {"Plugin": "null", "Type": "Null", "Properties": {"Input": "c"}},
        }),
    );
}

/// Every line of standard output parsed as a JSON object.
fn stdout_lines(out: &std::process::Output) -> Vec<Value> {
    common::json_lines(&String::from_utf8_lossy(&out.stdout))
}

fn position(lines: &[Value], kind: &str, resource: &str) -> usize {
    lines
        .iter()
        .position(|l| l["type"] == kind && l["resource"] == resource)
        .unwrap_or_else(|| panic!("no {kind} of {resource} in {lines:#?}"))
}

#[test]
fn json_streams_are_one_object_per_line_ordered_and_complete() {
    let stack = Stack::new();
    three(&stack, 10);
    let out = stack.rkit(&["apply", "SPEC", "--json", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let lines = stdout_lines(&out);
    for line in &lines {
        assert!(
            line["@timestamp"].is_string() && line["@message"].is_string(),
            "{line}"
        );
        assert!(
            line["@level"].is_string() && line["type"].is_string(),
            "{line}"
        );
    }
    let planned: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "planned_change")
        .collect();
    assert_eq!(planned.len(), 3, "{lines:#?}");
    let summary = lines
        .iter()
        .position(|l| l["type"] == "change_summary")
        .unwrap();
    assert_eq!(lines[summary]["changes"]["create"], 3);
    for name in ["A", "B", "C"] {
        let started = position(&lines, "operation_started", name);
        let finished = position(&lines, "operation_finished", name);
        assert!(
            summary < started && started < finished,
            "{name}: {lines:#?}"
        );
        assert_eq!(lines[finished]["action"], "create");
        assert!(lines[finished]["id"].is_string());
    }
    // B waits for A.
    assert!(
        position(&lines, "operation_finished", "A") < position(&lines, "operation_started", "B")
    );
    let report = lines.iter().position(|l| l["type"] == "report").unwrap();
    assert!(report > position(&lines, "operation_finished", "B"));
    assert_eq!(lines[report]["ok"], true);
    assert_eq!(
        lines[report]["report"]["created"].as_array().unwrap().len(),
        3
    );
    assert_eq!(lines.last().unwrap()["type"], "outputs");

    // A no-op plan: a summary with nothing to do, and the whole plan: the unchanged counted,
    // with no step each.
    let out = stack.rkit(&["plan", "SPEC", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let lines = stdout_lines(&out);
    assert!(
        lines.iter().all(|l| l["type"] != "planned_change"),
        "{lines:#?}"
    );
    let plan = lines.iter().find(|l| l["type"] == "plan").unwrap();
    assert_eq!(plan["plan"]["Steps"], json!([]));
    assert_eq!(plan["plan"]["Unchanged"], 3);

    // Destroy: dependents first.
    let out = stack.rkit(&["destroy", "SPEC", "--json", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let lines = stdout_lines(&out);
    assert!(
        position(&lines, "operation_finished", "B") < position(&lines, "operation_started", "A")
    );
    let report = lines.iter().find(|l| l["type"] == "report").unwrap();
    assert_eq!(report["operation"], "destroy");
    assert_eq!(report["report"]["deleted"].as_array().unwrap().len(), 3);
}

#[test]
fn json_cannot_ask_and_failures_keep_their_kind() {
    let stack = Stack::new();
    write_null(
        &stack,
        json!({"F": {"Plugin": "null", "Type": "Flaky", "Properties": {"Key": "k", "Failures": 2}},
               "G": {"Plugin": "null", "Type": "Flaky", "Properties": {"Key": "g", "Failures": 30}},
               "H": {"Plugin": "null", "Type": "Null", "DependsOn": ["G"]}}),
    );
    let out = stack.expect(1, &["apply", "SPEC", "--json"]);
    assert!(
        out.contains("--json cannot ask for confirmation: pass --yes to apply without asking"),
        "{out}"
    );
    let out = stack.rkit(&["apply", "SPEC", "--json", "--yes", "--parallelism", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    let retries: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "operation_retrying" && l["resource"] == "F")
        .collect();
    assert_eq!(retries.len(), 2, "{lines:#?}");
    assert_eq!(retries[0]["attempt"], 2);
    assert_eq!(retries[0]["reason"]["kind"], "transient");
    let failed = &lines[position(&lines, "operation_failed", "G")];
    assert_eq!(failed["error"]["kind"], "transient");
    assert_eq!(failed["@level"], "error");
    let skipped = &lines[position(&lines, "operation_skipped", "H")];
    assert_eq!(skipped["waits_for"], "G");
    let report = lines.iter().find(|l| l["type"] == "report").unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["report"]["failed"][0][0], "G");
    assert_eq!(report["report"]["failed"][0][1]["kind"], "transient");
}

/// Runs rkit on a terminal (util-linux `script`), with `env`.
fn on_a_terminal(stack: &Stack, args: &str, env: &[(&str, &str)]) -> String {
    let spec = stack.spec_path();
    let command = format!(
        "{} {}",
        env!("CARGO_BIN_EXE_rkit"),
        args.replace("SPEC", spec.to_str().unwrap())
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(stack.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .env("TERM", "xterm")
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs rkit on a terminal");
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_terminal_shows_progress_in_colour_unless_told_not_to() {
    let stack = Stack::new();
    three(&stack, 1500);
    let fast = [("RKIT_PROGRESS_SECONDS", "0.4")];
    let out = on_a_terminal(&stack, "apply SPEC --yes --approve", &fast);
    assert!(out.contains("B: Creating…"), "{out}");
    assert!(
        out.contains("B: Still creating… [") && out.contains("s elapsed]"),
        "{out}"
    );
    assert!(out.contains("B: created ["), "{out}");
    assert!(out.contains("Apply complete: 3 created"), "{out}");
    assert!(
        out.contains("\u{1b}[32m+\u{1b}[0m"),
        "a green + on a terminal: {out:?}"
    );

    // NO_COLOR and --no-color: the same lines, no escape codes.
    let mut no_color = fast.to_vec();
    no_color.push(("NO_COLOR", "1"));
    let out = on_a_terminal(&stack, "destroy SPEC --yes --approve", &no_color);
    assert!(
        out.contains("B: Still deleting…") || out.contains("B: deleted ["),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "NO_COLOR: {out:?}");
    let out = on_a_terminal(&stack, "apply SPEC --yes --approve --no-color", &fast);
    assert!(out.contains("B: Still creating…"), "{out}");
    assert!(!out.contains('\u{1b}'), "--no-color: {out:?}");

    // Not a terminal: plain lines.
    let out = stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(
        out.contains("- B: Deleting…") && !out.contains('\u{1b}'),
        "{out:?}"
    );
}
