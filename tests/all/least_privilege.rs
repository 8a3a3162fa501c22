//! Least privilege through the real `rkit` binary, attacked by the `hostile` provider: it never
//! holds a secret (canary keys in the environment, checked in everything it can return or
//! send), calls only the API actions it declared, runs only once approved by digest, cannot
//! redirect or plant links out of its directory, cannot hang rkit, burn host CPU or host
//! memory beyond its grants, and cannot write to the terminal through rkit's output. Every
//! failure is contained, clear, and rkit exits 1 (never 101 or a signal).

use crate::common;

use common::moto::Moto;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "AKIACANARY00000KEY01";
const SECRET: &str = "canary-secret-5d1f0c8e7b2a4f6e9d3c";
const TOKEN: &str = "canary-session-token-8e2b6d4c";

/// A loopback HTTP server recording every request it gets, answering `answer` to each.
struct Recorder {
    origin: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(bind: &str, answer: &'static str) -> Self {
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = match addr {
            std::net::SocketAddr::V6(a) => format!("http://[::1]:{}", a.port()),
            std::net::SocketAddr::V4(a) => format!("http://127.0.0.1:{}", a.port()),
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(Duration::from_millis(300)));
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Head, then whatever body arrives before a short pause.
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&request).into_owned());
                let _ = conn.write_all(answer.as_bytes());
                let _ = conn.shutdown(std::net::Shutdown::Write);
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            }
        });
        Self { origin, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

/// A directory with a spec, where rkit runs with only the given environment.
struct Workspace {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Workspace {
    /// A workspace whose AWS endpoint is `origin`, with the canary key and secret.
    fn at_endpoint(origin: &str) -> Self {
        let mut ws = Self::new();
        ws.env.extend([
            ("AWS_ACCESS_KEY_ID".into(), KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL".into(), origin.to_string()),
        ]);
        ws
    }

    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("HOME".into(), dir.path().display().to_string()),
            (
                "RKIT_CACHE_DIR".into(),
                common::cache_dir().display().to_string(),
            ),
        ];
        Self { dir, env }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spec(&self, spec: &Value) {
        std::fs::write(self.path("spec.json"), spec.to_string()).unwrap();
    }

    fn rkit(&self, args: &[&str]) -> (i32, String) {
        common::rkit(self.dir.path(), &self.env, args)
    }

    fn expect(&self, code: i32, args: &[&str]) -> String {
        let (got, out) = self.rkit(args);
        assert_eq!(got, code, "rkit {args:?}:\n{out}");
        out
    }

    fn state(&self) -> Value {
        let (_, out) = self.rkit(&["state", "show", "spec.json", "Steal"]);
        serde_json::from_str(&out).unwrap_or(Value::Null)
    }
}

fn hostile() -> String {
    common::provider_wasm("hostile").display().to_string()
}

fn attack(ty: &str, props: Value) -> Value {
    json!({"Plugin": "hostile", "Type": ty, "Properties": props})
}

/// Each `AwsRaw` attack of `attacks` (name, resource, why) was refused, saying why, in `out`.
fn assert_refused(out: &str, attacks: &[(&str, Value, &str)]) {
    for (name, _, why) in attacks {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("{name} (hostile AwsRaw)")) && l.contains("denied"))
            .unwrap_or_else(|| panic!("no refusal of {name}:\n{out}"));
        assert!(line.contains(why), "{name}: {why:?} not in {line}");
    }
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in [SECRET, TOKEN] {
        assert!(
            !text.contains(canary),
            "{what} holds a canary secret:\n{text}"
        );
    }
}

#[test]
fn credentials_never_reach_a_module_given_by_source_or_by_file() {
    let aws = Recorder::start("127.0.0.1:0", OK);
    let other = Recorder::start("127.0.0.1:0", OK);
    let mut ws = Workspace::new();
    ws.env.extend([
        ("AWS_ACCESS_KEY_ID".into(), KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
        ("AWS_SESSION_TOKEN".into(), TOKEN.into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ENDPOINT_URL".into(), aws.origin.clone()),
    ]);
    // HTTP granted "for another purpose": the provider tries to send what it got there.
    let resources = json!({
        "Steal": attack("StealConfig", json!({"Url": format!("{}/steal", other.origin)})),
        "Call": attack("AwsCall", json!({"Action": "DescribeVpcs"})),
    });
    let undeclared = json!({"Undeclared": attack("AwsCall", json!({"Action": "RunInstances"}))});
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Grants": {"Http": [other.origin]}}},
        "Resources": resources,
    }));

    // Not approved: nothing runs (no request anywhere), and the error says what it would get.
    let out = ws.expect(1, &["apply", "spec.json", "--yes"]);
    for expected in [
        "is not approved yet",
        "your aws credentials, signed for it by rkit",
        "API action ec2:Describe*",
        &format!("HTTP to {} (granted by the spec)", other.origin),
        "aws credentials (access key AKIA…EY01, from the environment)",
        "rkit init spec.json --approve",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    assert!(aws.requests().is_empty() && other.requests().is_empty());
    assert!(!ws.path("rkit.lock").exists());

    let out = ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert_no_canary("the apply's output", &out);
    let stolen = ws.state()["Attributes"]["Obtained"]
        .as_str()
        .unwrap()
        .to_string();
    assert_no_canary("the configuration the provider got", &stolen);
    assert!(!stolen.contains(KEY), "{stolen}");
    let got: Value = serde_json::from_str(&stolen).unwrap();
    assert_eq!(got["Endpoints"]["Ec2"], aws.origin.as_str(), "{got}");
    for request in other.requests() {
        assert_no_canary("a request to the other host", &request);
        assert!(!request.contains(KEY), "{request}");
        assert!(
            !request.to_ascii_lowercase().contains("authorization"),
            "{request}"
        );
    }
    // An undeclared action never leaves the machine.
    let mut with_undeclared = resources.clone();
    with_undeclared
        .as_object_mut()
        .unwrap()
        .extend(undeclared.as_object().unwrap().clone());
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Grants": {"Http": [other.origin]}}},
        "Resources": with_undeclared,
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes"]);
    assert!(
        out.contains("API action ec2:RunInstances was not declared and approved"),
        "{out}"
    );
    let signed = aws.requests();
    assert!(
        !signed.is_empty()
            && signed
                .iter()
                .all(|r| r.ends_with("Action=DescribeVpcs&Version=2016-11-15")),
        "only the declared DescribeVpcs left: {signed:?}"
    );
    assert_no_canary("the signed request", &signed[0].replace(TOKEN, "(token)"));
    assert!(
        signed[0].contains(&format!("Credential={KEY}/"))
            && signed[0].contains("/us-east-1/ec2/aws4_request"),
        "signed by the host: {}",
        signed[0]
    );
    for file in [
        "spec.rkit-state.json",
        "spec.rkit-state.journal",
        "rkit.lock",
    ] {
        if let Ok(text) = std::fs::read_to_string(ws.path(file)) {
            assert_no_canary(file, &text);
        }
    }

    // The same module given as a file on the command line, in a new workspace: asked for,
    // and still no secret.
    let ws = Workspace {
        dir: tempfile::tempdir().unwrap(),
        env: ws.env.clone(),
    };
    ws.spec(&json!({
        "Providers": {"hostile": {"Grants": {"Http": [other.origin]}}},
        "Resources": {"Steal": attack("StealConfig", json!({}))},
    }));
    let by_file = format!("hostile={}", hostile());
    let out = ws.expect(1, &["plan", "spec.json", "--provider", &by_file]);
    assert!(out.contains("is not approved yet"), "{out}");
    let out = ws.expect(
        0,
        &[
            "apply",
            "spec.json",
            "--provider",
            &by_file,
            "--yes",
            "--approve",
        ],
    );
    assert_no_canary("the apply's output", &out);
    let (_, shown) = ws.rkit(&["state", "show", "spec.json", "Steal"]);
    assert_no_canary("state show", &shown);
}

#[test]
fn undeclared_actions_and_own_signatures_are_refused_by_a_checking_emulator() {
    // moto checks signatures after the first three requests (which make the key).
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let (key, secret) = moto.access_key();
    let mut ws = Workspace::new();
    ws.env.extend(moto.env());
    ws.env
        .retain(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"));
    ws.env.extend([
        ("AWS_ACCESS_KEY_ID".into(), key),
        ("AWS_SECRET_ACCESS_KEY".into(), secret),
    ]);
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile()}},
        "Resources": {
            "Allowed": attack("AwsCall", json!({"Action": "DescribeVpcs"})),
            "Undeclared": attack("AwsCall", json!({"Action": "CreateVpc"})),
            "Forged": attack("AwsCall", json!({
                "Action": "DescribeVpcs",
                "Authorization": "AWS4-HMAC-SHA256 Credential=forged/20260101/us-east-1/ec2/aws4_request"
            })),
        }
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(
        out.contains("API action ec2:CreateVpc was not declared and approved (the provider may call: ec2:Describe*, s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject on arn:aws:s3:::b-1/tmp/*, ec2:TerminateInstances on arn:aws:ec2:*:*:instance/i-0aaa*, cloudformation:CreateResource, cloudformation:GetResourceRequestStatus)"),
        "{out}"
    );
    assert!(
        out.contains(
            "carries its own Authorization header; rkit signs requests to this endpoint itself"
        ),
        "{out}"
    );
    let (_, shown) = ws.rkit(&["state", "show", "spec.json", "Allowed"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let answer = shown["Attributes"]["Obtained"].as_str().unwrap();
    assert!(
        answer.starts_with("200 OK") && answer.contains("DescribeVpcsResponse"),
        "the host-signed request passes moto's signature check: {answer}"
    );
}

#[test]
fn every_module_is_approved_by_digest_and_the_lock_is_the_approval() {
    let ws = Workspace::new();
    let module = ws.path("mod.wasm");
    std::fs::copy(common::provider_wasm("local"), &module).unwrap();
    let spec = |memory: Option<u32>| {
        let mut grants = json!({"Filesystem": "out"});
        if let Some(mib) = memory {
            grants["MemoryMiB"] = json!(mib);
        }
        json!({
            "Providers": {"local": {"Source": "mod.wasm", "Grants": grants}},
            "Resources": {"F": {"Plugin": "local", "Type": "File",
                                "Properties": {"Path": "f.txt", "Content": "x"}}}
        })
    };
    ws.spec(&spec(None));
    let out = ws.expect(1, &["plan", "spec.json"]);
    assert!(
        out.contains("the directory out (read and write; relative to the spec)")
            && out.contains("a host directory (filesystem)")
            && out.contains("Approve with `rkit init spec.json --approve`"),
        "{out}"
    );
    ws.expect(0, &["init", "spec.json", "--approve"]);
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("rkit.lock")).unwrap()).unwrap();
    let digest = {
        use sha2::Digest;
        format!(
            "sha256:{:x}",
            sha2::Sha256::digest(std::fs::read(&module).unwrap())
        )
    };
    assert_eq!(lock["Providers"]["local"]["Digest"], digest.as_str());
    assert_eq!(lock["Providers"]["local"]["Source"], "mod.wasm");
    // The lock is the approval: no flag needed any more.
    ws.expect(0, &["apply", "spec.json", "--yes"]);

    // More memory is a new grant.
    ws.spec(&spec(Some(512)));
    let out = ws.expect(1, &["plan", "spec.json"]);
    assert!(out.contains("512 MiB of memory  (new)"), "{out}");
    ws.expect(0, &["plan", "spec.json", "--approve"]);

    // Another module at the same path: a new digest, asked for again; --yes is no approval.
    std::fs::copy(common::provider_wasm("null"), &module).unwrap();
    let out = ws.expect(1, &["apply", "spec.json", "--yes"]);
    assert!(
        out.contains("is a module rkit has not approved") && out.contains(&digest),
        "{out}"
    );
}

#[test]
fn grant_directories_cannot_be_redirected_or_shared() {
    let ws = Workspace::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "PRIVATE KEY").unwrap();

    // The guest cannot plant a link leading out of its directory; a link inside is fine.
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Grants": {"Filesystem": "shared"}}},
        "Resources": {
            "Out": attack("Symlink", json!({"Target": "../../outside", "Link": "inner"})),
            "In": attack("Symlink", json!({"Target": "a/b", "Link": "ok"})),
        }
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("symlink inner -> ../../outside"), "{out}");
    assert!(std::fs::symlink_metadata(ws.path("shared/inner")).is_err());
    assert!(std::fs::symlink_metadata(ws.path("shared/ok")).is_ok());

    // A link made on the host is never followed to open a grant.
    std::fs::create_dir(ws.path("other")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.path("other/inner")).unwrap();
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Grants": {"Filesystem": "other/inner"}}},
        "Resources": {"Key": attack("ReadFile", json!({"Path": "/id_rsa"}))}
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(
        out.contains("Providers.hostile.Grants.Filesystem")
            && out.contains("is not a directory (a symbolic link or a file)"),
        "{out}"
    );
    assert!(!out.contains("PRIVATE KEY"), "{out}");

    // Two providers with nested grants are refused before either runs.
    ws.spec(&json!({
        "Providers": {
            "a": {"Grants": {"Filesystem": "shared"}},
            "b": {"Grants": {"Filesystem": "shared/sub"}}
        },
        "Resources": {
            "A": {"Plugin": "a", "Type": "Sleep", "Properties": {"Ms": 1}},
            "B": {"Plugin": "b", "Type": "Sleep", "Properties": {"Ms": 1}}
        }
    }));
    let a = format!("a={}", hostile());
    let b = format!("b={}", hostile());
    let out = ws.expect(
        1,
        &[
            "apply",
            "spec.json",
            "--provider",
            &a,
            "--provider",
            &b,
            "--yes",
            "--approve",
        ],
    );
    assert!(
        out.contains("Providers.b.Grants.Filesystem") && out.contains("overlap"),
        "{out}"
    );

    // A FIFO in the directory is refused, not opened (which would block a host thread).
    let fifo = std::ffi::CString::new(ws.path("shared/fifo").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(),
                      "Grants": {"Filesystem": "shared", "TimeoutSeconds": 30}}},
        "Resources": {"Fifo": attack("ReadFile", json!({"Path": "/fifo"}))}
    }));
    let started = Instant::now();
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("read /fifo"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Runs rkit and returns its exit code (-1: killed by a signal), output, and the CPU time and
/// peak memory that process alone used.
fn measured(ws: &Workspace, args: &[&str]) -> (i32, String, Duration, u64) {
    let log = ws.path("measured.log");
    let file = std::fs::File::create(&log).unwrap();
    // Reaped with wait4 below (for its own resource usage), not with `wait`.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .current_dir(ws.dir.path())
        .env_clear()
        .envs(ws.env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child fills the status and the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        assert_eq!(
            libc::wait4(child.id() as i32, &mut status, 0, &mut u),
            child.id() as i32
        );
        u
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let cpu = Duration::from_secs((usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) as u64)
        + Duration::from_micros((usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) as u64);
    let text = std::fs::read_to_string(&log).unwrap();
    (code, text, cpu, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn limits_hold_for_describe_configure_host_cpu_and_host_memory() {
    let ws = Workspace::new();
    // configure never returns: bounded by the spec's timeout.
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Config": {"StallConfigure": true},
                                  "Grants": {"TimeoutSeconds": 2}}},
        "Resources": {"X": attack("Sleep", json!({"Ms": 1}))}
    }));
    let started = Instant::now();
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(
        out.contains("exceeded its time limit of 2s during configure"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));

    // describe never returns: bounded too.
    let stall = common::provider_wasm("stall").display().to_string();
    ws.spec(&json!({
        "Providers": {"stall": {"Source": stall, "Grants": {"TimeoutSeconds": 2}}},
        "Resources": {"X": {"Plugin": "stall", "Type": "Nothing", "Properties": {}}}
    }));
    let started = Instant::now();
    let out = ws.expect(1, &["plan", "spec.json", "--approve"]);
    assert!(
        out.contains("exceeded its time limit of 2s during describe"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));

    // CPU spent by the host on the guest's behalf counts.
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(),
                                  "Grants": {"CpuSeconds": 1, "TimeoutSeconds": 120}}},
        "Resources": {"X": attack("HostSpin", json!({}))}
    }));
    let (code, out, cpu, _) = measured(&ws, &["apply", "spec.json", "--yes", "--approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CPU limit of 1s exceeded"), "{out}");
    assert!(cpu < Duration::from_secs(6), "rkit burnt {cpu:?} of CPU");

    // Host objects count against the memory grant.
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile(), "Grants": {"MemoryMiB": 16}}},
        "Resources": {"X": attack("FieldsBomb", json!({"Count": 100000, "Bytes": 120000}))}
    }));
    let (code, out, _, rss) = measured(&ws, &["apply", "spec.json", "--yes", "--approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("memory limit of 16 MiB exceeded"), "{out}");
    assert!(rss < 1 << 30, "rkit grew to {} MiB", rss >> 20);
}

#[test]
fn provider_text_cannot_drive_the_terminal() {
    let ws = Workspace::new();
    let evil = "\u{1b}[2K\r\u{1b}[32mfaked: apply complete\u{1b}]0;pwned\u{7}\n\u{8}\u{9b}1m";
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile()}},
        "Resources": {
            "Shown": attack("Escape", json!({"Text": evil})),
            "Failing": attack("Escape", json!({"Text": evil, "Fail": true})),
        }
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    let listed = ws.expect(0, &["state", "list", "spec.json"]);
    let shown = ws.expect(0, &["state", "show", "spec.json", "Shown"]);
    let plan = ws.expect(0, &["plan", "spec.json", "--json"]);
    for (what, text) in [
        ("apply", &out),
        ("state list", &listed),
        ("state show", &shown),
        ("plan --json", &plan),
    ] {
        assert!(
            !text.contains(['\u{1b}', '\r', '\u{8}', '\u{7}', '\u{9b}']),
            "{what} lets a control character through:\n{text:?}"
        );
    }
    assert!(
        out.contains("\\u{1b}[2K\\r\\u{1b}[32mfaked: apply complete"),
        "{out}"
    );
    assert!(listed.contains("\\u{1b}[2K"), "{listed}");
    let parsed: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(parsed["ID"], evil, "the data itself is kept exactly");
}

#[test]
fn a_module_for_another_spi_version_is_refused_with_the_reason() {
    // Components that export an older interface: the host names both versions and what
    // changed since.
    let ws = Workspace::new();
    for (version, since) in [
        ("0.1.0", "since 0.2.0 a provider never receives credentials"),
        (
            "0.2.0",
            "since 0.3.0 a provider reads many resources in one call (`read-many`",
        ),
        (
            "0.3.0",
            "since 0.4.0 a provider may describe types on demand (`describe-types`), declares \
             the Cloud Control types it touches (`resource-types`), and its force-new paths \
             may be nested",
        ),
    ] {
        let old = ws.path(&format!("old-{version}.wasm"));
        std::fs::write(&old, old_component(version)).unwrap();
        let out = ws.expect(1, &["provider", "inspect", old.to_str().unwrap()]);
        let want = format!(
            "was built for rkit:provider@{version} but this rkit speaks rkit:provider@0.4.0: \
             rebuild it with rkit-sdk 0.4.0 ({since}"
        );
        assert!(out.contains(&want), "{out}");
    }
}

/// The smallest component exporting an (empty) `rkit:provider/resources@VERSION` instance.
fn old_component(version: &str) -> Vec<u8> {
    let wat = format!(
        r#"(component
        (instance $empty)
        (export "rkit:provider/resources@{version}" (instance $empty))
    )"#
    );
    wat::parse_str(wat).unwrap()
}

/// Runs `rkit ARGS` in `ws` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_a_terminal(ws: &Workspace, args: &str, input: &str) -> (i32, String) {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_rkit"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(ws.dir.path())
        .env_clear()
        .envs(ws.env.iter().cloned())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs rkit on a terminal");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn at_a_terminal_rkit_asks_and_only_yes_approves() {
    let ws = Workspace::new();
    ws.spec(&json!({
        "Providers": {"local": {"Source": common::provider_wasm("local"),
                                "Grants": {"Filesystem": "out"}}},
        "Resources": {"F": {"Plugin": "local", "Type": "File",
                            "Properties": {"Path": "f.txt", "Content": "x"}}}
    }));
    let (code, out) = on_a_terminal(&ws, "apply spec.json --yes", "no\n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Approve? Only 'yes' will be accepted:") && out.contains("Not approved"),
        "{out}"
    );
    assert!(!ws.path("rkit.lock").exists() && !ws.path("out/f.txt").exists());

    let (code, out) = on_a_terminal(&ws, "apply spec.json --yes", "yes\n");
    assert_eq!(code, 0, "{out}");
    assert!(ws.path("rkit.lock").exists(), "{out}");
    assert_eq!(std::fs::read_to_string(ws.path("out/f.txt")).unwrap(), "x");
}

#[test]
fn every_create_gets_an_idempotency_token() {
    let ws = Workspace::new();
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile()}},
        "Resources": {"T": attack("Token", json!({}))}
    }));
    ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    let (_, shown) = ws.rkit(&["state", "show", "spec.json", "T"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let token = shown["Attributes"]["Obtained"].as_str().unwrap();
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
}

/// The gate reads each request as the service will (issue 24), through the real binary, with
/// a loopback server posing as the AWS endpoint (EC2 and S3 at one origin, as emulators serve
/// them) and recording what arrives: the hostile provider declares only `ec2:Describe*`,
/// `s3:PutObject`, `s3:GetObject` and `s3:ListBucket`, and tries to have other actions signed
/// through every signal the services route on. Only the two honest requests arrive.
#[test]
fn the_gate_reads_each_request_as_the_service_will() {
    let aws = Recorder::start("127.0.0.1:0", OK);
    let ws = Workspace::at_endpoint(&aws.origin);
    let form = json!(["content-type", "application/x-www-form-urlencoded"]);
    let raw = |endpoint: &str, method: &str, path: &str, headers: Value, body: &str| {
        attack(
            "AwsRaw",
            json!({"Endpoint": endpoint, "Method": method, "Path": path,
                                "Headers": headers, "Body": body}),
        )
    };
    let honest = json!({
        "Describe": raw("Ec2", "POST", "/", json!([form]), "Action=DescribeVpcs&Version=2016-11-15"),
        "Put": raw("S3", "PUT", "/b-1/k.txt", json!([]), "hello"),
        // Declared only on some resources, and used on them.
        "ScopedDelete": raw("S3", "DELETE", "/b-1/tmp/x", json!([]), ""),
        "ScopedTerminate": raw("Ec2", "POST", "/", json!([form]),
            "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0aaa1"),
    });
    let attacks: Vec<(&str, Value, &str)> = vec![
        (
            "TargetOnQuery",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([form, ["x-amz-target", "AmazonEC2.DescribeVpcs"]]),
                "Action=DeleteVpc&Version=2016-11-15",
            ),
            "carries X-Amz-Target",
        ),
        (
            "TargetOnRest",
            raw(
                "S3",
                "DELETE",
                "/b-1",
                json!([["x-amz-target", "AmazonS3.PutObject"]]),
                "",
            ),
            "carries X-Amz-Target",
        ),
        (
            "TwoActions",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([form]),
                "Action=DescribeVpcs&Version=2016-11-15&Action=DeleteVpc",
            ),
            "form field Action is given twice",
        ),
        (
            "ActionInQuery",
            raw(
                "Ec2",
                "POST",
                "/?Action=DeleteVpc",
                json!([form]),
                "Action=DescribeVpcs&Version=2016-11-15",
            ),
            "no query string",
        ),
        (
            "JsonOnQuery",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([["content-type", "application/x-amz-json-1.1"]]),
                "Action=DescribeVpcs&Version=2016-11-15",
            ),
            "content type",
        ),
        (
            "ExtraField",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([form]),
                "Action=DescribeVpcs&Version=2016-11-15&Smuggle.1=x",
            ),
            "form field Smuggle.1",
        ),
        (
            "Acl",
            raw(
                "S3",
                "PUT",
                "/b-1/k",
                json!([["x-amz-acl", "public-read"]]),
                "x",
            ),
            "s3:PutObjectAcl, which header x-amz-acl implies",
        ),
        (
            "Tagging",
            raw(
                "S3",
                "PUT",
                "/b-1/k",
                json!([["x-amz-tagging", "a=b"]]),
                "x",
            ),
            "s3:PutObjectTagging, which header x-amz-tagging implies",
        ),
        (
            "CopyVersion",
            raw(
                "S3",
                "PUT",
                "/b-1/k",
                json!([["x-amz-copy-source", "/other/secret?versionId=1"]]),
                "",
            ),
            "s3:GetObjectVersion",
        ),
        (
            "EncodedSlash",
            raw("S3", "PUT", "/b-1%2Fk", json!([]), "x"),
            "encoded separator",
        ),
        (
            "DotSegment",
            raw("S3", "PUT", "/b-1/a/%2E%2E/k", json!([]), "x"),
            "dot segment",
        ),
        (
            "XIdLies",
            raw("S3", "GET", "/b-1/k?x-id=DeleteObject", json!([]), ""),
            "no s3 operation",
        ),
        (
            "DuplicateQuery",
            raw("S3", "GET", "/b-1?list-type=2&list-type=1", json!([]), ""),
            "given twice",
        ),
        // wasi-http lets no guest set Host at all (the gate checks it too).
        (
            "OtherHost",
            raw(
                "S3",
                "PUT",
                "/b-1/k",
                json!([["host", "other.example"]]),
                "x",
            ),
            "Forbidden",
        ),
        (
            "FormToS3",
            raw("S3", "POST", "/b-1/k", json!([form]), "Action=DeleteBucket"),
            "form of parameters",
        ),
        (
            "DeleteMany",
            raw(
                "S3",
                "POST",
                "/b-1?delete",
                json!([]),
                "<Delete><Object><Key>k</Key></Object></Delete>",
            ),
            "s3:DeleteObject on arn:aws:s3:::b-1/k was not declared and approved (approved only on arn:aws:s3:::b-1/tmp/*)",
        ),
        (
            "DeleteOutside",
            raw("S3", "DELETE", "/b-1/k", json!([]), ""),
            "s3:DeleteObject on arn:aws:s3:::b-1/k was not declared",
        ),
        (
            "TerminateOther",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([form]),
                "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0aaa1&InstanceId.2=i-0bbb2",
            ),
            "ec2:TerminateInstances on arn:aws:ec2:us-east-1::instance/i-0bbb2 was not declared",
        ),
        (
            "Unknown",
            raw(
                "Ec2",
                "POST",
                "/",
                json!([form]),
                "Action=DescribeEverything2&Version=2016-11-15",
            ),
            "names ec2 DescribeEverything2, an operation rkit does not know",
        ),
    ];
    let mut resources = honest.as_object().unwrap().clone();
    for (name, resource, _) in &attacks {
        resources.insert(name.to_string(), resource.clone());
    }
    ws.spec(&json!({"Providers": {"hostile": {"Source": hostile()}}, "Resources": resources}));
    let out = ws.expect(
        1,
        &[
            "apply",
            "spec.json",
            "--yes",
            "--approve",
            "--parallelism",
            "1",
        ],
    );
    assert_refused(&out, &attacks);
    let arrived = aws.requests();
    assert_eq!(
        arrived.len(),
        4,
        "only the honest requests arrive: {arrived:#?}"
    );
    let lock = std::fs::read_to_string(ws.path("rkit.lock")).unwrap();
    assert!(
        lock.contains("s3:DeleteObject on arn:aws:s3:::b-1/tmp/*"),
        "the lock records actions with their resources: {lock}"
    );
    for request in &arrived {
        assert!(request.contains(&format!("Credential={KEY}/")), "{request}");
        let first = request.lines().next().unwrap();
        assert!(
            [
                "POST / HTTP/1.1",
                "PUT /b-1/k.txt HTTP/1.1",
                "DELETE /b-1/tmp/x HTTP/1.1"
            ]
            .contains(&first),
            "{first}"
        );
    }
}

/// Cloud Control is one API for every resource type (issue 28): the gate reads `TypeName` from
/// each request and lets through only the types the provider declared (`AWS::SQS::*`), never
/// a role for the service to act as, never a request without a type; a request about a
/// request (its status) names none and passes. Only the honest requests arrive.
#[test]
fn cloud_control_requests_name_only_declared_types() {
    let aws = Recorder::start("127.0.0.1:0", OK);
    let ws = Workspace::at_endpoint(&aws.origin);
    let cc = |target: &str, body: Value| {
        attack(
            "AwsRaw",
            json!({"Endpoint": "CloudControl", "Method": "POST", "Path": "/",
                   "Headers": [["content-type", "application/x-amz-json-1.0"],
                               ["x-amz-target", format!("CloudApiService.{target}")]],
                   "Body": body.to_string()}),
        )
    };
    let queue = json!({"TypeName": "AWS::SQS::Queue", "DesiredState": "{}", "ClientToken": "t-1"});
    let honest = json!({
        "Queue": cc("CreateResource", queue.clone()),
        "Status": cc("GetResourceRequestStatus", json!({"RequestToken": "r-1"})),
    });
    let mut as_role = queue.clone();
    as_role["RoleArn"] = json!("arn:aws:iam::123456789012:role/admin");
    let attacks = [
        (
            "User",
            cc(
                "CreateResource",
                json!({"TypeName": "AWS::IAM::User", "DesiredState": "{}"}),
            ),
            "resource type AWS::IAM::User was not declared and approved (resource types: AWS::SQS::*)",
        ),
        (
            "Lowercase",
            cc(
                "CreateResource",
                json!({"TypeName": "aws::sqs::queue", "DesiredState": "{}"}),
            ),
            "resource type aws::sqs::queue was not declared",
        ),
        (
            "Untyped",
            cc("CreateResource", json!({"DesiredState": "{}"})),
            "CreateResource names no resource type (TypeName)",
        ),
        (
            "NotAString",
            cc(
                "CreateResource",
                json!({"TypeName": ["AWS::SQS::Queue"], "DesiredState": "{}"}),
            ),
            "CreateResource names no resource type (TypeName)",
        ),
        (
            "AsRole",
            cc("CreateResource", as_role),
            "hands Cloud Control a role to act as (RoleArn)",
        ),
        (
            "Undeclared",
            cc(
                "DeleteResource",
                json!({"TypeName": "AWS::SQS::Queue", "Identifier": "q"}),
            ),
            "cloudformation:DeleteResource was not declared",
        ),
    ];
    let mut resources = honest.as_object().unwrap().clone();
    for (name, resource, _) in &attacks {
        resources.insert(name.to_string(), resource.clone());
    }
    ws.spec(&json!({"Providers": {"hostile": {"Source": hostile()}}, "Resources": resources}));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert_refused(&out, &attacks);
    let arrived = aws.requests();
    assert_eq!(
        arrived.len(),
        2,
        "only the honest requests arrive: {arrived:#?}"
    );
    assert!(
        arrived.iter().any(|r| r.contains("AWS::SQS::Queue")),
        "{arrived:#?}"
    );
    let lock = std::fs::read_to_string(ws.path("rkit.lock")).unwrap();
    assert!(
        lock.contains("\"ResourceTypes\": [\n") && lock.contains("\"AWS::SQS::*\""),
        "the lock records the resource types: {lock}"
    );
}

/// One write is sent at most `rkit::sandbox::MAX_SENDS` times per operation in all, however
/// the layers retry: the provider marks a write repeatable (the gate resends it), sends it
/// three times in its own loop, and fails as `transient` (the engine retries); the server
/// always answers 500.
#[test]
fn one_write_is_sent_at_most_max_sends_times_in_all() {
    const FAILING: &str =
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let aws = Recorder::start("127.0.0.1:0", FAILING);
    let ws = Workspace::at_endpoint(&aws.origin);
    ws.spec(&json!({
        "Providers": {"hostile": {"Source": hostile()}},
        "Resources": {"Write": attack("AwsRaw", json!({
            "Endpoint": "S3", "Method": "PUT", "Path": "/b-1/k", "Body": "x",
            "Headers": [["x-rkit-repeatable", "1"]], "Repeat": 3, "FailTransient": true
        }))}
    }));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert_eq!(
        aws.requests().len(),
        rkit::sandbox::MAX_SENDS as usize,
        "sent exactly MAX_SENDS times:\n{out}"
    );
    assert!(
        out.contains("s3:PutObject was already sent 24 times in this operation without an answer that settles it, the most rkit sends one write; its last answer: HTTP 500 Internal Server Error"),
        "{out}"
    );
}
