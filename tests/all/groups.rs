//! Groups end to end with the real binary and the `local` and `null` providers: scaling up and
//! down (files on disk), the plan's group lines, `{{.Groups.X.IDs}}` following membership,
//! members found by their tags after the state is lost (adopted, never duplicated), a rolling
//! update one batch at a time with health waits, and an unhealthy replacement stopping it.

use crate::common;

use common::stack::Stack;
use serde_json::{Value, json};

/// Writes a spec with these groups and resources (local grants `out/`).
fn write(stack: &Stack, groups: Value, resources: Value) {
    let spec = json!({
        "Providers": {
            "local": {"Source": common::provider_wasm("local"), "Grants": {"Filesystem": "out"}},
            "null": {"Source": common::provider_wasm("null")},
        },
        "Groups": groups,
        "Resources": resources,
        "Outputs": {"Ids": "{{.Groups.Web.IDs}}"},
    });
    std::fs::write(stack.spec_path(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

fn web_files(size: u32) -> Value {
    json!({"Web": {
        "Size": size, "Plugin": "local", "Type": "File",
        "Properties": {"Path": "web-{{.Member.Index}}.txt", "Content": "web {{.Member.Index}}"}
    }})
}

fn files(stack: &Stack) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(stack.dir.path().join("out"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("web-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn output_ids(stack: &Stack) -> Vec<String> {
    let out = stack.expect(0, &["output", "SPEC", "Ids", "--json"]);
    serde_json::from_str::<Vec<String>>(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn a_group_scales_up_and_down_and_what_uses_its_ids_follows() {
    let stack = Stack::new();
    std::fs::create_dir_all(stack.dir.path().join("out")).unwrap();
    let list = json!({"List": {"Plugin": "null", "Type": "Null",
        "Properties": {"Input": "{{.Groups.Web.IDs}}"}}});
    write(&stack, web_files(3), list.clone());
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("Web: 0 → 3 (+3)"), "{plan}");
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(files(&stack), ["web-0.txt", "web-1.txt", "web-2.txt"]);
    let content = std::fs::read_to_string(stack.out("web-2.txt")).unwrap();
    assert_eq!(content, "web 2");
    let three = output_ids(&stack);
    assert_eq!(three.len(), 3);
    let state = stack.state();
    assert_eq!(
        state["Resources"]["List"]["Attributes"]["Output"],
        json!(three),
        "the list resource holds the members' IDs"
    );
    let tags = &state["Resources"]["Web[1]"]["Tags"];
    assert_eq!(tags["rkit:group"], "Web");
    assert_eq!(tags["rkit:logical-id"], "1");
    assert_eq!(tags["rkit:config-hash"].as_str().unwrap().len(), 16);

    write(&stack, web_files(5), list.clone());
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("Web: 3 → 5 (+2)"), "{plan}");
    assert!(
        plan.contains("~ List"),
        "what uses the IDs is updated: {plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(files(&stack).len(), 5);
    let five = output_ids(&stack);
    assert_eq!(&five[..3], &three[..], "members kept keep their IDs");

    write(&stack, web_files(2), list);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("Web: 5 → 2 (-3)"), "{plan}");
    assert!(
        plan.contains("- Web[4] (local File): group Web has 2 members"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(files(&stack), ["web-0.txt", "web-1.txt"]);
    assert_eq!(output_ids(&stack), &three[..2]);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("No changes"), "{plan}");
}

#[test]
fn members_found_by_their_tags_are_adopted_after_the_state_is_lost() {
    let stack = Stack::new();
    std::fs::create_dir_all(stack.dir.path().join("out")).unwrap();
    write(&stack, web_files(2), json!({}));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let before = stack.state();
    let ids: Vec<String> = ["Web[0]", "Web[1]"]
        .iter()
        .map(|m| before["Resources"][m]["ID"].as_str().unwrap().to_string())
        .collect();
    std::fs::remove_file(stack.dir.path().join("stack.rkit-state.json")).unwrap();
    // Grown to 3 with the state gone: the two found are adopted, one is created.
    write(&stack, web_files(3), json!({}));
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("Web: 2 → 3 (+1)"), "{plan}");
    assert!(plan.contains("adopting"), "{plan}");
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let after = stack.state();
    for (m, id) in ["Web[0]", "Web[1]"].iter().zip(&ids) {
        assert_eq!(after["Resources"][m]["ID"].as_str().unwrap(), id, "{m}");
    }
    assert_eq!(files(&stack).len(), 3);
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("No changes"), "{plan}");
    // converge keeps the group true: a member deleted outside rkit is made again.
    std::fs::remove_file(stack.out("web-1.txt")).unwrap();
    let out = stack.expect(0, &["converge", "SPEC", "--once"]);
    assert!(out.contains("Web[1]"), "{out}");
    assert_eq!(files(&stack).len(), 3);
}

fn null_web(input: &str, healthy: bool, updating: Value) -> Value {
    json!({"Web": {
        "Size": 3, "Plugin": "null", "Type": "Null",
        "Properties": {"Input": input, "Healthy": healthy},
        "Updating": updating
    }})
}

#[test]
fn a_template_change_rolls_through_one_batch_at_a_time() {
    let stack = Stack::new();
    let updating = json!({"MaxUnavailable": 1, "HealthyFor": "300ms"});
    write(&stack, null_web("v1", true, updating.clone()), json!({}));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    write(&stack, null_web("v2", true, updating), json!({}));
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains("Web: rolling update of 3 members (1 at a time)"),
        "{plan}"
    );
    assert!(
        plan.contains("group Web's template changed: rolling update"),
        "{plan}"
    );
    let out = stack.expect(0, &["apply", "SPEC", "--yes", "--json"]);
    let events = common::json_lines(&out);
    // Each member's replacement (create, healthy for 300 ms, delete of the old one) ends
    // before the next one starts.
    let mut spans: Vec<(String, usize, usize)> = Vec::new();
    for member in ["Web[0]", "Web[1]", "Web[2]"] {
        let at = |kind: &str| {
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| e["type"] == kind && e["resource"] == member)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        let (started, finished) = (at("operation_started"), at("operation_finished"));
        assert!(
            !started.is_empty() && !finished.is_empty(),
            "{member}: {out}"
        );
        spans.push((member.into(), started[0], *finished.last().unwrap()));
    }
    for pair in spans.windows(2) {
        assert!(pair[0].2 < pair[1].1, "{pair:?} overlap:\n{out}");
    }
    let state = stack.state();
    let hash = state["Resources"]["Web[0]"]["Tags"]["rkit:config-hash"].clone();
    for m in ["Web[1]", "Web[2]"] {
        assert_eq!(state["Resources"][m]["Tags"]["rkit:config-hash"], hash);
        assert_eq!(state["Resources"][m]["Properties"]["Input"], "v2");
    }
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(plan.contains("No changes"), "{plan}");
}

#[test]
fn a_replacement_that_never_becomes_healthy_stops_the_rolling_update() {
    let stack = Stack::new();
    let updating = json!({"MaxUnavailable": 1, "HealthyFor": "0s", "HealthTimeout": "1s"});
    write(&stack, null_web("v1", true, updating.clone()), json!({}));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    write(&stack, null_web("v2", false, updating), json!({}));
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("did not stay healthy for 0s within 1s (its provider reports it unhealthy)"),
        "{out}"
    );
    assert!(out.contains("the rolling update stops here"), "{out}");
    let state = stack.state();
    // The first replacement is recorded (it exists); the others still run the old template.
    assert_eq!(state["Resources"]["Web[0]"]["Properties"]["Input"], "v2");
    for m in ["Web[1]", "Web[2]"] {
        assert_eq!(state["Resources"][m]["Properties"]["Input"], "v1", "{m}");
    }
    assert!(out.contains("Web[1]") && out.contains("Web[0]"), "{out}");
}

#[test]
fn bad_groups_are_named_in_the_spec() {
    let stack = Stack::new();
    write(
        &stack,
        json!({"Web": {"Size": 2, "Plugin": "null", "Type": "Null",
            "Updating": {"HealthyFor": "soon"}}}),
        json!({}),
    );
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(out.contains("group Web"), "{out}");
    assert!(
        out.contains("Updating.HealthyFor: \"soon\": expected a duration such as 30s, 500ms, 2m"),
        "{out}"
    );
    write(
        &stack,
        json!({"Web": {"Size": 2, "Plugin": "null", "Type": "Null"}}),
        json!({"L": {"Plugin": "null", "Type": "Null",
            "Properties": {"Input": "ids: {{.Groups.Web.IDs}}"}}}),
    );
    let out = stack.expect(1, &["validate", "SPEC"]);
    assert!(out.contains("resource L"), "{out}");
    assert!(
        out.contains("{{.Groups.NAME.IDs}} is a list of IDs: give it as the whole value"),
        "{out}"
    );
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn sigterm_during_a_health_wait_leaves_a_state_the_next_run_continues_from() {
    use std::io::BufRead;
    let stack = Stack::new();
    let updating = json!({"MaxUnavailable": 1, "HealthyFor": "30s"});
    write(
        &stack,
        null_web("v1", true, json!({"MaxUnavailable": 1})),
        json!({}),
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    write(&stack, null_web("v2", true, updating), json!({}));
    let spec = stack.spec_path();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args([
            "apply",
            spec.to_str().unwrap(),
            "--yes",
            "--json",
            "--approve",
        ])
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Web[0]'s replacement is made; its 30 s health wait has begun.
    for line in lines.by_ref().map_while(Result::ok) {
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["type"] == "operation_started" && e["resource"] == "Web[0]" {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
    let started = std::time::Instant::now();
    unsafe { libc_kill(child.id() as i32, 15) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it stopped waiting at once"
    );
    assert_ne!(status.code(), Some(0), "{rest:?}");
    let rest = rest.join("\n");
    assert!(
        rest.contains("interrupted while waiting for it to be healthy"),
        "{rest}"
    );
    // The replacement is recorded with the new template; the rest roll on the next run.
    let state = stack.state();
    assert_eq!(state["Resources"]["Web[0]"]["Properties"]["Input"], "v2");
    assert_eq!(state["Resources"]["Web[1]"]["Properties"]["Input"], "v1");
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains("Web: rolling update of 2 members (1 at a time)"),
        "{plan}"
    );
    assert!(!plan.contains("Web[0] (null Null)"), "{plan}");
}
