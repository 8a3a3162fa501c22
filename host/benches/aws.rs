//! The AWS provider's full stack (`examples/aws/stack.json`, 13 resources) against moto on
//! loopback: apply from an empty account, a no-op plan (with refresh) and destroy, each a real
//! `rkit` process, repeated. Reports wall times (median, min, max) and the HTTP requests the
//! provider sent (counted by the sandbox's HTTP gate), at `--parallelism` 10 and 1.
//!
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/aws/requirements.txt &&
//! cargo providers && cargo bench -p rkit --bench aws -- [--rounds N]` writes
//! `target/bench/aws.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use common::moto::Moto;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const OPERATIONS: [&str; 3] = ["apply", "plan (no-op)", "destroy"];

/// One timed rkit run: wall time and the requests it reported.
fn run(moto: &Moto, dir: &Path, args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .envs(moto.env())
        .output()
        .expect("running rkit");
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rkit {args:?}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = text
        .lines()
        .find_map(|l| l.strip_prefix("aws: ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    (elapsed, requests)
}

fn stats(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
    )
}

fn main() {
    let rounds = common::rounds(5);
    let wasm = common::provider_wasm("aws");
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/aws/stack.json"),
    )
    .unwrap()
    .replace(
        "../../target/wasm32-wasip2/release/aws.wasm",
        wasm.to_str().unwrap(),
    );
    let moto = Moto::start();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# The AWS full stack against moto ({rounds} rounds, 13 resources)\n\n\
         | parallelism | operation | median ms | min ms | max ms | HTTP requests |\n| ---: | --- | ---: | ---: | ---: | ---: |"
    );
    for parallelism in ["10", "1"] {
        let mut times = vec![Vec::new(); OPERATIONS.len()];
        let mut requests = [0; 3];
        // One warm-up round compiles the component into the cache and wakes moto's backends.
        for round in 0..=rounds {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("stack.json"), &spec).unwrap();
            let steps: [&[&str]; 3] = [
                &[
                    "apply",
                    "stack.json",
                    "--yes",
                    "--approve",
                    "--parallelism",
                    parallelism,
                ],
                &[
                    "plan",
                    "stack.json",
                    "--approve",
                    "--detailed-exitcode",
                    "--parallelism",
                    parallelism,
                ],
                &[
                    "destroy",
                    "stack.json",
                    "--yes",
                    "--approve",
                    "--parallelism",
                    parallelism,
                ],
            ];
            for (i, step) in steps.iter().enumerate() {
                let (elapsed, n) = run(&moto, dir.path(), step);
                if round > 0 {
                    times[i].push(elapsed);
                    requests[i] = n;
                }
            }
        }
        for (i, operation) in OPERATIONS.iter().enumerate() {
            let (median, min, max) = stats(times[i].clone());
            let n = requests[i];
            let _ = writeln!(
                report,
                "| {parallelism} | {operation} | {median:.0} | {min:.0} | {max:.0} | {n} |"
            );
        }
    }
    print!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("aws.md"), report).unwrap();
}
