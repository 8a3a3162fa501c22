//! The state in S3, end to end: the real `rkit` binary against moto's S3 API on loopback, the
//! bucket read independently with boto3 (`tests/aws/emulator.py objects`). Apply, no-op plan
//! and destroy; two concurrent applies (one runs, the other names the holder); `kill -9`
//! mid-apply (the journal objects survive, the next run takes the expired lease over and
//! finishes without duplicates); a paused holder whose lease was taken over is fenced; and
//! `force-unlock`.

mod common;

use common::moto::Moto;
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "rkit-state";

struct Team<'a> {
    moto: &'a Moto,
    dir: tempfile::TempDir,
}

impl<'a> Team<'a> {
    fn new(moto: &'a Moto) -> Self {
        moto.emulator_with(&["bucket", BUCKET]);
        Self {
            moto,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn spec(&self) -> String {
        self.dir.path().join("web.json").display().to_string()
    }

    /// A spec of `n` Sleepy resources taking `ms` each, its state in S3.
    fn write(&self, n: usize, ms: u64) {
        let resources: serde_json::Map<String, Value> = (0..n)
            .map(|i| {
                (
                    format!("R{i}"),
                    json!({"Plugin": "null", "Type": "Sleepy", "Properties": {"Ms": ms}}),
                )
            })
            .collect();
        let spec = json!({
            "Providers": {"null": {"Source": common::provider_wasm("null")}},
            "State": {"Backend": "s3", "Bucket": BUCKET, "Key": "stacks/web.json"},
            "Resources": resources,
        });
        std::fs::write(self.spec(), spec.to_string()).unwrap();
    }

    fn command(&self, args: &[&str], lease_seconds: u64) -> Command {
        let spec = self.spec();
        let mut args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "SPEC" { spec.as_str() } else { a })
            .collect();
        common::approving(&mut args);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rkit"));
        cmd.args(&args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RKIT_CACHE_DIR", common::cache_dir())
            .env("RKIT_STATE_LEASE_SECONDS", lease_seconds.to_string())
            .envs(self.moto.env())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, code: i32, args: &[&str]) -> String {
        let out = self.command(args, 30).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "rkit {args:?}:\n{text}");
        text
    }

    fn objects(&self) -> serde_json::Map<String, Value> {
        self.moto
            .emulator_with(&["objects", BUCKET])
            .as_object()
            .unwrap()
            .clone()
    }

    fn journal(&self) -> Vec<String> {
        self.objects()
            .keys()
            .filter(|k| k.starts_with("stacks/web.json.journal/"))
            .cloned()
            .collect()
    }

    fn lease(&self) -> Value {
        let objects = self.objects();
        serde_json::from_str(objects["stacks/web.json.lock"].as_str().unwrap()).unwrap()
    }

    /// Starts `apply --json --parallelism 2` and waits until `n` resources were created.
    fn apply_until(&self, n: usize, lease_seconds: u64) -> (Child, Vec<Value>) {
        let mut child = self
            .command(
                &["apply", "SPEC", "--yes", "--json", "--parallelism", "2"],
                lease_seconds,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let mut done = 0;
        while done < n {
            let line = lines.next().expect("apply ended early").unwrap();
            let e: Value = serde_json::from_str(&line).unwrap();
            if e["type"] == "operation_finished" {
                done += 1;
            }
            seen.push(e);
        }
        // The rest of its output is read (so it never blocks on a full pipe) and dropped.
        std::thread::spawn(move || for _ in lines {});
        (child, seen)
    }
}

fn signal(child: &Child, sig: i32) {
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[test]
fn a_state_in_s3_applies_plans_and_destroys_and_compacts_its_journal() {
    let moto = Moto::start();
    let team = Team::new(&moto);
    team.write(3, 0);
    let out = team.run(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("3 created"), "{out}");
    let objects = team.objects();
    let snapshot = objects["stacks/web.json"].as_str().unwrap();
    assert!(snapshot.contains("\"R2\""), "{snapshot}");
    assert!(team.journal().is_empty(), "compacted: {:?}", objects.keys());
    assert_eq!(team.lease()["Released"], true);
    assert!(team.run(0, &["plan", "SPEC"]).contains("No changes"));
    let listed = team.run(0, &["state", "list", "SPEC"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    team.run(0, &["destroy", "SPEC", "--yes"]);
    let listed = team.run(0, &["state", "list", "SPEC"]);
    assert_eq!(listed.trim(), "", "{listed}");
}

#[test]
fn a_second_apply_fails_at_once_naming_the_holder_and_a_killed_one_is_taken_over() {
    let moto = Moto::start();
    let team = Team::new(&moto);
    team.write(6, 1500);
    // One runs (two at a time: the first two finish after 1.5 s)…
    let (mut first, _) = team.apply_until(2, 2);
    // …the other fails at once, naming it.
    let started = Instant::now();
    let out = team.run(1, &["apply", "SPEC", "--yes"]);
    println!("the second apply said: {out}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(out.contains("is locked by another rkit (pid"), "{out}");
    assert!(
        out.contains("rkit apply") && out.contains("lock ID"),
        "{out}"
    );
    // kill -9: what it journaled survives in S3.
    signal(&first, libc::SIGKILL);
    first.wait().unwrap();
    let journaled = team.journal();
    assert!(journaled.len() >= 4, "intents and records: {journaled:?}");
    // The lease expires (2 s); the next apply takes it over and finishes the rest only.
    std::thread::sleep(Duration::from_secs(3));
    let out = team.run(0, &["apply", "SPEC", "--yes", "--parallelism", "6"]);
    assert!(
        out.contains("took over the lock of pid") && out.contains("rkit apply"),
        "{out}"
    );
    let summary = out
        .lines()
        .find(|l| l.starts_with("Apply complete"))
        .unwrap_or_default();
    assert!(
        summary.starts_with("Apply complete: 4 created"),
        "the two recorded before the kill are kept: {out}"
    );
    let listed = team.run(0, &["state", "list", "SPEC"]);
    assert_eq!(listed.lines().count(), 6, "{listed}");
    assert!(team.run(0, &["plan", "SPEC"]).contains("No changes"));
}

#[test]
fn a_holder_whose_lease_was_taken_over_is_fenced_and_force_unlock_fences_too() {
    let moto = Moto::start();
    let team = Team::new(&moto);
    team.write(4, 2000);
    // A pauses holding the lease; it expires; B takes it over and writes.
    let (first, _) = team.apply_until(0, 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while team.objects().get("stacks/web.json.lock").is_none() {
        assert!(Instant::now() < deadline, "the lease was never taken");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    signal(&first, libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(3));
    let taken = team.lease();
    let out = team.run(0, &["apply", "SPEC", "--yes", "--parallelism", "4"]);
    assert!(out.contains("created"), "{out}");
    let now = team.lease();
    assert!(
        now["Token"].as_u64() > taken["Token"].as_u64(),
        "{taken} → {now}"
    );
    // A wakes: its next write is refused, naming the lease; it stops.
    signal(&first, libc::SIGCONT);
    let out = first.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    println!("the fenced holder said: {err}");
    assert!(
        err.contains("was taken over by another rkit (pid")
            || err.contains("another rkit wrote to the state"),
        "{err}"
    );
    assert!(err.contains("this run stops without writing"), "{err}");
    let listed = team.run(0, &["state", "list", "SPEC"]);
    assert_eq!(listed.lines().count(), 4, "no duplicate from A: {listed}");

    // force-unlock: a paused holder's lease is released by its ID, and it is fenced.
    team.write(5, 2000);
    let (second, _) = team.apply_until(0, 30);
    while team.lease()["Released"] == true {
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(&second, libc::SIGSTOP);
    let out = team.run(1, &["apply", "SPEC", "--yes"]);
    let id = team.lease()["ID"].as_str().unwrap().to_string();
    assert!(out.contains(&format!("lock ID {id}")), "{out}");
    let out = team.run(1, &["force-unlock", "SPEC", "0000"]);
    assert!(out.contains(&format!("locked with lock ID {id}")), "{out}");
    let out = team.run(0, &["force-unlock", "SPEC", &id]);
    assert!(out.contains(&format!("lock {id} was held by pid")), "{out}");
    team.run(0, &["apply", "SPEC", "--yes", "--parallelism", "5"]);
    signal(&second, libc::SIGCONT);
    let out = second.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    println!("the force-unlocked holder said: {err}");
    assert!(err.contains("this run stops without writing"), "{err}");
    let listed = team.run(0, &["state", "list", "SPEC"]);
    assert_eq!(listed.lines().count(), 5, "{listed}");
    assert!(team.run(0, &["plan", "SPEC"]).contains("No changes"));
}
