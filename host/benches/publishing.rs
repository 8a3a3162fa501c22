//! Publishing and resolving a provider through a real OCI registry (Debian's
//! `docker-registry` on loopback), each step a real `rkit` process, repeated: publish
//! `aws.wasm` signed; pull it into an empty cache; `rkit init` of a spec naming it (fetch,
//! signature check, approval, lock) with an empty module cache; and a `plan` of that spec
//! once locked (the module from the cache, no registry).
//!
//! `apt-get install docker-registry && cargo providers && cargo bench -p rkit --bench
//! publishing -- [--rounds N]` writes `target/bench/publishing.md`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use common::registry::Registry;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

fn timed(dir: &Path, env: &[(String, String)], args: &[&str]) -> Duration {
    let started = Instant::now();
    let (code, out) = common::rkit(dir, env, args);
    let elapsed = started.elapsed();
    assert_eq!(code, 0, "rkit {args:?}:\n{out}");
    elapsed
}

fn main() {
    let rounds = common::rounds(5);
    let registry = Registry::start();
    let wasm = common::provider_wasm("aws");
    let size = std::fs::metadata(&wasm).unwrap().len();
    let steps = [
        "publish (signed)",
        "pull (empty cache)",
        "init (fetch, verify, lock)",
        "plan (locked)",
    ];
    let mut times = vec![Vec::new(); steps.len()];
    // Round 0 warms the compiled-component cache shared by the rounds; it is not counted.
    let compiled = tempfile::tempdir().unwrap();
    for round in 0..=rounds {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("HOME".to_string(), dir.path().display().to_string()),
            (
                "RKIT_CACHE_DIR".to_string(),
                compiled.path().display().to_string(),
            ),
        ];
        // A fresh module cache each round: only compiled components are shared.
        let _ = std::fs::remove_dir_all(compiled.path().join("providers"));
        common::rkit(dir.path(), &env, &["provider", "keygen", "k"]);
        let public = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
        let reference = format!("{}/bench/aws:{round}", registry.host);
        let spec = serde_json::json!({
            "Providers": {"aws": {"Source": reference, "TrustedKeys": [public.trim()]}},
            "Resources": {}
        });
        std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
        let wasm_arg = wasm.to_str().unwrap();
        let durations = [
            timed(
                dir.path(),
                &env,
                &[
                    "provider", "publish", wasm_arg, &reference, "--sign", "k.key",
                ],
            ),
            timed(dir.path(), &env, &["provider", "pull", &reference]),
            {
                let _ = std::fs::remove_dir_all(compiled.path().join("providers"));
                timed(dir.path(), &env, &["init", "spec.json", "--approve"])
            },
            timed(dir.path(), &env, &["plan", "spec.json"]),
        ];
        if round > 0 {
            for (i, d) in durations.into_iter().enumerate() {
                times[i].push(d);
            }
        }
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# Publishing aws.wasm ({} KiB) through docker-registry on loopback ({rounds} rounds)\n\n\
         | step | median ms | min ms | max ms |\n| --- | ---: | ---: | ---: |",
        size / 1024
    );
    for (step, mut t) in steps.iter().zip(times) {
        t.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let _ = writeln!(
            report,
            "| {step} | {:.0} | {:.0} | {:.0} |",
            ms(t[t.len() / 2]),
            ms(t[0]),
            ms(t[t.len() - 1])
        );
    }
    print!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("publishing.md"), report).unwrap();
}
