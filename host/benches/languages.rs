//! What a provider's language costs: the same no-I/O type (`Null`) from the Rust `null`
//! provider, from `providers/testing/null-python` (CPython by componentize-py) and from
//! `providers/testing/null-js` (StarlingMonkey by componentize-js). For each:
//! the module's size, the first load (compiling the component, `rkit provider inspect` with an
//! empty cache), a cached load, and a 1,000-resource apply (`--parallelism 10`, a real `rkit`
//! process, its state in a file).
//!
//! `providers/build.sh && cargo bench -p rkit --bench languages -- [--rounds N]` writes
//! `target/bench/languages.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn run(dir: &Path, cache: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(dir)
        .env("RKIT_CACHE_DIR", cache)
        .output()
        .expect("running rkit");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "rkit {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

fn main() {
    let rounds = common::rounds(3);
    let n = 1000;
    let mut table = String::from(
        "| provider | language | module | first load (compile) | cached load | apply of 1,000 | no-op plan of 1,000 |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (name, language) in [
        ("null", "Rust"),
        ("null-python", "Python"),
        ("null-js", "JavaScript"),
    ] {
        let wasm = common::provider_wasm(name);
        let size = std::fs::metadata(&wasm).unwrap().len();
        let wasm_text = wasm.display().to_string();
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        let mut apply = Vec::new();
        let mut plan = Vec::new();
        for _ in 0..rounds {
            let dir = tempfile::tempdir().unwrap();
            let cache = dir.path().join("cache");
            cold.push(run(
                dir.path(),
                &cache,
                &["provider", "inspect", &wasm_text],
            ));
            warm.push(run(
                dir.path(),
                &cache,
                &["provider", "inspect", &wasm_text],
            ));
            let resources: serde_json::Map<String, serde_json::Value> = (0..n)
                .map(|i| {
                    (
                        format!("R{i}"),
                        json!({"Plugin": name, "Type": "Null", "Properties": {"Input": i}}),
                    )
                })
                .collect();
            let spec = json!({"Providers": {name: {"Source": wasm_text}}, "Resources": resources});
            std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
            apply.push(run(
                dir.path(),
                &cache,
                &["apply", "spec.json", "--yes", "--approve"],
            ));
            plan.push(run(dir.path(), &cache, &["plan", "spec.json", "--approve"]));
        }
        let _ = writeln!(
            table,
            "| {name} | {language} | {:.1} MB | {:.2} s | {:.3} s | {:.2} s | {:.2} s |",
            size as f64 / 1e6,
            median(cold),
            median(warm),
            median(apply),
            median(plan),
        );
    }
    println!("{table}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("languages.md"), table).unwrap();
}
