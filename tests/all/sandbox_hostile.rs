//! Hostile guests: the `hostile` test provider attempts every escape a provider must not
//! manage, and each attempt fails with an error that says which capability was denied or
//! which limit was hit; after each, the same provider keeps serving calls.

use crate::common;

use rkit::sandbox::{Grants, HttpAllow, Provider, Sandbox};
use rkit::spi::{ErrorKind, ProviderError, Tags};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A loopback HTTP server answering `ok` to every request, on its own thread (one
/// connection at a time: enough for one provider's sequential calls).
fn http_server() -> u16 {
    answering(
        "127.0.0.1:0",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    )
    .0
}

struct Fixture {
    provider: Provider,
    allowed_port: u16,
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

async fn start(grants: impl FnOnce(&mut Grants)) -> Fixture {
    start_module("hostile", grants).await
}

/// As [`start`], for the provider module `name` (`hostile`, `hostile-python`).
async fn start_module(name: &str, grants: impl FnOnce(&mut Grants)) -> Fixture {
    let sandbox = Sandbox::new(Some(&common::cache_dir())).unwrap();
    let module = sandbox
        .load_file(
            &common::provider_wasm(name),
            &rkit::sandbox::Grants::default(),
        )
        .await
        .unwrap();
    let allowed_port = http_server();
    let dir = tempfile::tempdir().unwrap();
    let mut g = Grants {
        http: vec![HttpAllow::parse(&format!("http://127.0.0.1:{allowed_port}")).unwrap()],
        memory_bytes: 64 << 20,
        cpu: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        ..Grants::default()
    };
    grants(&mut g);
    let provider = module.start(g, &json!({})).await.unwrap();
    Fixture {
        provider,
        allowed_port,
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

impl Fixture {
    async fn attempt(&self, ty: &str, props: Value) -> Result<String, ProviderError> {
        let created = self
            .provider
            .create(ty, &props, &Tags::new(), "token")
            .await?;
        Ok(created.attributes["Obtained"].as_str().unwrap().to_string())
    }

    /// The provider still works: a granted HTTP request goes through.
    async fn still_serves(&self) {
        let url = format!("http://127.0.0.1:{}/health", self.allowed_port);
        let got = self.attempt("Http", json!({"Url": url})).await.unwrap();
        assert_eq!(got, "200 OK ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_files_are_out_of_reach() {
    host_files_are_out_of_reach_in(&start(|_| {}).await).await;
}

/// The checks of [`host_files_are_out_of_reach`], for any hostile module.
async fn host_files_are_out_of_reach_in(f: &Fixture) {
    let err = f
        .attempt("ReadFile", json!({"Path": "/etc/passwd"}))
        .await
        .unwrap_err();
    assert!(err.message.contains("read /etc/passwd"), "{err}");
    assert!(!err.message.contains("root:"), "{err}");
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filesystem_grant_does_not_reach_beyond_its_directory() {
    let f = start(|_| {}).await;
    let granted =
        start(|g| g.filesystem = Some(rkit::sandbox::GrantDir::open(&f.dir).unwrap())).await;
    std::fs::write(f.dir.join("inside.txt"), "granted").unwrap();
    let inside = granted
        .attempt("ReadFile", json!({"Path": "/inside.txt"}))
        .await
        .unwrap();
    assert_eq!(inside, "granted");
    // `/etc/passwd` names a path inside the grant (which has none); `..` cannot climb out.
    for path in ["/etc/passwd", "/../../../../etc/passwd", "../etc/passwd"] {
        let err = granted
            .attempt("ReadFile", json!({"Path": path}))
            .await
            .unwrap_err();
        assert!(!err.message.contains("root:"), "{path}: {err}");
        assert!(err.message.contains(&format!("read {path}")), "{err}");
    }
    granted.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_environment_is_invisible() {
    the_host_environment_is_invisible_in(&start(|_| {}).await).await;
}

/// The checks of [`the_host_environment_is_invisible`], for any hostile module.
async fn the_host_environment_is_invisible_in(f: &Fixture) {
    assert!(std::env::var("PATH").is_ok());
    let err = f
        .attempt("ReadEnv", json!({"Name": "PATH"}))
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("read environment variable PATH (0 visible)"),
        "{err}"
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_are_denied_even_to_loopback() {
    sockets_are_denied_even_to_loopback_in(&start(|_| {}).await).await;
}

/// The checks of [`sockets_are_denied_even_to_loopback`], for any hostile module.
async fn sockets_are_denied_even_to_loopback_in(f: &Fixture) {
    // A real listener, so only the sandbox can make the connection fail.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let err = f
        .attempt("Connect", json!({"Address": address}))
        .await
        .unwrap_err();
    assert!(
        err.message.contains(&format!("connect to {address}")),
        "{err}"
    );
    assert!(
        err.message.to_lowercase().contains("denied")
            || err.message.to_lowercase().contains("not permitted")
            || err.message.to_lowercase().contains("unsupported"),
        "{err}"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a connection reached the host");
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_reaches_only_granted_hosts() {
    http_reaches_only_granted_hosts_in(&start(|_| {}).await).await;
}

/// The checks of [`http_reaches_only_granted_hosts`], for any hostile module.
async fn http_reaches_only_granted_hosts_in(f: &Fixture) {
    f.still_serves().await;
    let other = http_server();
    let url = format!("http://127.0.0.1:{other}/steal");
    let err = f.attempt("Http", json!({"Url": url})).await.unwrap_err();
    assert!(
        err.message.contains(&format!(
            "the sandbox denied: HTTP GET {url} (granted: http://127.0.0.1:{})",
            f.allowed_port
        )),
        "{err}"
    );
    let err = f
        .attempt("Http", json!({"Url": "https://example.com/"}))
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("denied: HTTP GET https://example.com/"),
        "{err}"
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_hits_the_cpu_limit() {
    let f = start(|_| {}).await;
    let started = Instant::now();
    let err = f.attempt("Spin", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message
            .contains("hit a sandbox limit: CPU limit of 500ms exceeded"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_blocked_in_host_calls_is_not_cpu_but_is_bounded_by_the_timeout() {
    let f = start(|g| g.timeout = Duration::from_secs(2)).await;
    // 800 ms asleep in a host call: over the 500 ms CPU budget, but not CPU.
    let got = f.attempt("Sleep", json!({"Ms": 800})).await.unwrap();
    assert_eq!(got, "slept 800 ms");
    let started = Instant::now();
    let err = f.attempt("Sleep", json!({"Ms": 60_000})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message.contains("exceeded its time limit of 2s"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allocating_past_the_memory_limit_fails_the_call() {
    let f = start(|_| {}).await;
    let got = f.attempt("Allocate", json!({"Mib": 16})).await.unwrap();
    assert_eq!(got, "allocated 16 MiB");
    let err = f
        .attempt("Allocate", json!({"Mib": 512}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message
            .contains("hit a sandbox limit: memory limit of 64 MiB exceeded"),
        "{err}"
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_an_error_carrying_the_panic_message() {
    let f = start(|_| {}).await;
    let err = f
        .attempt("Panic", json!({"Message": "boom from the guest"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message
            .contains("crashed (it panicked or aborted) during create"),
        "{err}"
    );
    assert!(err.message.contains("boom from the guest"), "{err}");
    f.still_serves().await;
}

/// The same attacks from a provider written in Python (`providers/testing/hostile-python`,
/// CPython compiled to a component by componentize-py): contained exactly like the Rust one,
/// with the same errors from the sandbox, and still serving after each.
#[tokio::test(flavor = "multi_thread")]
async fn a_python_provider_is_contained_exactly_like_a_rust_one() {
    // CPython needs more memory than the Rust guest; the CPU limit is checked against the
    // thread's CPU time, which on a loaded machine grows slower than the wall clock: the
    // timeout is well above it.
    let f = start_module("hostile-python", |g| {
        g.memory_bytes = 128 << 20;
        g.cpu = Duration::from_secs(1);
        g.timeout = Duration::from_secs(30);
    })
    .await;
    f.still_serves().await;
    host_files_are_out_of_reach_in(&f).await;
    the_host_environment_is_invisible_in(&f).await;
    sockets_are_denied_even_to_loopback_in(&f).await;
    http_reaches_only_granted_hosts_in(&f).await;

    let started = Instant::now();
    let err = f.attempt("Spin", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message
            .contains("hit a sandbox limit: CPU limit of 1s exceeded"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    f.still_serves().await;

    let err = f
        .attempt("Allocate", json!({"Mib": 512}))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("memory limit of 128 MiB exceeded")
            || err.message.contains("allocate 512 MiB: MemoryError"),
        "{err}"
    );
    f.still_serves().await;
}

/// S3 through the gate, from Python: with `aws` credentials and only `s3:GetObject` granted,
/// a request of that action goes out signed; undeclared ones (`CreateBucket`, `DeleteBucket`)
/// and one with a subresource the gate does not know (`?replication`, never read as
/// `CreateBucket`) are refused, each saying why, and none reaches S3.
#[tokio::test(flavor = "multi_thread")]
async fn s3_requests_are_signed_for_declared_actions_only() {
    let moto = common::moto::Moto::start();
    let origin = HttpAllow::parse(&moto.endpoint).unwrap();
    let signer = rkit::sandbox::AwsSigner::new(
        "testing".into(),
        "testing".into(),
        None,
        "us-east-1".into(),
        vec![rkit::sandbox::AwsEndpoint {
            origin: origin.clone(),
            service: "s3".into(),
        }],
    );
    moto.emulator_with(&["bucket", "loot"]);
    let f = start_module("hostile-python", |g| {
        g.memory_bytes = 128 << 20;
        g.cpu = Duration::from_secs(2);
        g.timeout = Duration::from_secs(30);
        g.http.push(origin);
        g.signer = Some(Arc::new(signer));
        g.api_actions = rkit::sandbox::ApiActions::parse(&["s3:GetObject"]).unwrap();
    })
    .await;
    let at = |path: &str| format!("{}{path}", moto.endpoint);
    // Allowed and signed: moto answers (the object does not exist).
    let got = f
        .attempt("Http", json!({"Url": at("/loot/missing.txt")}))
        .await
        .unwrap();
    assert!(got.starts_with("404 "), "{got}");
    for (method, path, why) in [
        (
            "PUT",
            "/stolen",
            "API action s3:CreateBucket was not declared and approved",
        ),
        (
            "PUT",
            "/loot?replication",
            "API action s3:PutReplicationConfiguration was not declared and approved",
        ),
        (
            "DELETE",
            "/loot",
            "API action s3:DeleteBucket was not declared and approved",
        ),
    ] {
        let err = f
            .attempt("Http", json!({"Url": at(path), "Method": method}))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied, "{method} {path}: {err}");
        assert!(err.message.contains(why), "{method} {path}: {err}");
    }
    assert!(
        moto.emulator_with(&["buckets"]).get("stolen").is_none(),
        "nothing undeclared reached S3"
    );
}

/// A server on `bind` answering every request with `answer` (one connection at a time),
/// counting connections.
fn answering(bind: &str, answer: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(bind).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            // Read the whole request head: closing with unread bytes would reset the connection.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(answer.as_bytes());
            // Keep-alive: the client closes. (Closing first races wstd, which writes even an
            // empty request body after the head and reads a closed stream as a reset.)
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_literal_grants_match() {
    let (port, seen) = answering("[::1]:0", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nv6");
    let origin = format!("http://[::1]:{port}");
    let f = start(|g| g.http = vec![HttpAllow::parse(&origin).unwrap()]).await;
    let got = f
        .attempt("Http", json!({"Url": format!("{origin}/x")}))
        .await
        .unwrap();
    assert_eq!(got, "200 OK v6");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_answers_never_followed() {
    let (target, target_seen) = answering(
        "127.0.0.1:0",
        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret",
    );
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/\r\ncontent-length: 0\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (redirector, _) = answering("127.0.0.1:0", answer);
    let f = start(|g| {
        g.http = vec![
            HttpAllow::parse(&format!("http://127.0.0.1:{redirector}")).unwrap(),
            HttpAllow::parse(&format!("http://127.0.0.1:{target}")).unwrap(),
        ]
    })
    .await;
    let got = f
        .attempt(
            "Http",
            json!({"Url": format!("http://127.0.0.1:{redirector}/")}),
        )
        .await
        .unwrap();
    assert_eq!(got, "302 Found ", "the guest sees the redirect itself");
    assert_eq!(target_seen.load(Ordering::SeqCst), 0, "nothing followed it");
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_endpoints_need_a_grant_naming_them() {
    let f = start(|_| {}).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ] {
        let err = f.attempt("Http", json!({"Url": url})).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied, "{err}");
        assert!(err.message.contains("the sandbox denied"), "{err}");
    }
    // The classification of every range is unit-tested in sandbox::http::addresses.
    for ip in [
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ] {
        assert_eq!(
            rkit::sandbox::classify_address(ip.parse().unwrap()).map(|(kind, _)| kind),
            Some(rkit::sandbox::AddressKind::Metadata),
            "{ip}"
        );
    }
    f.still_serves().await;
}

/// DNS cannot turn a grant by name towards the machine itself or its network: this machine's
/// own host name resolves (through /etc/hosts here) to a loopback or private address, and a
/// grant naming it reaches nothing; a grant naming `localhost` may reach loopback.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_resolving_to_a_local_address_is_refused_unless_it_is_localhost() {
    let (port, seen) = answering(
        "127.0.0.1:0",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    );
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let by_name = format!("http://{name}:{port}");
    let resolved: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
            .unwrap()
            .collect();
    assert!(
        resolved
            .iter()
            .all(|a| rkit::sandbox::classify_address(a.ip()).is_some()),
        "this test needs the host name to resolve to a local address: {resolved:?}"
    );
    let f = start(|g| {
        g.http.push(HttpAllow::parse(&by_name).unwrap());
        g.http
            .push(HttpAllow::parse(&format!("http://localhost:{port}")).unwrap());
    })
    .await;
    let err = f
        .attempt("Http", json!({"Url": format!("{by_name}/x")}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Denied, "{err}");
    assert!(
        err.message.contains(&format!("{name} resolves to")),
        "{err}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing reached the server");
    let got = f
        .attempt("Http", json!({"Url": format!("http://localhost:{port}/x")}))
        .await
        .unwrap();
    assert_eq!(got, "200 OK ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_work_counts_against_the_cpu_and_memory_grants() {
    let f = start(|g| g.cpu = Duration::from_millis(300)).await;
    let started = Instant::now();
    let err = f.attempt("HostSpin", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(err.message.contains("CPU limit of 300ms exceeded"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    f.still_serves().await;

    let f = start(|g| g.memory_bytes = 16 << 20).await;
    let err = f
        .attempt("FieldsBomb", json!({"Count": 100000, "Bytes": 120000}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault);
    assert!(
        err.message.contains("memory limit of 16 MiB exceeded"),
        "{err}"
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_handles_are_bounded() {
    let f = start(|g| g.memory_bytes = 256 << 20).await;
    let err = f
        .attempt("FieldsBomb", json!({"Count": 20000, "Bytes": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault, "{err}");
    assert!(
        err.message.contains(
            "hit a sandbox limit: more than 10000 host objects (handles) at once during create"
        ),
        "{err}"
    );
    f.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_carries_the_idempotency_token() {
    let f = start(|_| {}).await;
    let created = f
        .provider
        .create("Token", &json!({}), &Tags::new(), "tok-123")
        .await
        .unwrap();
    assert_eq!(created.attributes["Obtained"], "tok-123");
}

/// A provider answering a read, one or many, with an object carrying another ID than the one
/// asked for is a `fault` naming both: rkit never records the wrong object.
#[tokio::test(flavor = "multi_thread")]
async fn reads_answered_for_another_object_are_faults() {
    let f = start(|_| {}).await;
    let props = json!({});
    let err = f
        .provider
        .read_many("Impostor", &[("impostor-1", "{}"), ("impostor-2", "{}")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault, "{err}");
    assert!(
        err.message.contains(
            "provider hostile answered a read of Impostor impostor-2 with an object whose ID is impostor-1"
        ),
        "{err}"
    );
    let err = f
        .provider
        .read("Impostor", "other", &props)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fault, "{err}");
    assert!(err.message.contains("whose ID is impostor-1"), "{err}");
    let read = f
        .provider
        .read("Impostor", "impostor-1", &props)
        .await
        .unwrap();
    assert_eq!(
        read.unwrap().id,
        "impostor-1",
        "the object asked for is answered"
    );
    f.still_serves().await;
}
