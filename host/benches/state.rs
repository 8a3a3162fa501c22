//! Loading a large state: 100,000 resources (each with properties, attributes, a dependency
//! and tags, like the null chain's) from a file and from moto's S3 on loopback, in the clear
//! and encrypted; and moving it there with `rkit state migrate`. Each figure is a real `rkit`
//! process (`rkit state list`, which loads the whole state and prints one line per resource).
//!
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/aws/requirements.txt &&
//! cargo bench -p rkit --bench state -- [--rounds N] [--resources N]` writes
//! `target/bench/state.md`.
//!
//! With `--faults`, instead: an apply of 1,000 `null` resources (`--resources N`) with a
//! sealed state in moto's S3 behind a fault-injecting proxy (`tests/all/common/fault_proxy.rs`)
//! failing none, 5% or 20% of rkit's requests to the state (throttled, 500 after the work,
//! reset before it, answer lost after it: a quarter each), applied again until it succeeds;
//! then checked: a plan without changes and every resource recorded once. Writes
//! `target/bench/state-faults.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use common::moto::Moto;
use rkit::state::{Keys, Location, ResourceState, State, StateStore, TagList};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BUCKET: &str = "rkit-bench";

/// A state of `n` resources, written at `path` with `keys`; its size on disk.
fn write_state(path: &Path, n: usize, keys: &Keys) -> u64 {
    let mut state = State {
        version: 1,
        lineage: "bench".into(),
        serial: n as u64,
        ..State::default()
    };
    for i in 0..n {
        let name = format!("R{i:06}");
        state.resources.insert(
            name.clone(),
            ResourceState::new(
                "null".into(),
                "Null".into(),
                &format!("{:016x}", i as u64 * 0x9e37_79b9_7f4a_7c15),
                json!({"Input": format!("value {i} of the chain")}).into(),
                json!({"Output": format!("value {i} of the chain")}).into(),
            )
            .with_depends_on((i > 0).then(|| format!("R{:06}", i - 1)))
            .with_tags(&TagList::from(&std::collections::BTreeMap::from([
                ("rkit:stack".to_string(), "bench".to_string()),
                ("rkit:name".to_string(), name),
            ]))),
        );
    }
    let mut store = StateStore::open(&Location::File(path.to_path_buf()), keys).unwrap();
    store.replace(state).unwrap();
    drop(store);
    std::fs::metadata(path).unwrap().len()
}

/// One timed rkit run.
fn run(moto: &Moto, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .envs(moto.env())
        .envs(env.iter().copied())
        .output()
        .expect("running rkit");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "rkit {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort();
    let s = |d: Duration| d.as_secs_f64();
    (
        s(times[times.len() / 2]),
        s(times[0]),
        s(times[times.len() - 1]),
    )
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--faults") {
        return faults::main();
    }
    let rounds = common::rounds(3);
    let n = arg("--resources", 100_000);
    let moto = Moto::start();
    moto.emulator_with(&["bucket", BUCKET]);
    let key = rkit::state::crypt::Key::generate().unwrap();
    let mut table = format!(
        "| state ({n} resources) | size | `state migrate` file → S3 | load (`state list`), median | \
         min–max |\n| --- | ---: | ---: | ---: | ---: |\n"
    );
    for encrypted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys {
            current: encrypted
                .then(|| rkit::state::crypt::Key::from_text(&key, "env:BENCH_KEY").unwrap()),
            ..Keys::default()
        };
        let env: Vec<(&str, &str)> = if encrypted {
            vec![("BENCH_KEY", key.as_str())]
        } else {
            vec![]
        };
        let mut flags: Vec<&str> = Vec::new();
        if encrypted {
            flags.extend(["--state-key-from", "env:BENCH_KEY"]);
        }
        let label = if encrypted {
            "encrypted"
        } else {
            "in the clear"
        };
        let size = write_state(&dir.path().join("file.json"), n, &keys);
        write_state(&dir.path().join("moving.json"), n, &keys);
        let s3 = format!(
            "s3://{BUCKET}/{}.json",
            if encrypted { "sealed" } else { "clear" }
        );
        let mut migrate = vec!["state", "migrate", "--state", "moving.json", "--to", &s3];
        migrate.extend(&flags);
        let migrated = run(&moto, dir.path(), &env, &migrate).as_secs_f64();
        for (place, location) in [("file", "file.json"), ("S3", s3.as_str())] {
            let mut list = vec!["state", "list", "--state", location];
            list.extend(&flags);
            let times: Vec<Duration> = (0..rounds)
                .map(|_| run(&moto, dir.path(), &env, &list))
                .collect();
            let (median, min, max) = median(times);
            let _ = writeln!(
                table,
                "| {place}, {label} | {:.1} MB | {} | {median:.2} s | {min:.2}–{max:.2} |",
                size as f64 / 1e6,
                if place == "S3" {
                    format!("{migrated:.2} s")
                } else {
                    String::new()
                },
            );
        }
    }
    println!("{table}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("state.md"), table).unwrap();
}

mod faults {
    //! The apply under faults (`--faults`).

    use super::{BUCKET, arg, common, median};
    use common::fault_proxy::{FaultProxy, Policy};
    use common::moto::Moto;
    use serde_json::json;
    use std::fmt::Write as _;
    use std::path::Path;
    use std::process::{Command, Output};
    use std::time::{Duration, Instant};

    /// The most runs an apply may take before the figure is a failure.
    const RUNS: usize = 5;

    struct Stack<'a> {
        moto: &'a Moto,
        dir: &'a Path,
        key: &'a str,
    }

    impl Stack<'_> {
        fn rkit(&self, args: &[&str]) -> Output {
            let spec = self.dir.join("spec.json");
            let mut args: Vec<&str> = args.to_vec();
            args.push(spec.to_str().unwrap());
            common::approving(&mut args);
            Command::new(env!("CARGO_BIN_EXE_rkit"))
                .args(&args)
                .current_dir(self.dir)
                .env("HOME", self.dir)
                .env("RKIT_CACHE_DIR", common::cache_dir())
                .env("RKIT_STATE_KEY", self.key)
                .envs(self.moto.env())
                .output()
                .expect("running rkit")
        }

        /// Applies until an apply succeeds: the runs it took and their time in all.
        fn converge(&self) -> (usize, Duration) {
            let started = Instant::now();
            for run in 1..=RUNS {
                let out = self.rkit(&["apply", "--yes", "--parallelism", "10"]);
                if out.status.success() {
                    return (run, started.elapsed());
                }
            }
            panic!("not converged in {RUNS} runs");
        }

        /// A plan finds nothing to change and the state lists each resource once.
        fn check(&self, n: usize) {
            let out = self.rkit(&["plan"]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("No changes: {n} resources are up to date.")),
                "{text}"
            );
            let out = self.rkit(&["state", "list"]);
            let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.split('\t').next().unwrap_or_default().to_string())
                .collect();
            let listed = names.len();
            names.sort();
            names.dedup();
            assert_eq!((listed, names.len()), (n, n), "recorded once each");
        }
    }

    fn write_spec(dir: &Path, n: usize, object: &str, endpoint: &str) {
        let resources: serde_json::Map<String, serde_json::Value> = (0..n)
            .map(|i| {
                let props = json!({"Input": format!("value {i}")});
                let r = json!({"Plugin": "null", "Type": "Null", "Properties": props});
                (format!("R{i:04}"), r)
            })
            .collect();
        let spec = json!({
            "Providers": {"null": {"Source": common::provider_wasm("null")}},
            "State": {"Backend": "s3", "Bucket": BUCKET, "Key": object, "Endpoint": endpoint,
                      "Encryption": {"KeyFrom": "env:RKIT_STATE_KEY"}},
            "Resources": resources,
        });
        std::fs::write(dir.join("spec.json"), spec.to_string()).unwrap();
    }

    pub fn main() {
        let rounds = common::rounds(3);
        let n = arg("--resources", 1_000);
        let moto = Moto::start();
        moto.emulator_with(&["bucket", BUCKET]);
        let proxy = FaultProxy::start(&moto.endpoint, Policy::Pass);
        let key = rkit::state::crypt::Key::generate().unwrap();
        let mut table = format!(
            "| rkit's requests to the state failing | apply until it succeeds ({n} resources), \
             median | min–max | runs | requests to S3 | faults |\n\
             | --- | ---: | ---: | ---: | ---: | ---: |\n"
        );
        let rows = [
            ("none, no proxy", 0.0),
            ("none", 0.0),
            ("5%", 0.05),
            ("20%", 0.20),
        ];
        for (label, percent) in rows {
            // The first row talks to moto directly: what the proxy itself costs.
            let endpoint = if label.ends_with("no proxy") {
                moto.endpoint.clone()
            } else {
                proxy.endpoint.clone()
            };
            let (mut times, mut runs, mut requests, mut faults) = (vec![], vec![], 0, 0);
            for round in 0..rounds {
                let dir = tempfile::tempdir().unwrap();
                let object = format!("faults/{}-{round}.json", label.replace([' ', ','], ""));
                write_spec(dir.path(), n, &object, &endpoint);
                let stack = Stack {
                    moto: &moto,
                    dir: dir.path(),
                    key: &key,
                };
                let (before, faulted) = (proxy.log().len(), proxy.faults());
                // A quarter of the rate for each of the four faults.
                proxy.set_policy(Policy::Random {
                    rate: percent / 4.0,
                    rng: fastrand::Rng::with_seed(round as u64 + 1),
                });
                let (took, elapsed) = stack.converge();
                proxy.set_policy(Policy::Pass);
                requests += proxy.log().len() - before;
                faults += proxy.faults() - faulted;
                stack.check(n);
                times.push(elapsed);
                runs.push(took);
            }
            let (median, min, max) = median(times);
            let counted = |n: usize| match endpoint == proxy.endpoint {
                true => (n / rounds).to_string(),
                false => "–".to_string(),
            };
            let runs: Vec<String> = runs.iter().map(|r| r.to_string()).collect();
            let _ = writeln!(
                table,
                "| {label} | {median:.2} s | {min:.2}–{max:.2} | {} | {} | {} |",
                runs.join(", "),
                counted(requests),
                counted(faults),
            );
        }
        println!("{table}");
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("state-faults.md"), table).unwrap();
    }
}
