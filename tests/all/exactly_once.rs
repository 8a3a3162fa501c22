//! Exactly once under faults, end to end through the real `rkit` binary: what rkit creates
//! exists once and is recorded whatever fails. Against moto through a fault-injecting proxy
//! (answers lost after the work was done, throttling, 500s, resets) and with runs killed or
//! interrupted; outcomes are checked with boto3 against moto directly, not through rkit.
//! Offline parts (adoption, orphans, interruption, closed pipes, state surgery) use the real
//! `local` and `null` providers.

use crate::common;

use common::fault_proxy::{Fault, FaultProxy, Policy};
use common::moto::Moto;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A spec in a temporary directory and the environment rkit runs in.
struct Run {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Run {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("HOME".to_string(), dir.path().display().to_string()),
            (
                "RKIT_CACHE_DIR".to_string(),
                common::cache_dir().display().to_string(),
            ),
        ];
        Self { dir, env }
    }

    /// A run against AWS at `endpoint` (moto, or the proxy in front of it).
    fn aws(moto: &Moto, endpoint: &str) -> Self {
        let mut run = Self::new();
        run.env.extend(moto.env());
        run.env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        run.env
            .push(("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()));
        run
    }

    fn spec(&self) -> PathBuf {
        self.dir.path().join("stack.json")
    }

    fn write(&self, spec: &Value) {
        std::fs::write(self.spec(), serde_json::to_vec_pretty(spec).unwrap()).unwrap();
    }

    /// `examples/aws/stack.json` with its provider pointing at the built component.
    fn write_aws_example(&self) {
        let text = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/aws/stack.json"),
        )
        .unwrap();
        let text = text.replace(
            "../../target/wasm32-wasip2/release/aws.wasm",
            common::provider_wasm("aws").to_str().unwrap(),
        );
        std::fs::write(self.spec(), text).unwrap();
    }

    fn args<'a>(&'a self, spec: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "SPEC" { spec } else { a })
            .collect();
        common::approving(&mut args);
        args
    }

    fn rkit(&self, args: &[&str]) -> (i32, String) {
        let spec = self.spec().display().to_string();
        common::rkit(self.dir.path(), &self.env, &self.args(&spec, args))
    }

    fn expect(&self, code: i32, args: &[&str]) -> String {
        let (got, text) = self.rkit(args);
        assert_eq!(got, code, "rkit {args:?}:\n{text}");
        text
    }

    /// Starts rkit in the background.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        let spec = self.spec().display().to_string();
        Command::new(env!("CARGO_BIN_EXE_rkit"))
            .args(self.args(&spec, args))
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn journal_lines(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("stack.rkit-state.json.journal"))
            .map_or(0, |t| t.lines().count())
    }

    fn delete_state(&self) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().contains(".rkit-state.json") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }

    fn recorded(&self) -> usize {
        self.expect(0, &["state", "list", "SPEC"]).lines().count()
    }
}

/// Applies until it exits 0 (at most `tries` times); how many applies it took.
fn converge(run: &Run, tries: usize) -> usize {
    for n in 1..=tries {
        let (code, text) = run.rkit(&["apply", "SPEC", "--yes"]);
        if code == 0 {
            return n;
        }
        eprintln!("apply {n} of {tries} exited {code}:\n{text}");
    }
    panic!("did not converge in {tries} applies");
}

/// What the example stack holds in moto, by kind: each live object's `rkit:name` (or `?`
/// when it carries none), counted.
fn census(moto: &Moto) -> BTreeMap<String, BTreeMap<String, usize>> {
    let state = moto.state();
    let mut out = BTreeMap::new();
    for (kind, objects) in state.as_object().unwrap() {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for o in objects.as_array().unwrap() {
            if o["state"] == "terminated" || o["state"] == "shutting-down" {
                continue;
            }
            let name = o["tags"]["rkit:name"].as_str().unwrap_or("?").to_string();
            // Instances' root volumes are the instances' (moto lists them without tags).
            if kind == "volumes" && name == "?" {
                continue;
            }
            *names.entry(name).or_default() += 1;
        }
        if !names.is_empty() {
            out.insert(kind.clone(), names);
        }
    }
    out
}

/// The example stack exactly once: one object per resource, nothing untagged.
fn expected_census() -> BTreeMap<String, BTreeMap<String, usize>> {
    let kinds: &[(&str, &[&str])] = &[
        ("vpcs", &["Network"]),
        ("subnets", &["PublicA", "PublicB"]),
        ("gateways", &["Gateway"]),
        ("route_tables", &["PublicRoutes"]),
        ("security_groups", &["WebSecurityGroup"]),
        ("volumes", &["Data"]),
        ("instances", &["WebA", "WebB"]),
        ("load_balancers", &["WebLoadBalancer"]),
        ("target_groups", &["WebTargets"]),
        ("listeners", &["Http"]),
    ];
    kinds
        .iter()
        .map(|(kind, names)| {
            (
                kind.to_string(),
                names.iter().map(|n| (n.to_string(), 1)).collect(),
            )
        })
        .collect()
}

/// Destroys (retrying under faults) and checks nothing of the stack is left.
fn destroy_all(run: &Run, moto: &Moto) -> usize {
    let mut n = 0;
    loop {
        n += 1;
        let (code, text) = run.rkit(&["destroy", "SPEC", "--yes"]);
        if code == 0 {
            break;
        }
        assert!(n < 3, "destroy did not finish in 3 runs:\n{text}");
    }
    let left = census(moto);
    assert!(left.is_empty(), "left behind: {left:?}");
    n
}

#[test]
fn the_example_uses_the_names_the_census_expects() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/aws/stack.json"),
    )
    .unwrap();
    for names in expected_census().values() {
        for name in names.keys() {
            assert!(text.contains(&format!("\"{name}\": {{")), "{name}");
        }
    }
}

#[test]
fn an_answer_lost_after_each_create_like_action_makes_no_duplicate() {
    let moto = Moto::start();
    let actions = [
        "CreateVpc",
        "ModifyVpcAttribute",
        "CreateSubnet",
        "ModifySubnetAttribute",
        "CreateInternetGateway",
        "AttachInternetGateway",
        "CreateRouteTable",
        "CreateRoute",
        "AssociateRouteTable",
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "CreateVolume",
        "RunInstances",
        "AttachVolume",
        "CreateLoadBalancer",
        "CreateTargetGroup",
        "RegisterTargets",
        "CreateListener",
    ];
    let started = Instant::now();
    for action in actions {
        eprintln!("losing the answer to {action}");
        let proxy = FaultProxy::start(&moto.endpoint, Policy::DropFirst(action.to_string()));
        let run = Run::aws(&moto, &proxy.endpoint);
        run.write_aws_example();
        let out = run.expect(0, &["apply", "SPEC", "--yes"]);
        let dropped: Vec<_> = proxy
            .log()
            .into_iter()
            .filter(|(_, f)| *f == Fault::DropAnswer)
            .collect();
        assert_eq!(
            dropped,
            [(action.to_string(), Fault::DropAnswer)],
            "{action} is sent by the example"
        );
        assert_eq!(
            census(&moto),
            expected_census(),
            "after losing {action}:\n{out}"
        );
        run.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
        assert_eq!(run.recorded(), 13);
        destroy_all(&run, &moto);
    }
    eprintln!(
        "{} lost answers, one apply each, 0 duplicates, in {:.1} s",
        actions.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Applies and destroys the example with every request independently faulted at `rate` per
/// kind (throttled, 500 after the work, reset before it, answer lost after it).
fn random_faults(rate: f64, seed: u64, tries: usize) {
    let moto = Moto::start();
    let rng = fastrand::Rng::with_seed(seed);
    let proxy = FaultProxy::start(&moto.endpoint, Policy::Random { rate, rng });
    let run = Run::aws(&moto, &proxy.endpoint);
    run.write_aws_example();
    let started = Instant::now();
    let applies = converge(&run, tries);
    let took = started.elapsed();
    assert_eq!(census(&moto), expected_census(), "seed {seed}");
    // Reality matches the spec: a plan (still under faults) has nothing to do.
    let (code, text) = run.rkit(&["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        code == 0 || code == 1,
        "seed {seed}: pending changes:\n{text}"
    );
    let destroys = destroy_all(&run, &moto);
    let log = proxy.log();
    eprintln!(
        "faults {:.0}% each (seed {seed}): {} requests, {} faulted; converged in {applies} \
         apply(s), {:.1} s; destroyed in {destroys}; 0 duplicates",
        rate * 100.0,
        log.len(),
        proxy.faults(),
        took.as_secs_f64()
    );
}

#[test]
fn five_percent_of_each_fault_converges_without_duplicates() {
    random_faults(0.05, 11, 1);
}

#[test]
fn ten_percent_of_each_fault_converges_within_three_applies() {
    random_faults(0.10, 7, 3);
}

#[test]
fn killed_at_ten_points_the_next_apply_converges_without_duplicates() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint, Policy::Pass);
    // Slow enough that each kill lands mid-apply.
    proxy.set_delay(Duration::from_millis(60));
    let started = Instant::now();
    for point in 1..=10 {
        let run = Run::aws(&moto, &proxy.endpoint);
        run.write_aws_example();
        let mut child = run.spawn(&["apply", "SPEC", "--yes"]);
        // Odd points land just after an intent (before its answer); the journal grows by one
        // line per intent and one per record.
        let lines = 2 * point + 1;
        let started = Instant::now();
        while run.journal_lines() < lines {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the apply ended before line {lines}"
            );
            assert!(started.elapsed() < Duration::from_secs(120), "no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let lost_state = point % 2 == 0;
        if lost_state {
            run.delete_state();
        }
        let out = run.expect(0, &["apply", "SPEC", "--yes"]);
        assert_eq!(
            census(&moto),
            expected_census(),
            "killed after journal line {lines} (state deleted: {lost_state}):\n{out}"
        );
        // What the killed run made is adopted as it is, never replaced (an instance's user
        // data, which a list does not return, included).
        assert!(
            out.contains(" 0 replaced, 0 deleted;"),
            "killed after journal line {lines} (state deleted: {lost_state}):\n{out}"
        );
        run.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
        destroy_all(&run, &moto);
    }
    eprintln!(
        "killed at 10 points (5 with the state deleted): each next apply converged, 0 \
         duplicates, {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

// ---- offline: the local and null providers ----

fn local_spec(files: &[(&str, &str)]) -> Value {
    let resources: serde_json::Map<String, Value> = files
        .iter()
        .map(|(name, content)| {
            (
                name.to_string(),
                json!({"Plugin": "local", "Type": "File",
                       "Properties": {"Path": format!("{name}.txt"), "Content": content}}),
            )
        })
        .collect();
    json!({
        "Stack": "files",
        "Providers": {"local": {"Source": common::provider_wasm("local"), "Grants": {"Filesystem": "out"}}},
        "Resources": resources,
    })
}

fn out_files(run: &Run) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.dir.path().join("out"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".txt"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_lost_state_adopts_and_orphans_are_shown_deleted_and_found_by_destroy() {
    let run = Run::new();
    run.write(&local_spec(&[("A", "a"), ("B", "b"), ("C", "c")]));
    run.expect(0, &["apply", "SPEC", "--yes"]);

    // The state is lost: the objects carry the stack's tags, so the next apply adopts them.
    run.delete_state();
    let out = run.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("+ A: adopted [A.txt]"), "{out}");
    assert!(
        out.contains("adopting A.txt, which carries this stack's tags and its name"),
        "{out}"
    );
    run.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);

    // Lost again, and C left the spec: adoption alone deletes nothing; --orphans shows C.
    run.delete_state();
    run.write(&local_spec(&[("A", "a"), ("B", "b")]));
    let plan = run.expect(0, &["plan", "SPEC"]);
    assert!(!plan.contains("orphan"), "{plan}");
    let plan = run.expect(0, &["plan", "SPEC", "--orphans"]);
    assert!(
        plan.contains(
            "- C (orphan C.txt) (local File): it carries this stack's tags but the state does not record it"
        ),
        "{plan}"
    );
    run.expect(0, &["apply", "SPEC", "--yes", "--orphans"]);
    assert_eq!(out_files(&run), ["A.txt", "B.txt"]);

    // Lost once more: destroy finds what the stack's tags say it owns.
    run.delete_state();
    let out = run.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(out.contains("2 deleted"), "{out}");
    assert!(out_files(&run).is_empty(), "{:?}", out_files(&run));
}

#[test]
fn state_rm_mv_and_import_need_no_text_editor() {
    let run = Run::new();
    run.write(&local_spec(&[("A", "a"), ("B", "b")]));
    run.expect(0, &["apply", "SPEC", "--yes"]);

    // mv: the resource is renamed in the spec and in the state; the object still carries its
    // old name, so the next apply retags it (a lost state would otherwise find an orphan).
    let mut spec = local_spec(&[("B", "b")]);
    spec["Resources"]["Renamed"] =
        json!({"Plugin": "local", "Type": "File", "Properties": {"Path": "A.txt", "Content": "a"}});
    run.write(&spec);
    let out = run.expect(0, &["state", "mv", "SPEC", "A", "Renamed"]);
    assert_eq!(out, "A is now recorded as Renamed\n");
    let plan = run.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        plan.contains("it still carries rkit:name=A (renamed with state mv): retagged"),
        "{plan}"
    );
    run.expect(0, &["apply", "SPEC", "--yes"]);
    let sidecar =
        std::fs::read_to_string(run.dir.path().join("out/.rkit/File/A.txt.json")).unwrap();
    assert!(sidecar.contains("\"rkit:name\":\"Renamed\""), "{sidecar}");
    run.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
    let err = run.expect(1, &["state", "mv", "SPEC", "Nope", "X"]);
    assert!(err.contains("records no resource \"Nope\""), "{err}");

    // rm: forgotten, the file is left alone, even by destroy's orphan scan.
    let out = run.expect(0, &["state", "rm", "SPEC", "B"]);
    assert_eq!(out, "B: forgotten; its object B.txt is left as it is\n");
    run.write(&local_spec(&[]));
    let mut spec = local_spec(&[]);
    spec["Resources"]["Renamed"] =
        json!({"Plugin": "local", "Type": "File", "Properties": {"Path": "A.txt", "Content": "a"}});
    run.write(&spec);
    run.expect(0, &["destroy", "SPEC", "--yes"]);
    assert_eq!(out_files(&run), ["B.txt"]);

    // import: an object made by hand becomes the spec's resource; the plan shows the drift.
    std::fs::write(run.dir.path().join("out/hand.txt"), "by hand").unwrap();
    let mut spec = local_spec(&[]);
    spec["Resources"]["Hand"] = json!({"Plugin": "local", "Type": "File",
        "Properties": {"Path": "hand.txt", "Content": "managed"}});
    run.write(&spec);
    let out = run.expect(0, &["import", "SPEC", "Hand", "hand.txt"]);
    assert!(
        out.contains("Hand: imported hand.txt (local File)"),
        "{out}"
    );
    let plan = run.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        plan.contains("Content: \"by hand\" => \"managed\""),
        "{plan}"
    );
    let err = run.expect(1, &["import", "SPEC", "Hand", "hand.txt"]);
    assert!(
        err.contains("Hand is already recorded (as hand.txt)"),
        "{err}"
    );
    run.expect(0, &["apply", "SPEC", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(run.dir.path().join("out/hand.txt")).unwrap(),
        "managed"
    );
}

fn null_spec(resources: Value) -> Value {
    json!({"Providers": {"null": {"Source": common::provider_wasm("null")}}, "Resources": resources})
}

#[test]
fn a_reversed_dependency_applies_and_destroys() {
    let run = Run::new();
    run.write(&null_spec(json!({
        "Y": {"Plugin": "null", "Type": "Null", "DependsOn": ["Z"]},
        "Z": {"Plugin": "null", "Type": "Null"}})));
    run.expect(0, &["apply", "SPEC", "--yes"]);
    run.write(&null_spec(json!({
        "Y": {"Plugin": "null", "Type": "Null"},
        "Z": {"Plugin": "null", "Type": "Null", "DependsOn": ["Y"], "Properties": {"Input": "x"}}})));
    run.expect(0, &["apply", "SPEC", "--yes"]);
    run.write(&null_spec(json!({})));
    let out = run.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("2 deleted"), "{out}");

    // Recorded dependencies that contradict each other (a cycle): a warning, never a hang.
    run.write(&null_spec(json!({
        "Y": {"Plugin": "null", "Type": "Null"},
        "Z": {"Plugin": "null", "Type": "Null"}})));
    run.expect(0, &["apply", "SPEC", "--yes"]);
    let path = run.dir.path().join("stack.rkit-state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["Resources"]["Y"]["DependsOn"] = json!(["Z"]);
    state["Resources"]["Z"]["DependsOn"] = json!(["Y"]);
    std::fs::write(&path, state.to_string()).unwrap();
    let out = run.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(out.contains("is part of a cycle"), "{out}");
    assert!(out.contains("2 deleted"), "{out}");
}

/// Runs `rkit ARGS | head -1` in a shell; rkit's exit code and what head printed.
fn piped_to_head(run: &Run, args: &str) -> (i32, String) {
    let rkit = env!("CARGO_BIN_EXE_rkit");
    let script = format!("'{rkit}' {args} 2>/dev/null | head -1; exit ${{PIPESTATUS[0]}}",);
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(run.dir.path())
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_closed_pipe_never_panics_nor_stops_the_recording() {
    let run = Run::new();
    let files: Vec<(String, String)> = (0..300)
        .map(|i| (format!("F{i:03}"), "x".to_string()))
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    run.write(&local_spec(&files));
    let spec = run.spec().display().to_string();
    let (code, line) = piped_to_head(&run, &format!("plan '{spec}' --approve"));
    assert_eq!(code, 0, "{line}");
    let (code, _) = piped_to_head(&run, &format!("apply '{spec}' --approve --yes"));
    assert_eq!(code, 0);
    assert_eq!(run.recorded(), 300);
    assert_eq!(out_files(&run).len(), 300);
    let (code, line) = piped_to_head(&run, &format!("state list '{spec}'"));
    assert_eq!((code, line.as_str()), (0, "F000\tlocal File\tF000.txt\n"));
}

fn sleepy(n: usize, ms: u64) -> Value {
    let resources: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                format!("S{i:02}"),
                json!({"Plugin": "null", "Type": "Sleepy", "Properties": {"Ms": ms}}),
            )
        })
        .collect();
    null_spec(Value::Object(resources))
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started and has not waited for.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Waits until `n` operations are recorded (the journal has `n` records after their intents).
fn wait_for_records(run: &Run, child: &mut std::process::Child, n: usize) {
    let started = Instant::now();
    while run.journal_lines() < 2 * n {
        assert!(child.try_wait().unwrap().is_none(), "ended too early");
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_first_interrupt_finishes_what_is_in_flight_and_records_it() {
    let run = Run::new();
    run.write(&sleepy(20, 400));
    let mut child = run.spawn(&["apply", "SPEC", "--yes", "--parallelism", "2"]);
    wait_for_records(&run, &mut child, 3);
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    assert!(
        stderr.contains("Interrupted: no new operation starts"),
        "{stderr}"
    );
    assert!(stdout.contains("not started (interrupted)"), "{stdout}");
    // Everything that started finished and is recorded; no intent is left open.
    let created = stdout.matches(": created [").count();
    assert_eq!(run.recorded(), created, "{stdout}");
    let state: Value = serde_json::from_slice(
        &std::fs::read(run.dir.path().join("stack.rkit-state.json")).unwrap(),
    )
    .unwrap();
    assert!(state.get("Intents").is_none(), "{state}");
    // The lock was released: the next apply finishes the rest.
    let out = run.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains(&format!("{} created", 20 - created)), "{out}");
}

#[test]
fn a_second_interrupt_abandons_in_flight_work_and_the_next_run_resolves_it() {
    let run = Run::new();
    run.write(&sleepy(6, 3000));
    let child = run.spawn(&["apply", "SPEC", "--yes", "--parallelism", "2"]);
    // Two intents journaled: two creates in flight.
    let started = Instant::now();
    while run.journal_lines() < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Abandoned the operations in flight"),
        "{stderr}"
    );
    let journal =
        std::fs::read_to_string(run.dir.path().join("stack.rkit-state.json.journal")).unwrap();
    assert_eq!(journal.matches("\"Intent\"").count(), 2, "{journal}");
    // The open intents are settled (null objects cannot be listed: nothing to adopt), and the
    // apply creates everything once.
    let out = run.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("6 created"), "{out}");
    assert_eq!(run.recorded(), 6);
}

#[test]
fn a_state_error_names_the_file() {
    let run = Run::new();
    run.write(&null_spec(json!({})));
    let journal = run.dir.path().join("stack.rkit-state.json.journal");
    std::fs::write(&journal, b"{\"Serial\":1}\n{}\n").unwrap();
    let err = run.expect(1, &["plan", "SPEC"]);
    assert!(
        err.contains(&format!("{}:1: corrupt journal entry:", journal.display())),
        "{err}"
    );
    let dir_state: &Path = run.dir.path();
    let err = run.expect(1, &["plan", "SPEC", "--state", dir_state.to_str().unwrap()]);
    assert!(
        err.contains(&format!("reading the state {}", dir_state.display())),
        "{err}"
    );
}

#[test]
fn twenty_percent_of_each_fault_converges_within_three_applies() {
    random_faults(0.20, 3, 3);
}

#[test]
fn an_orphans_provider_supplied_name_is_escaped_on_the_terminal() {
    let run = Run::new();
    run.write(&local_spec(&[("A", "a")]));
    run.expect(0, &["apply", "SPEC", "--yes"]);
    // An object of the stack whose name tag carries a terminal escape sequence.
    let out = run.dir.path().join("out");
    std::fs::write(out.join("evil.txt"), "x").unwrap();
    let sidecar = out.join(".rkit/File/A.txt.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    meta["Tags"]["rkit:name"] = json!("\u{1b}]0;owned\u{7}\u{1b}[31mRED");
    meta["Properties"]["Path"] = json!("evil.txt");
    std::fs::write(
        out.join(".rkit/File/evil.txt.json"),
        serde_json::to_vec(&meta).unwrap(),
    )
    .unwrap();
    let plan = run.expect(0, &["plan", "SPEC", "--orphans"]);
    assert!(
        !plan.contains('\u{1b}') && !plan.contains('\u{7}'),
        "{plan:?}"
    );
    assert!(plan.contains("(orphan evil.txt)"), "{plan}");
    let applied = run.expect(0, &["apply", "SPEC", "--yes", "--orphans"]);
    assert!(!applied.contains('\u{1b}'), "{applied:?}");
    assert_eq!(out_files(&run), ["A.txt"]);
}
