//! Memory against the state's size: the peak resident memory of `apply`, a no-op `plan`, a
//! no-drift `converge --once` tick and `destroy`, each a real `rkit` process with the
//! sandboxed `null` provider, over a chain of N resources (each one's input references the
//! previous one's ID), for the state in a file and in S3 (moto, started here on 127.0.0.1),
//! encrypted (`"Encryption"`, a key from `rkit state new-key`) and not. The state's size is
//! its snapshot after the apply (the file, or the S3 object at its key); the ratio is peak RSS
//! over that size, what issue 31 holds to at most 3 at 100,000 resources.
//!
//! With the state in S3, a whole apply writes one journal object per step, in sequence along
//! the chain (over an hour for 100,000 on moto): the chain is applied into a file, moved to
//! S3 by `rkit state migrate`, and the S3 rows are an apply of one change to it (a plan, one
//! journal object, the whole snapshot sent), a no-op plan and a tick; destroy in S3 is run
//! up to 10,000 only, for the same reason.
//!
//! `cargo providers && cargo build --release && cargo bench -p rkit --bench memory --
//! [--sizes 10000,100000] [--backends file,s3] [--rkit BINARY] [--out DIR]` writes `DIR/memory.md` and
//! `DIR/memory.json` (default DIR: `target/bench`).

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;
mod measure;

use common::moto::Moto;
use measure::{Cmd, run};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BUCKET: &str = "rkit-memory";

/// What each setup runs, in order: the operation's name and rkit's arguments after the spec.
const OPERATIONS: [(&str, &[&str]); 4] = [
    ("apply", &["apply", "--yes"]),
    ("plan (no changes)", &["plan", "--detailed-exitcode"]),
    ("converge tick", &["converge", "--once"]),
    ("destroy", &["destroy", "--yes"]),
];

/// The most resources destroyed with the state in S3 (each delete a journal object, in
/// sequence along the chain).
const S3_DESTROY_MOST: usize = 10_000;

#[derive(Serialize)]
struct Row {
    n: usize,
    backend: String,
    encrypted: bool,
    operation: String,
    seconds: f64,
    max_rss_mib: f64,
    state_mib: f64,
    /// Peak RSS over the state's size.
    ratio: f64,
}

/// Where the state is kept, and whether it is sealed.
struct Setup<'a> {
    backend: &'a str,
    encrypted: bool,
    moto: Option<&'a Moto>,
}

impl Setup<'_> {
    fn key(&self, n: usize) -> String {
        format!("mem-{n}-{}.json", self.encrypted)
    }

    /// The spec's `"State"`.
    fn state(&self, n: usize) -> Option<Value> {
        let mut state = match self.backend {
            "s3" => json!({"Backend": "s3", "Bucket": BUCKET, "Key": self.key(n)}),
            _ => json!({}),
        };
        if self.encrypted {
            state["Encryption"] = json!({"KeyFrom": "env:RKIT_STATE_KEY"});
        }
        (state != json!({})).then_some(state)
    }

    /// The snapshot's size in bytes after an apply in `dir`.
    fn state_bytes(&self, dir: &Path, n: usize) -> u64 {
        match self.moto {
            Some(moto) => moto.emulator_with(&["sizes", BUCKET])[self.key(n)]
                .as_u64()
                .expect("the state's snapshot is in the bucket"),
            None => std::fs::metadata(dir.join("spec.rkit-state.json"))
                .unwrap()
                .len(),
        }
    }
}

/// A chain of `n`, its last input changed by `change` (`""`: none).
fn chain(n: usize, state: Option<Value>) -> Value {
    changed_chain(n, state, "")
}

fn changed_chain(n: usize, state: Option<Value>, change: &str) -> Value {
    let resources: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            let input = match i {
                0 => json!("root"),
                _ if i == n - 1 => json!(format!("{{{{.Resources.r{}.ID}}}}{change}", i - 1)),
                _ => json!(format!("{{{{.Resources.r{}.ID}}}}", i - 1)),
            };
            (
                format!("r{i}"),
                json!({"Plugin": "null", "Type": "Null", "Properties": {"Input": input}}),
            )
        })
        .collect();
    let mut spec = json!({
        "Stack": "memory",
        "Providers": {"null": {"Source": common::provider_wasm("null")}},
        "Resources": resources,
    });
    if let Some(state) = state {
        spec["State"] = state;
    }
    spec
}

/// Runs the operations of one setup at `n` resources; a row each.
fn measure(rkit: &Path, setup: &Setup, n: usize, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("spec.json"), chain(n, setup.state(n)).to_string()).unwrap();
    let mut env: Vec<(String, String)> = vec![(
        "RKIT_CACHE_DIR".into(),
        common::cache_dir().display().to_string(),
    )];
    if let Some(moto) = setup.moto {
        env.extend(moto.env());
    }
    if setup.encrypted {
        let out = std::process::Command::new(rkit)
            .args(["state", "new-key"])
            .output()
            .unwrap();
        let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
        env.push(("RKIT_STATE_KEY".into(), key));
    }
    let mut state_mib = 0.0;
    if setup.moto.is_some() {
        seed_in_s3(rkit, setup, n, d, &env);
        state_mib = setup.state_bytes(d, n) as f64 / (1024.0 * 1024.0);
    }
    for (operation, args) in OPERATIONS {
        let operation = match (setup.moto, operation) {
            (Some(_), "apply") => "apply (one change)",
            (Some(_), "destroy") if n > S3_DESTROY_MOST => continue,
            _ => operation,
        };
        let cmd = env.iter().fold(
            Cmd::new(rkit, d)
                .args(&args[..1])
                .args(&["spec.json", "--approve"])
                .args(&args[1..]),
            |cmd, (k, v)| cmd.env(k, v),
        );
        let (took, rss) = run(cmd, Duration::from_secs(3600)).expect("rkit finishes");
        if operation == "apply" {
            state_mib = setup.state_bytes(d, n) as f64 / (1024.0 * 1024.0);
        }
        let row = Row {
            n,
            backend: setup.backend.into(),
            encrypted: setup.encrypted,
            operation: operation.into(),
            seconds: took.as_secs_f64(),
            max_rss_mib: rss,
            state_mib,
            ratio: rss / state_mib,
        };
        eprintln!(
            "N={n:<7} {:4} encrypted={:5} {operation:18} {:>8.3} s {:>8.1} MiB, state {:.1} MiB: {:.1}×",
            row.backend, row.encrypted, row.seconds, row.max_rss_mib, row.state_mib, row.ratio
        );
        rows.push(row);
    }
}

/// The chain applied into a file in `dir` and moved to S3 (the key as `setup` names it),
/// the spec then pointed there with its last input changed.
fn seed_in_s3(rkit: &Path, setup: &Setup, n: usize, dir: &Path, env: &[(String, String)]) {
    let file = Setup {
        backend: "file",
        encrypted: setup.encrypted,
        moto: None,
    };
    let spec = dir.join("spec.json");
    std::fs::write(&spec, chain(n, file.state(n)).to_string()).unwrap();
    let to = format!("s3://{BUCKET}/{}", setup.key(n));
    let mut migrate = vec!["state", "migrate", "spec.json", "--to", &to];
    if setup.encrypted {
        migrate.extend(["--state-key-from", "env:RKIT_STATE_KEY"]);
    }
    let seeding: [&[&str]; 2] = [&["apply", "spec.json", "--approve", "--yes"], &migrate];
    for args in seeding {
        let cmd = env
            .iter()
            .fold(Cmd::new(rkit, dir).args(args), |cmd, (k, v)| cmd.env(k, v));
        run(cmd, Duration::from_secs(3600)).expect("rkit finishes");
    }
    std::fs::write(
        &spec,
        changed_chain(n, setup.state(n), "-changed").to_string(),
    )
    .unwrap();
}

fn main() {
    let flag = measure::flag;
    let sizes = measure::sizes("10000,100000");
    let backends = flag("--backends").unwrap_or_else(|| "file,s3".into());
    let out = PathBuf::from(
        flag("--out").unwrap_or_else(|| common::target_dir().join("bench").display().to_string()),
    );
    let rkit =
        flag("--rkit").map_or_else(|| common::target_dir().join("release/rkit"), PathBuf::from);
    assert!(rkit.exists(), "build rkit first: cargo build --release");
    let moto = backends.contains("s3").then(|| {
        let moto = Moto::start();
        moto.emulator_with(&["bucket", BUCKET]);
        moto
    });
    let mut rows = Vec::new();
    for &n in &sizes {
        for backend in backends.split(',') {
            for encrypted in [false, true] {
                let setup = Setup {
                    backend,
                    encrypted,
                    moto: moto.as_ref().filter(|_| backend == "s3"),
                };
                measure(&rkit, &setup, n, &mut rows);
            }
        }
    }
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("memory.json"),
        serde_json::to_vec_pretty(&rows).unwrap(),
    )
    .unwrap();
    let md = markdown(&rows);
    std::fs::write(out.join("memory.md"), &md).unwrap();
    print!("{md}");
}

fn markdown(rows: &[Row]) -> String {
    let mut md = String::from(
        "| N | state | encrypted | operation | seconds | max RSS MiB | state MiB | RSS ÷ state |\n\
         | ---: | --- | --- | --- | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.3} | {:.1} | {:.1} | {:.1} |",
            r.n,
            r.backend,
            if r.encrypted { "yes" } else { "no" },
            r.operation,
            r.seconds,
            r.max_rss_mib,
            r.state_mib,
            r.ratio
        );
    }
    md
}
