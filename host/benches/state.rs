//! Loading a large state: 100,000 resources (each with properties, attributes, a dependency
//! and tags, like the null chain's) from a file and from moto's S3 on loopback, in the clear
//! and encrypted; and moving it there with `rkit state migrate`. Each figure is a real `rkit`
//! process (`rkit state list`, which loads the whole state and prints one line per resource).
//!
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/aws/requirements.txt &&
//! cargo bench -p rkit --bench state -- [--rounds N] [--resources N]` writes
//! `target/bench/state.md`.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::moto::Moto;
use rkit::state::{Keys, Location, ResourceState, State, StateStore};
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
            ResourceState {
                plugin: "null".into(),
                type_name: "Null".into(),
                id: format!("{:016x}", i as u64 * 0x9e37_79b9_7f4a_7c15),
                properties: json!({"Input": format!("value {i} of the chain")}),
                attributes: json!({"Output": format!("value {i} of the chain")}),
                depends_on: if i == 0 {
                    vec![]
                } else {
                    vec![format!("R{:06}", i - 1)]
                },
                tags: [
                    ("rkit:stack".to_string(), "bench".to_string()),
                    ("rkit:name".to_string(), name),
                ]
                .into(),
                sensitive: vec![],
            },
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
