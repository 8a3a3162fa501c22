//! `rkit provider inspect`, run as a user would: the real binary on the real component.

mod common;

use serde_json::Value;
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
    assert_eq!(info["name"], "local");
    assert_eq!(info["capabilities"]["filesystem"], true);
    assert_eq!(info["types"][1]["name"], "File");
    assert_eq!(info["types"][1]["force_new"][0], "Path");
    assert_eq!(
        info["types"][1]["properties_schema"]["properties"]["Path"]["type"],
        "string"
    );
    assert!(
        info["module"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
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
