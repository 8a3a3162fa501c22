//! Publishing providers end to end: the real `rkit` binary, the real provider components, and
//! a real OCI registry (Debian's `docker-registry`, the CNCF distribution registry) on a free
//! loopback port per test; the AWS provider's apply runs against moto.

use crate::common;

use common::moto::Moto;
use common::registry::Registry;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A working directory with its own rkit cache and default directory registry.
struct Workspace {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            (
                "RKIT_CACHE_DIR".into(),
                dir.path().join("cache").display().to_string(),
            ),
            (
                "RKIT_REGISTRY".into(),
                dir.path().join("default-registry").display().to_string(),
            ),
            ("HOME".into(), dir.path().display().to_string()),
        ];
        Self { dir, env }
    }

    /// The same workspace, its runs also given `env` (an emulator's variables).
    fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env.extend(env);
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs rkit in the workspace; returns the exit code and stdout + stderr.
    fn rkit(&self, args: &[&str]) -> (i32, String) {
        common::rkit(self.dir.path(), &self.env, args)
    }

    fn expect(&self, code: i32, args: &[&str]) -> String {
        let (got, text) = self.rkit(args);
        assert_eq!(got, code, "rkit {args:?}:\n{text}");
        text
    }

    /// Makes a key pair NAME.key / NAME.pub; returns the public key's text.
    fn keygen(&self, name: &str) -> String {
        self.expect(0, &["provider", "keygen", name]);
        std::fs::read_to_string(self.path(&format!("{name}.pub")))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Publishes provider `wasm` (a name in target/) at `reference`, signed with `key` if given;
    /// returns the manifest digest.
    fn publish(&self, wasm: &str, reference: &str, key: Option<&str>) -> String {
        let module = common::provider_wasm(wasm);
        let mut args = vec!["provider", "publish", module.to_str().unwrap(), reference];
        let key_file = key.map(|k| format!("{k}.key"));
        if let Some(k) = &key_file {
            args.extend(["--sign", k]);
        }
        let out = self.expect(0, &args);
        out.lines()
            .find_map(|l| l.trim().strip_prefix("manifest: "))
            .unwrap_or_else(|| panic!("no manifest digest in {out}"))
            .to_string()
    }

    fn write_spec(&self, spec: &Value) {
        std::fs::write(
            self.path("spec.json"),
            serde_json::to_vec_pretty(spec).unwrap(),
        )
        .unwrap();
    }

    fn lock(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("rkit.lock")).unwrap()).unwrap()
    }
}

fn sha256_of(path: &Path) -> String {
    format!("sha256:{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

fn echo_spec(source: &str, trusted: &[&str]) -> Value {
    json!({
        "Providers": {"echo": {"Source": source, "TrustedKeys": trusted}},
        "Resources": {"Hello": {"Plugin": "echo", "Type": "Echo", "Properties": {"Message": "hi"}}}
    })
}

#[test]
fn published_aws_and_local_apply_by_tag_and_are_locked() {
    let registry = Registry::start();
    let moto = Moto::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    let aws = format!("{}/rkit/aws:0.1.0", registry.host);
    let local = format!("{}/rkit/local:0.1.0", registry.host);
    ws.publish("aws", &aws, Some("alice"));
    ws.publish("local", &local, Some("alice"));

    // The registry holds Wasm OCI artifacts, as wkg and other tools expect them.
    let manifest: Value = serde_json::from_str(&registry.get(
        "/v2/rkit/aws/manifests/0.1.0",
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(
        manifest["layers"][0]["digest"],
        sha256_of(&common::provider_wasm("aws"))
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.version"],
        "0.1.0"
    );
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: Value =
        serde_json::from_str(&registry.get(&format!("/v2/rkit/aws/blobs/{config_digest}"), "*/*"))
            .unwrap();
    assert_eq!(
        (&config["architecture"], &config["os"]),
        (&json!("wasm"), &json!("wasip2"))
    );
    assert!(
        config["component"]["exports"]
            .to_string()
            .contains("rkit:provider/resources"),
        "{config}"
    );

    ws.write_spec(&json!({
        "Providers": {
            "aws": {"Source": aws, "TrustedKeys": [alice]},
            "local": {"Source": local, "TrustedKeys": [alice], "Grants": {"Filesystem": "out"}}
        },
        "Resources": {
            "Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.3.0.0/16"}},
            "Note": {"Plugin": "local", "Type": "File", "Properties": {
                "Path": "vpc.txt", "Content": "{{.Resources.Net.ID}}"}}
        }
    }));
    let ws = ws.with_env(moto.env());

    // Not approved yet and no terminal: nothing happens, nothing is locked; `--yes` approves
    // the plan, never capabilities.
    let (code, out) = ws.rkit(&["apply", "spec.json", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is not approved yet")
            && out.contains("your aws credentials, signed for it by rkit")
            && out.contains("API action ec2:CreateVpc")
            && out.contains("rkit init spec.json --approve"),
        "{out}"
    );
    assert!(!ws.path("rkit.lock").exists());

    let out = ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("2 created"), "{out}");
    let vpc = std::fs::read_to_string(ws.path("out/vpc.txt")).unwrap();
    assert!(vpc.starts_with("vpc-"), "{vpc}");
    assert_eq!(moto.state()["vpcs"][0]["id"], vpc.as_str());

    let lock = ws.lock();
    let aws_lock = &lock["Providers"]["aws"];
    assert_eq!(aws_lock["Source"], aws);
    assert_eq!(aws_lock["Digest"], sha256_of(&common::provider_wasm("aws")));
    assert_eq!(aws_lock["Version"], "0.1.0");
    assert_eq!(aws_lock["Signer"], alice);
    assert_eq!(aws_lock["Capabilities"]["Credentials"], json!(["aws"]));
    assert!(
        aws_lock["ManifestDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let local_lock = &lock["Providers"]["local"];
    assert_eq!(
        local_lock["Digest"],
        sha256_of(&common::provider_wasm("local"))
    );
    assert_eq!(local_lock["Capabilities"]["Filesystem"], true);

    // Locked: later runs need no approval and no registry.
    drop(registry);
    ws.expect(0, &["plan", "spec.json", "--detailed-exitcode"]);
    let listed = ws.expect(0, &["provider", "list"]);
    assert!(
        listed.contains(&aws) && listed.contains(&local) && listed.contains(&alice),
        "{listed}"
    );
    ws.expect(0, &["destroy", "spec.json", "--yes"]);
}

/// A provider written in Python follows the same rules: published signed, refused unsigned,
/// approved and locked by digest, then applied by reference (against a real etcd).
#[test]
fn a_python_provider_is_published_signed_locked_and_applied_by_reference() {
    let registry = Registry::start();
    let etcd = common::etcd::Etcd::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    let signed = format!("{}/rkit/etcd:0.1.0", registry.host);
    let unsigned = format!("{}/rkit/etcd:unsigned", registry.host);
    ws.publish("etcd", &signed, Some("alice"));
    ws.publish("etcd", &unsigned, None);
    let spec = |source: &str| {
        json!({
            "Providers": {"etcd": {
                "Source": source, "TrustedKeys": [alice],
                "Config": {"Endpoint": etcd.endpoint},
                "Grants": {"Http": [etcd.endpoint]},
            }},
            "Resources": {"Motd": {"Plugin": "etcd", "Type": "Key",
                                    "Properties": {"Key": "/motd", "Value": "published"}}}
        })
    };
    ws.write_spec(&spec(&unsigned));
    let out = ws.expect(1, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("not signed"), "{out}");
    assert_eq!(etcd.get("/motd"), None);

    ws.write_spec(&spec(&signed));
    let out = ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("1 created"), "{out}");
    assert_eq!(etcd.get("/motd").as_deref(), Some("published"));
    let lock = ws.lock();
    let locked = &lock["Providers"]["etcd"];
    assert_eq!(locked["Source"], signed);
    assert_eq!(locked["Digest"], sha256_of(&common::provider_wasm("etcd")));
    assert_eq!(locked["Signer"], alice);
    assert!(
        locked["Grants"]
            .to_string()
            .contains(&format!("HTTP to {}", etcd.endpoint)),
        "{locked}"
    );
    // Locked: no registry needed any more.
    drop(registry);
    ws.expect(0, &["plan", "spec.json", "--detailed-exitcode"]);
    ws.expect(0, &["destroy", "spec.json", "--yes"]);
    assert_eq!(etcd.get("/motd"), None);
}

/// A provider written in JavaScript too: the S3 provider, published signed, approved with its
/// credentials and S3 actions, locked, and applied by reference against moto's S3.
#[test]
fn a_js_provider_is_published_signed_locked_and_applied_by_reference() {
    let registry = Registry::start();
    let moto = Moto::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    let reference = format!("{}/rkit/s3:0.1.0", registry.host);
    ws.publish("s3", &reference, Some("alice"));
    ws.write_spec(&json!({
        "Providers": {"s3": {"Source": reference, "TrustedKeys": [alice]}},
        "Resources": {"Site": {"Plugin": "s3", "Type": "Bucket",
                               "Properties": {"Name": "published-site"}}}
    }));
    let ws = ws.with_env(moto.env());
    let (code, out) = ws.rkit(&["apply", "spec.json", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("your aws credentials, signed for it by rkit")
            && out.contains("API action s3:CreateBucket"),
        "{out}"
    );
    let out = ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("1 created"), "{out}");
    assert!(
        moto.emulator_with(&["buckets"])
            .get("published-site")
            .is_some()
    );
    let lock = ws.lock();
    let locked = &lock["Providers"]["s3"];
    assert_eq!(locked["Digest"], sha256_of(&common::provider_wasm("s3")));
    assert_eq!(locked["Signer"], alice);
    assert_eq!(locked["Capabilities"]["Credentials"], json!(["aws"]));
    drop(registry);
    ws.expect(0, &["plan", "spec.json", "--detailed-exitcode"]);
    ws.expect(0, &["destroy", "spec.json", "--yes"]);
    assert!(
        moto.emulator_with(&["buckets"])
            .get("published-site")
            .is_none()
    );
}

#[test]
fn a_tampered_cached_module_is_refused_naming_both_digests() {
    let registry = Registry::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    ws.publish(
        "echo_v1",
        &format!("{}/rkit/echo:1", registry.host),
        Some("alice"),
    );
    ws.write_spec(&echo_spec(
        &format!("{}/rkit/echo:1", registry.host),
        &[&alice],
    ));
    ws.expect(0, &["init", "spec.json", "--approve"]);
    let locked = ws.lock()["Providers"]["echo"]["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    let cached = ws
        .path("cache/providers/modules")
        .join(format!("{}.wasm", locked.replace(':', "-")));
    let original = std::fs::read(&cached).unwrap();
    let mut tampered = original.clone();
    tampered.extend_from_slice(b"\0evil");
    std::fs::write(&cached, &tampered).unwrap();

    let out = ws.expect(1, &["apply", "spec.json", "--yes"]);
    let actual = format!("sha256:{:x}", Sha256::digest(&tampered));
    assert!(
        out.contains("digest mismatch") && out.contains(&locked) && out.contains(&actual),
        "{out}"
    );
    assert!(!ws.path("spec.rkit-state.json").exists(), "nothing ran");

    std::fs::write(&cached, &original).unwrap();
    ws.expect(0, &["apply", "spec.json", "--yes"]);

    // Gone from the cache: fetched again by the locked manifest digest, checked, kept.
    std::fs::remove_file(&cached).unwrap();
    ws.expect(0, &["plan", "spec.json", "--detailed-exitcode"]);
    assert_eq!(std::fs::read(&cached).unwrap(), original);
    drop(registry);
}

#[test]
fn unsigned_and_untrusted_modules_are_refused_unless_allowed() {
    let registry = Registry::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    ws.keygen("mallory");
    let forged = format!("{}/rkit/echo:forged", registry.host);
    let unsigned = format!("{}/rkit/echo:unsigned", registry.host);
    ws.publish("echo_v1", &forged, Some("mallory"));
    ws.publish("echo_v1", &unsigned, None);

    ws.write_spec(&echo_spec(&forged, &[&alice]));
    let out = ws.expect(1, &["init", "spec.json", "--approve"]);
    assert!(
        out.contains("a key the trust policy does not list"),
        "{out}"
    );
    assert!(!ws.path("rkit.lock").exists());

    ws.write_spec(&echo_spec(&unsigned, &[&alice]));
    let out = ws.expect(1, &["init", "spec.json", "--approve"]);
    assert!(
        out.contains("it is not signed") && out.contains("--allow-unsigned"),
        "{out}"
    );

    let out = ws.expect(0, &["init", "spec.json", "--approve", "--allow-unsigned"]);
    assert!(out.contains("loaded because of --allow-unsigned"), "{out}");
    assert_eq!(ws.lock()["Providers"]["echo"]["Signer"], Value::Null);

    // The user's trust file (~/.config/rkit/trust.json) can trust a key for a provider too.
    ws.write_spec(&echo_spec(&forged, &[&alice]));
    let mallory = std::fs::read_to_string(ws.path("mallory.pub")).unwrap();
    std::fs::create_dir_all(ws.path(".config/rkit")).unwrap();
    std::fs::write(
        ws.path(".config/rkit/trust.json"),
        json!({"TrustedKeys": {"echo": [mallory.trim()]}}).to_string(),
    )
    .unwrap();
    ws.expect(0, &["init", "spec.json", "--approve"]);
    assert_eq!(ws.lock()["Providers"]["echo"]["Signer"], mallory.trim());
}

#[test]
fn an_upgrade_asking_for_another_host_is_refused_until_approved() {
    let registry = Registry::start();
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    let v1 = format!("{}/rkit/echo:1.0.0", registry.host);
    let v2 = format!("{}/rkit/echo:2.0.0", registry.host);
    ws.publish("echo_v1", &v1, Some("alice"));
    ws.publish("echo_v2", &v2, Some("alice"));

    ws.write_spec(&echo_spec(&v1, &[&alice]));
    ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    let before = ws.lock();
    assert_eq!(
        before["Providers"]["echo"]["Capabilities"]["Http"],
        json!(["https://echo.example.com"])
    );

    ws.write_spec(&echo_spec(&v2, &[&alice]));
    let out = ws.expect(1, &["plan", "spec.json"]);
    assert!(
        out.contains("now comes from")
            && out.contains(
                "HTTP to https://telemetry.example.com (reached only where the spec or its \
                 credentials grant it)  (new)"
            ),
        "{out}"
    );
    assert!(
        out.contains(
            "HTTP to https://echo.example.com (reached only where the spec or its credentials \
             grant it)\n"
        ),
        "what was approved before is listed, not marked new: {out}"
    );
    assert_eq!(ws.lock(), before, "nothing recorded");

    let out = ws.expect(0, &["init", "spec.json", "--approve"]);
    assert!(out.contains("2.0.0"), "{out}");
    let after = ws.lock();
    assert_eq!(after["Providers"]["echo"]["Version"], "2.0.0");
    assert_eq!(
        after["Providers"]["echo"]["Digest"],
        sha256_of(&common::provider_wasm("echo_v2"))
    );
    assert_eq!(
        after["Providers"]["echo"]["Capabilities"]["Http"],
        json!(["https://echo.example.com", "https://telemetry.example.com"])
    );
    ws.expect(0, &["plan", "spec.json", "--detailed-exitcode"]);
}

#[test]
fn pulling_by_digest_works_offline_from_the_cache() {
    let mut registry = Registry::start();
    let ws = Workspace::new();
    let tagged = format!("{}/rkit/echo:1", registry.host);
    let manifest = ws.publish("echo_v1", &tagged, None);
    let pinned = format!("{}/rkit/echo@{manifest}", registry.host);
    let out = ws.expect(0, &["provider", "pull", &tagged]);
    assert!(!out.contains("offline"), "{out}");

    registry.stop();
    let out = ws.expect(1, &["provider", "pull", &tagged]);
    assert!(out.contains("fetching"), "a tag needs the registry: {out}");
    let out = ws.expect(0, &["provider", "pull", &pinned]);
    assert!(
        out.contains("from the cache, offline") && out.contains("echo 1.0.0"),
        "{out}"
    );

    // A spec pinned by digest resolves offline too.
    ws.write_spec(&echo_spec(&pinned, &[]));
    ws.expect(
        0,
        &[
            "apply",
            "spec.json",
            "--yes",
            "--approve",
            "--allow-unsigned",
        ],
    );
    assert_eq!(ws.lock()["Providers"]["echo"]["ManifestDigest"], manifest);
}

#[test]
fn directory_registries_need_no_server() {
    let ws = Workspace::new();
    let alice = ws.keygen("alice");
    // An explicit directory (relative to where rkit runs, and in the spec to the spec) and the
    // default registry.
    ws.publish("echo_v1", "file://registry/echo:1", Some("alice"));
    ws.publish("echo_v2", "team/echo:2", Some("alice"));
    assert!(ws.path("registry/echo/index.json").exists());
    assert!(ws.path("default-registry/team/echo/oci-layout").exists());

    ws.write_spec(&echo_spec("file://registry/echo:1", &[&alice]));
    ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert_eq!(ws.lock()["Providers"]["echo"]["Signer"], alice);

    ws.write_spec(&echo_spec("team/echo:2", &[&alice]));
    let out = ws.expect(1, &["apply", "spec.json", "--yes"]);
    assert!(
        out.contains("now comes from team/echo:2") && out.contains("(new)"),
        "{out}"
    );
    let out = ws.expect(0, &["apply", "spec.json", "--yes", "--approve"]);
    assert!(out.contains("approved (--approve)"), "{out}");
    assert_eq!(ws.lock()["Providers"]["echo"]["Version"], "2.0.0");
}
