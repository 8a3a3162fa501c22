//! `rkit provider inspect`, run as a user would: the real binary on the real component.

use crate::common;

use serde_json::{Value, json};
use std::process::Command;

fn rkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rkit"))
        .args(args)
        .env("RKIT_CACHE_DIR", common::cache_dir())
        .output()
        .unwrap()
}

#[test]
fn inspect_prints_name_version_types_schemas_and_capabilities() {
    let wasm = common::provider_wasm("local");
    let out = rkit(&["provider", "inspect", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let title = format!("provider local {}", env!("CARGO_PKG_VERSION"));
    for expected in [
        title.as_str(),
        "digest:  sha256:",
        "filesystem: one granted directory",
        "http:       none",
        "memory:     32 MiB",
        "  File: A file with the given content",
        "Path (string, required, force-new)",
        "Value (string, required, sensitive): The random string.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn inspect_json_has_the_same_facts() {
    let wasm = common::provider_wasm("local");
    let out = rkit(&["provider", "inspect", "--json", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    // PascalCase as all else rkit prints; a provider's JSON Schemas as it wrote them.
    assert_eq!(info["Name"], "local");
    assert_eq!(info["Capabilities"]["Filesystem"], true);
    assert_eq!(info["Capabilities"]["HttpHosts"], json!([]));
    assert_eq!(info["Types"][1]["Name"], "File");
    assert_eq!(info["Types"][1]["ForceNew"][0], "Path");
    assert_eq!(
        info["Types"][1]["PropertiesSchema"]["properties"]["Path"]["type"],
        "string"
    );
    assert!(
        info["Module"]["Digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

/// A provider that outlines its types (SPI 0.4, as awscc's 1,700 do) is listed by name and
/// describes the types asked for with `--type`, whole; one it lacks is named in the error.
#[test]
fn inspect_describes_outlined_types_on_demand() {
    let wasm = common::provider_wasm("hostile");
    let path = wasm.to_str().unwrap();
    let out = rkit(&["provider", "inspect", path]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("  AwsRaw (--type AwsRaw describes it)\n"),
        "{text}"
    );
    assert!(
        text.contains("cloud control resource types: AWS::SQS::*"),
        "{text}"
    );
    let out = rkit(&["provider", "inspect", path, "--type", "AwsRaw", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Types"].as_array().unwrap().len(), 1, "{info}");
    assert_eq!(info["Types"][0]["Name"], "AwsRaw");
    assert!(info["Types"][0].get("Outline").is_none(), "{info}");
    assert_eq!(
        info["Types"][0]["PropertiesSchema"]["properties"]["Endpoint"]["type"],
        "string"
    );
    let out = rkit(&["provider", "inspect", path, "--type", "Nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("provider hostile has no type \"Nope\" ("),
        "{err}"
    );
}

#[test]
fn inspect_rejects_what_is_not_a_provider() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let out = rkit(&["provider", "inspect", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("junk.wasm is not a WebAssembly component"),
        "{err}"
    );

    let missing = rkit(&["provider", "inspect", "/nonexistent/x.wasm"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("reading provider /nonexistent/x.wasm")
    );

    let usage = rkit(&["provider", "inspect"]);
    assert_eq!(usage.status.code(), Some(2));
}

/// Runs `program args` in `dir`, asserting success; its output.
fn run_in(dir: &std::path::Path, program: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?}:\n{text}");
    text
}

/// `rkit provider new --lang LANG NAME` in a temporary directory: it, and the new provider's.
fn scaffold(lang: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    let dir_text = dir.display().to_string();
    let out = rkit(&["provider", "new", "--lang", lang, name, "--dir", &dir_text]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, dir)
}

/// Applies the scaffold's own spec in `dir` and reads its output back.
fn apply_scaffold(dir: &std::path::Path, spec: &str) {
    let rkit = env!("CARGO_BIN_EXE_rkit");
    let env = [("RKIT_CACHE_DIR", common::cache_dir().display().to_string())];
    let out = run_in(dir, rkit, &["apply", spec, "--yes", "--approve"], &env);
    assert!(out.contains("Apply complete: 1 created"), "{out}");
    let out = run_in(dir, rkit, &["output", spec, "Text", "--raw"], &env);
    assert_eq!(out, "Hello, world!");
    let out = run_in(dir, rkit, &["plan", spec, "--approve"], &env);
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn a_new_python_provider_tests_builds_and_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("greeter");
    let out = rkit(&["provider", "new", "--lang", "python", "greeter", "--dir"])
        .status
        .code();
    assert_eq!(out, Some(2), "--dir needs a value");
    let dir_text = dir.display().to_string();
    let out = rkit(&[
        "provider", "new", "--lang", "python", "greeter", "--dir", &dir_text,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Never into an existing directory.
    let again = rkit(&[
        "provider", "new", "--lang", "python", "greeter", "--dir", &dir_text,
    ]);
    assert_eq!(again.status.code(), Some(1));
    let out = run_in(&dir, "python3", &["-m", "unittest", "-v"], &[]);
    assert!(out.contains("Ran 2 tests") && out.contains("OK"), "{out}");
    // Its build command: without componentize-py it says how to get it; given one, it builds.
    let missing = Command::new("./build.sh")
        .current_dir(&dir)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("COMPONENTIZE_PY")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("componentize-py is not on PATH (nor in .venv/bin)")
            && said.contains(".venv/bin/pip install componentize-py==0.25.1"),
        "{said}"
    );
    let tool = common::moto::venv().join("bin/componentize-py");
    run_in(
        &dir,
        "./build.sh",
        &[],
        &[("COMPONENTIZE_PY", tool.display().to_string())],
    );
    assert!(dir.join("greeter.wasm").exists());
    apply_scaffold(&dir, "greeter.json");
}

#[test]
fn a_new_rust_provider_builds_and_applies() {
    let (_tmp, dir) = scaffold("rust", "greeter-rs");
    // Built against the workspace's locked versions, in a target directory of its own (the
    // workspace's is locked by the `cargo test` running this), kept between runs.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let target = common::target_dir().join("scaffold-test");
    run_in(
        &dir,
        "cargo",
        &["build", "--release", "--target", "wasm32-wasip2"],
        &[("CARGO_TARGET_DIR", target.display().to_string())],
    );
    let built = target.join("wasm32-wasip2/release/greeter_rs.wasm");
    let wasm = dir.join("target/wasm32-wasip2/release/greeter_rs.wasm");
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::copy(&built, &wasm).unwrap();
    apply_scaffold(&dir, "greeter-rs.json");
}

#[test]
fn a_new_js_provider_tests_builds_and_applies() {
    let (_tmp, dir) = scaffold("js", "greeter-js");
    // `npm install` would fetch the pinned componentize-js: the repository's copy stands in.
    let toolchain =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/node_modules");
    std::os::unix::fs::symlink(toolchain.canonicalize().unwrap(), dir.join("node_modules"))
        .unwrap();
    let out = run_in(&dir, "node", &["--test", "test_app.mjs"], &[]);
    assert!(
        out.contains("# pass 2") && out.contains("# fail 0"),
        "{out}"
    );
    run_in(&dir, "node", &["build.mjs"], &[]);
    assert!(dir.join("greeter-js.wasm").exists());
    apply_scaffold(&dir, "greeter-js.json");
}
