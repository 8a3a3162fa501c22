//! `rkit converge` end to end with the real binary and the `local` provider: drift repaired
//! within two ticks, `--observe-only` and `--once`, the per-tick budget, a changed spec
//! pending or followed, `/healthz` and `/metrics` scraped, the lock free between ticks, and
//! SIGTERM leaving a consistent state.

use crate::common;

use common::stack::{Stack, file};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `rkit converge --json`, its events read line by line.
pub(crate) struct Running {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Running {
    fn start(stack: &Stack, extra: &[&str]) -> Self {
        let spec = stack.spec_path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rkit"));
        command
            .args(["converge", spec.to_str().unwrap(), "--json", "--approve"])
            .args(extra);
        Self::spawn(command)
    }

    /// Runs `command` (an `rkit converge … --json`), reading its events.
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command
            .env("RKIT_CACHE_DIR", common::cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits (at most `within`) for an event matching `want`; the events seen until then.
    pub(crate) fn until(&self, within: Duration, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = want(&line);
                    seen.push(line);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("not seen within {within:?}; saw: {seen:#?}");
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        unsafe { libc_kill(self.child.id() as i32, 15) };
        self.child.wait().unwrap()
    }
}

/// A test that fails leaves no converge running (it would hold the test's output open).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn tick_finished(line: &Value) -> bool {
    line["type"] == "tick_finished"
}

/// GET `path` from `addr`: the status line and the body.
pub(crate) fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[test]
fn once_and_observe_only_report_and_repair_drift() {
    let stack = Stack::new();
    stack.write(json!({"F": file("f.txt", "hello")}), json!({}));
    stack.expect(0, &["converge", "SPEC", "--once"]);
    assert_eq!(
        std::fs::read_to_string(stack.out("f.txt")).unwrap(),
        "hello"
    );

    std::fs::remove_file(stack.out("f.txt")).unwrap();
    let out = stack.expect(2, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(
        out.contains("F: to create: it was deleted outside rkit"),
        "{out}"
    );
    assert!(
        out.contains("tick 1: drift: 1 to change (nothing changed)"),
        "{out}"
    );
    assert!(!stack.out("f.txt").exists(), "observe-only changes nothing");

    let out = stack.expect(0, &["converge", "SPEC", "--once"]);
    assert!(out.contains("F: created [f.txt]"), "{out}");
    assert_eq!(
        std::fs::read_to_string(stack.out("f.txt")).unwrap(),
        "hello"
    );
    let out = stack.expect(0, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(out.contains("tick 1: no drift"), "{out}");
}

#[test]
fn the_loop_repairs_within_two_ticks_serves_metrics_and_stops_cleanly() {
    let stack = Stack::new();
    stack.write(
        json!({"F": file("f.txt", "hello"), "G": file("g.txt", "world")}),
        json!({}),
    );
    let running = Running::start(&stack, &["--interval", "1s", "--listen", ":0"]);
    let seen = running.until(Duration::from_secs(60), |l| l["type"] == "listening");
    let addr = seen.last().unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    running.until(Duration::from_secs(60), tick_finished);
    assert_eq!(
        std::fs::read_to_string(stack.out("f.txt")).unwrap(),
        "hello"
    );

    // Deleted outside rkit: back within two ticks; drifted content: reverted.
    std::fs::remove_file(stack.out("g.txt")).unwrap();
    std::fs::write(stack.out("f.txt"), "tampered").unwrap();
    // Within two ticks (counted, not timed: a loaded machine makes ticks slower; a tick
    // already under way when the files changed may see part of it).
    let repaired = std::cell::Cell::new(0);
    let seen = running.until(Duration::from_secs(60), |l| {
        if tick_finished(l) {
            repaired.set(repaired.get() + l["repaired"].as_u64().unwrap());
        }
        repaired.get() >= 2
    });
    let ticks = seen.iter().filter(|l| tick_finished(l)).count();
    assert!(ticks <= 2, "repaired after {ticks} ticks: {seen:#?}");
    assert_eq!(
        std::fs::read_to_string(stack.out("g.txt")).unwrap(),
        "world"
    );
    assert_eq!(
        std::fs::read_to_string(stack.out("f.txt")).unwrap(),
        "hello"
    );

    // The lock is held during a tick only: a person's plan between ticks gets it (or, during
    // a tick, is told who holds it).
    let mut planned = false;
    for _ in 0..20 {
        let out = stack.rkit(&["plan", "SPEC"]);
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.success() {
            planned = true;
            break;
        }
        assert!(
            text.contains("is locked by another rkit (pid ")
                && text.contains("rkit converge, since "),
            "{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(planned);

    let (status, body) = get(&addr, "/healthz");
    assert!(status.contains("200"), "{status} {body}");
    let (status, metrics) = get(&addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .parse()
            .unwrap()
    };
    assert!(value("rkit_converge_ticks_total") >= 2.0, "{metrics}");
    assert!(value("rkit_converge_repairs_total") >= 4.0, "{metrics}");
    assert!(value("rkit_converge_drift_ticks_total") >= 2.0, "{metrics}");
    assert_eq!(value("rkit_converge_failures_total"), 0.0, "{metrics}");

    // SIGTERM: it ends; the state is consistent and the lock released.
    running.stop();
    let out = stack.expect(0, &["plan", "SPEC"]);
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn a_budget_spreads_work_over_ticks_and_a_changed_spec_waits_for_follow_spec() {
    let stack = Stack::new();
    stack.write(
        json!({"A": file("a.txt", "1"), "B": file("b.txt", "2"), "C": file("c.txt", "3")}),
        json!({}),
    );
    let out = stack.expect(
        0,
        &[
            "converge",
            "SPEC",
            "--once",
            "--max-operations",
            "1",
            "--parallelism",
            "1",
        ],
    );
    assert!(
        out.contains("tick 1: 3 to change, 1 done, 2 left for the next tick"),
        "{out}"
    );
    stack.expect(0, &["converge", "SPEC", "--once", "--max-operations", "2"]);
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(stack.out(f).exists(), "{f}");
    }

    // A changed spec is planned and reported, not applied, without --follow-spec.
    let running = Running::start(&stack, &["--interval", "1s"]);
    running.until(Duration::from_secs(60), tick_finished);
    stack.write(
        json!({"A": file("a.txt", "changed"), "B": file("b.txt", "2"), "C": file("c.txt", "3")}),
        json!({}),
    );
    let seen = running.until(Duration::from_secs(60), |l| l["type"] == "spec_pending");
    assert_eq!(seen.last().unwrap()["changes"], 1);
    assert_eq!(std::fs::read_to_string(stack.out("a.txt")).unwrap(), "1");
    running.stop();

    let running = Running::start(&stack, &["--interval", "1s", "--follow-spec"]);
    running.until(Duration::from_secs(60), |l| {
        tick_finished(l) && l["repaired"] == 1
    });
    assert_eq!(
        std::fs::read_to_string(stack.out("a.txt")).unwrap(),
        "changed"
    );
    running.stop();
}

/// A failed operation says why, in every output a converge loop has (issue 25): the human
/// line of the tick, the JSON event, `/healthz` and a metric labelled with the resource and
/// the error's kind.
#[test]
fn a_failed_operation_says_why_in_every_output() {
    let stack = Stack::new();
    // A directory where the file should go: the provider's write fails, saying so.
    std::fs::create_dir_all(stack.out("taken/inner")).unwrap();
    stack.write(json!({"Bad": file("taken", "x")}), json!({}));
    let out = stack.expect(1, &["converge", "SPEC", "--once"]);
    let line = out
        .lines()
        .find(|l| l.contains("Bad: creating failed after"))
        .unwrap_or_else(|| panic!("no failure line:\n{out}"));
    assert!(
        line.contains("taken"),
        "the provider's words are on the line: {line}"
    );

    let running = Running::start(&stack, &["--interval", "1s", "--listen", ":0"]);
    let seen = running.until(Duration::from_secs(60), |l| l["type"] == "listening");
    let addr = seen.last().unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let seen = running.until(Duration::from_secs(60), tick_finished);
    let failed = seen
        .iter()
        .find(|l| l["type"] == "operation_failed")
        .unwrap_or_else(|| panic!("no operation_failed event: {seen:#?}"));
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("taken"),
        "{failed}"
    );
    let (status, body) = get(&addr, "/healthz");
    assert!(status.contains("503"), "{status}");
    assert!(body.contains("Bad") && body.contains("taken"), "{body}");
    let (_, metrics) = get(&addr, "/metrics");
    assert!(
        metrics.contains("rkit_converge_operation_failures_total{resource=\"Bad\",kind=\""),
        "{metrics}"
    );
    running.stop();
}

/// converge never undoes a person's apply (issue 25): with converge running on a spec, the
/// spec file is changed and applied by hand; converge follows the applied spec instead of
/// reverting to the one it loaded.
#[test]
fn converge_never_reverts_a_persons_apply_of_a_changed_spec() {
    let stack = Stack::new();
    stack.write(json!({"F": file("f.txt", "v1")}), json!({}));
    let running = Running::start(&stack, &["--interval", "1s"]);
    running.until(Duration::from_secs(60), tick_finished);
    assert_eq!(std::fs::read_to_string(stack.out("f.txt")).unwrap(), "v1");
    stack.write(json!({"F": file("f.txt", "v2")}), json!({}));
    let mut applied = false;
    for _ in 0..100 {
        if stack.rkit(&["apply", "SPEC", "--yes"]).status.success() {
            applied = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(applied, "the person's apply got the lock between ticks");
    assert_eq!(std::fs::read_to_string(stack.out("f.txt")).unwrap(), "v2");
    let ticks = std::cell::Cell::new(0);
    let seen = running.until(Duration::from_secs(60), |l| {
        if tick_finished(l) {
            ticks.set(ticks.get() + 1);
        }
        ticks.get() >= 3
    });
    assert_eq!(ticks.get(), 3, "{seen:#?}");
    assert_eq!(
        std::fs::read_to_string(stack.out("f.txt")).unwrap(),
        "v2",
        "never reverted: {seen:#?}"
    );
    running.stop();
}

#[test]
fn a_stack_destroyed_while_converge_runs_is_not_built_again() {
    let stack = Stack::new();
    stack.write(json!({"F": file("f.txt", "hello")}), json!({}));
    let running = Running::start(&stack, &["--interval", "1s"]);
    running.until(Duration::from_secs(60), |l| {
        tick_finished(l) && stack.out("f.txt").exists()
    });
    // The lock is held during a tick only: the destroy waits for it.
    stack.expect(0, &["destroy", "SPEC", "--yes", "--lock-timeout", "30s"]);
    assert!(!stack.out("f.txt").exists());
    let seen = running.until(Duration::from_secs(60), |l| {
        l["type"] == "warning"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("the stack was destroyed (rkit destroy)"))
    });
    running.until(Duration::from_secs(60), tick_finished);
    assert!(!stack.out("f.txt").exists(), "not built again: {seen:#?}");
    // Nor by a converge started after the destroy (a machine left over, or restarted).
    let out = stack.expect(0, &["converge", "SPEC", "--once"]);
    assert!(
        out.contains("the stack was destroyed (rkit destroy)"),
        "{out}"
    );
    assert!(!stack.out("f.txt").exists());
    // Applied again by a person, converge acts with it again.
    stack.expect(0, &["apply", "SPEC", "--yes", "--lock-timeout", "30s"]);
    std::fs::remove_file(stack.out("f.txt")).unwrap();
    running.until(Duration::from_secs(60), |l| {
        tick_finished(l) && stack.out("f.txt").exists()
    });
    running.stop();
}
