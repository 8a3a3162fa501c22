//! The stack's bundle (issue 30): `rkit bundle push` signs the spec with its lock, parameter
//! files and policies and stores it beside the state; `rkit bundle pull` and
//! `rkit converge --follow-bundle` use it only when its signature holds and it is no replay;
//! a refused bundle leaves the last good one running. The real binary, the `local` provider.

use crate::common;
use crate::converge::{Running, get};
use common::moto::Moto;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// An operator's directory (spec, parameters, policies, keys) and a machine's, one state file.
struct Bundled {
    root: tempfile::TempDir,
    /// The state's place (`None`: `state.json` in the root).
    s3: Option<String>,
    /// Environment for rkit besides the cache (an emulator's).
    env: Vec<(String, String)>,
}

impl Bundled {
    fn new() -> Self {
        Self::with(None, Vec::new())
    }

    /// A stack whose state (and so its bundle) is in moto's S3.
    fn in_s3(moto: &Moto) -> Self {
        moto.emulator_with(&["bucket", "rkit-state"]);
        Self::with(Some("s3://rkit-state/stacks/web.json".into()), moto.env())
    }

    fn with(s3: Option<String>, env: Vec<(String, String)>) -> Self {
        let bundled = Self {
            root: tempfile::tempdir().unwrap(),
            s3,
            env,
        };
        std::fs::create_dir_all(bundled.ops().join("policies")).unwrap();
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/policies/blast_radius.rego"),
            bundled.ops().join("policies/blast_radius.rego"),
        )
        .unwrap();
        bundled.set_content("first");
        let out = bundled.path("out");
        let spec = json!({
            "Parameters": {"Content": {"Type": "String"}},
            "Policies": ["policies/"],
            "Providers": {"local": {
                "Source": common::provider_wasm("local"),
                "Grants": {"Filesystem": out}
            }},
            "Resources": {"Note": {"Plugin": "local", "Type": "File",
                "Properties": {"Path": "note.txt", "Content": "{{.Parameters.Content}}"}}}
        });
        std::fs::write(bundled.spec(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        bundled.ok(&["provider", "keygen", bundled.path("ops").to_str().unwrap()]);
        bundled.ok(&[
            "provider",
            "keygen",
            bundled.path("stranger").to_str().unwrap(),
        ]);
        let spec = bundled.spec();
        let vars = bundled.vars();
        bundled.ok(&[
            "init",
            spec.to_str().unwrap(),
            "--approve",
            "--var-file",
            vars.to_str().unwrap(),
        ]);
        bundled
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn ops(&self) -> PathBuf {
        self.path("ops")
    }

    fn spec(&self) -> PathBuf {
        self.ops().join("stack.json")
    }

    fn vars(&self) -> PathBuf {
        self.ops().join("vars.json")
    }

    fn state(&self) -> String {
        self.s3
            .clone()
            .unwrap_or_else(|| self.path("state.json").display().to_string())
    }

    /// The stored bundle.
    fn stored(&self) -> PathBuf {
        self.path("state.json.bundle")
    }

    fn set_content(&self, content: &str) {
        std::fs::write(self.vars(), json!({"Content": content}).to_string()).unwrap();
    }

    fn rkit(&self, args: &[&str]) -> (i32, String) {
        let mut env = vec![
            (
                "RKIT_CACHE_DIR".to_string(),
                common::cache_dir().display().to_string(),
            ),
            ("HOME".to_string(), self.root.path().display().to_string()),
        ];
        env.extend(self.env.iter().cloned());
        common::rkit(self.root.path(), &env, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.rkit(args);
        assert_eq!(code, 0, "rkit {args:?}:\n{out}");
        out
    }

    fn push(&self) -> String {
        self.push_to(&self.state())
    }

    /// Pushes the bundle beside the state at `state`.
    fn push_to(&self, state: &str) -> String {
        let (spec, vars) = (self.spec(), self.vars());
        self.ok(&[
            "bundle",
            "push",
            spec.to_str().unwrap(),
            "--sign",
            "ops.key",
            "--var-file",
            vars.to_str().unwrap(),
            "--state",
            state,
        ])
    }

    fn pull(&self, trust: &str) -> (i32, String) {
        self.rkit(&[
            "bundle",
            "pull",
            "machine",
            "--state",
            &self.state(),
            "--trust",
            trust,
        ])
    }

    /// The note the stack writes, if written.
    fn note(&self) -> Option<String> {
        std::fs::read_to_string(self.path("out/note.txt")).ok()
    }

    /// Rewrites one file of the stored bundle without signing it again.
    fn tamper(&self, name: &str, content: &str) {
        tamper(&self.stored(), name, content);
    }
}

/// Rewrites one file of the sealed bundle at `path` without signing it again.
fn tamper(path: &Path, name: &str, content: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sealed: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut bundle: Value =
        serde_json::from_slice(&b64.decode(sealed["Bundle"].as_str().unwrap()).unwrap()).unwrap();
    bundle["Files"][name] = b64.encode(content).into();
    sealed["Bundle"] = b64.encode(serde_json::to_vec(&bundle).unwrap()).into();
    std::fs::write(path, serde_json::to_vec(&sealed).unwrap()).unwrap();
}

#[test]
fn a_pulled_bundle_is_the_signed_spec_with_its_lock_parameters_and_policies() {
    let b = Bundled::new();
    let out = b.push();
    assert!(
        out.contains("pushed the bundle of") && out.contains("4 files"),
        "{out}"
    );
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 0, "{out}");
    let spec = PathBuf::from(out.trim());
    let dir = spec.parent().unwrap();
    assert!(dir.starts_with(b.path("machine")), "{}", spec.display());
    assert_eq!(
        std::fs::read(&spec).unwrap(),
        std::fs::read(b.spec()).unwrap()
    );
    for name in ["rkit.lock", "vars.json", "policies/blast_radius.rego"] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            std::fs::read(b.ops().join(name)).unwrap(),
            "{name}"
        );
    }
    // Pulled again: the same version, in the same place; a file slipped into it is gone.
    std::fs::write(dir.join("policies/slipped.rego"), "package slipped").unwrap();
    let (_, again) = b.pull("ops.pub");
    assert_eq!(again.trim(), spec.display().to_string());
    assert!(!dir.join("policies/slipped.rego").exists());
    assert!(spec.exists());
}

#[test]
fn a_bundle_that_is_tampered_with_unsigned_by_a_trusted_key_or_replayed_is_refused() {
    let b = Bundled::new();
    b.push();
    let (code, out) = b.pull("stranger.pub");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is refused: its signature does not hold: it is signed by ed25519:")
            && out.contains("a key the trust policy does not list"),
        "{out}"
    );
    let first = std::fs::read(b.stored()).unwrap();
    b.tamper("vars.json", r#"{"Content": "evil"}"#);
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("its content was changed after it was signed"),
        "{out}"
    );
    assert!(!b.path("machine").exists(), "nothing unpacked");

    // A newer push is followed; the older one stored again is a replay.
    std::thread::sleep(Duration::from_millis(5));
    b.set_content("second");
    b.push();
    assert_eq!(b.pull("ops.pub").0, 0);
    std::fs::write(b.stored(), first).unwrap();
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("a replay of an older bundle"), "{out}");

    // Copied beside another stack's state, it is not that stack's.
    let other = b.path("other.json");
    std::fs::copy(b.stored(), b.path("other.json.bundle")).unwrap();
    let (code, out) = b.rkit(&[
        "bundle",
        "pull",
        "elsewhere",
        "--state",
        other.to_str().unwrap(),
        "--trust",
        "ops.pub",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "it was pushed for the stack whose state is {}, not",
            b.state()
        )),
        "{out}"
    );
}

#[test]
fn a_signed_bundle_naming_a_path_outside_its_directory_writes_nothing() {
    let b = Bundled::new();
    let key = rkit::registry::signing::read_secret(&b.path("ops.key")).unwrap();
    for name in [
        "../escaped.txt",
        "/tmp/absolute.txt",
        "a//b",
        "./x",
        "a\\b",
        "a\u{1b}b",
    ] {
        let bundle = rkit::bundle::Bundle {
            stack: b.state(),
            serial: 1,
            spec: name.to_string(),
            var_files: Vec::new(),
            files: [(name.to_string(), "aGk=".to_string())].into(),
            pushed_by: "someone".into(),
            pushed_at: 1,
        };
        let (sealed, _) = rkit::bundle::seal(&bundle, &key).unwrap();
        std::fs::write(b.stored(), sealed).unwrap();
        let (code, out) = b.pull("ops.pub");
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains("is not a path a bundle may hold"),
            "{name}: {out}"
        );
    }
    assert!(!b.path("escaped.txt").exists());
    assert!(!Path::new("/tmp/absolute.txt").exists());

    // A parameter file must be one of its files: never a path of the machine's.
    let bundle = rkit::bundle::Bundle {
        stack: b.state(),
        serial: 1,
        spec: "stack.json".into(),
        var_files: vec!["/etc/hostname".into()],
        files: [("stack.json".to_string(), "e30=".to_string())].into(),
        pushed_by: "someone".into(),
        pushed_at: 1,
    };
    let (sealed, _) = rkit::bundle::seal(&bundle, &key).unwrap();
    std::fs::write(b.stored(), sealed).unwrap();
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(r#""/etc/hostname" is not among its files"#),
        "{out}"
    );
}

#[test]
fn converge_follows_pushed_bundles_and_keeps_the_last_good_one_when_one_is_refused() {
    let b = Bundled::new();
    b.push();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rkit"));
    command.current_dir(b.root.path()).args([
        "converge",
        "machine",
        "--follow-bundle",
        "--state",
        &b.state(),
        "--trust",
        "ops.pub",
        "--interval",
        "1s",
        "--json",
        "--listen",
        &listen,
    ]);
    let running = Running::spawn(command);
    let seen = running.until(Duration::from_secs(60), |l| {
        l["type"] == "tick_finished" && b.note().as_deref() == Some("first")
    });
    assert!(
        seen.iter().any(|l| l["type"] == "bundle_followed"
            && l["signer"]
                .as_str()
                .is_some_and(|s| s.starts_with("ed25519:"))),
        "{seen:#?}"
    );

    b.set_content("second");
    b.push();
    running.until(Duration::from_secs(60), |l| {
        l["type"] == "tick_finished" && b.note().as_deref() == Some("second")
    });

    b.tamper("vars.json", r#"{"Content": "evil"}"#);
    let seen = running.until(Duration::from_secs(60), |l| l["type"] == "bundle_refused");
    let refused = seen.last().unwrap();
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("its content was changed after it was signed"),
        "{refused}"
    );
    running.until(Duration::from_secs(60), |l| l["type"] == "tick_finished");
    assert_eq!(
        b.note().as_deref(),
        Some("second"),
        "the last good bundle kept running"
    );
    let (_, metrics) = get(&listen, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("rkit_converge_bundle_refusals_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    running.stop();
}

#[test]
fn a_bundle_lives_beside_a_state_in_s3_and_another_stacks_is_refused_there() {
    let moto = Moto::start();
    let b = Bundled::in_s3(&moto);
    let out = b.push();
    assert!(out.contains("serial 1,"), "{out}");
    let out = b.push();
    assert!(
        out.contains("serial 2,"),
        "counted on from the stored one: {out}"
    );
    let objects = moto.emulator_with(&["objects", "rkit-state"]);
    let stored = objects["stacks/web.json.bundle"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 0, "{out}");
    let spec = PathBuf::from(out.trim());
    assert_eq!(
        std::fs::read(spec).unwrap(),
        std::fs::read(b.spec()).unwrap()
    );

    // Someone with the bucket copies another stack's bundle there, signed by the same key.
    b.push_to("s3://rkit-state/stacks/db.json");
    let objects = moto.emulator_with(&["objects", "rkit-state"]);
    let other = objects["stacks/db.json.bundle"].as_str().unwrap();
    moto.emulator_with(&["put-object", "rkit-state", "stacks/web.json.bundle", other]);
    let (code, out) = b.pull("ops.pub");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "it was pushed for the stack whose state is s3://rkit-state/stacks/db.json, not \
             s3://rkit-state/stacks/web.json"
        ),
        "{out}"
    );
    moto.emulator_with(&[
        "put-object",
        "rkit-state",
        "stacks/web.json.bundle",
        &stored,
    ]);
    assert_eq!(b.pull("ops.pub").0, 0, "its own bundle again");
}

#[test]
fn a_machine_restarting_while_the_store_is_unreachable_runs_what_it_followed_last() {
    let b = Bundled::new();
    b.push();
    assert_eq!(b.pull("ops.pub").0, 0, "followed once on this machine");
    // The store cannot be read: its object is not a file any more.
    std::fs::remove_file(b.stored()).unwrap();
    std::fs::create_dir(b.stored()).unwrap();
    let state = b.state();
    let once = [
        "converge",
        "machine",
        "--follow-bundle",
        "--state",
        &state,
        "--trust",
        "ops.pub",
        "--once",
    ];
    let out = b.ok(&once);
    assert!(out.contains("the last good bundle keeps running"), "{out}");
    assert_eq!(b.note().as_deref(), Some("first"), "{out}");

    // The copy kept on the machine is checked again before it is used.
    let kept: Vec<PathBuf> = std::fs::read_dir(b.path("machine/.rkit-bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sealed"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    tamper(&kept[0], "vars.json", r#"{"Content": "evil"}"#);
    let (code, out) = b.rkit(&once);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("its content was changed after it was signed"),
        "{out}"
    );
    assert_eq!(b.note().as_deref(), Some("first"));
}
