//! Helpers shared by the end-to-end tests (`tests/main.rs`) and the benchmarks (each
//! includes this folder by path and uses a part of it).

use std::path::PathBuf;

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The built component of provider `name` (`cargo providers` builds them).
pub fn provider_wasm(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the providers first with `cargo providers`",
        path.display()
    );
    path
}

/// A compiled-component cache shared by the test runs (compiling once is enough).
pub fn cache_dir() -> PathBuf {
    target_dir().join("rkit-test-cache")
}

/// Runs the `rkit` binary in `dir` with `env` and nothing else of this environment but
/// `PATH`, without standard input; returns the exit code and stdout followed by stderr.
pub fn rkit(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running rkit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Adds `--approve` to a command on a spec (validate, plan, apply, destroy, init): the tests
/// that run providers approve them; the approval itself is tested on its own.
pub fn approving(args: &mut Vec<&str>) {
    let on_spec = matches!(
        args.first().copied(),
        Some("validate" | "plan" | "apply" | "destroy" | "init" | "import" | "converge")
    );
    if on_spec && !args.contains(&"--approve") {
        args.push("--approve");
    }
}

/// A benchmark's `--rounds N` argument, else `default`.
#[allow(dead_code)] // the benchmarks' argument, not the tests'
pub fn rounds(default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// A loopback port nobody listens on (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits until the server `child` (called `what`) accepts connections on `port`, at most
/// `limit`; fails with what it logged if it exits or stays silent.
pub fn wait_listening(
    child: &mut std::process::Child,
    port: u16,
    what: &str,
    limit: std::time::Duration,
    log: impl Fn() -> String,
) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}): {}", log());
        }
        assert!(
            started.elapsed() < limit,
            "{what} did not listen within {limit:?}: {}",
            log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub mod etcd;
pub mod fault_proxy;
pub mod metadata;
pub mod moto;
pub mod registry;
pub mod stack;

/// The JSON objects of a `--json` run's output, one per line; panics on a line that is not
/// one (every line of `--json` output is an object).
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}\n{out}"))
        })
        .collect()
}

/// The operations a JSON event stream reports finished, in order: `ACTION RESOURCE`
/// (`replace Token`, `delete-for-replace Token`).
pub fn finished_operations(events: &str) -> Vec<String> {
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "operation_finished")
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap_or_default(),
                e["resource"].as_str().unwrap_or_default()
            )
        })
        .collect()
}
