//! A temporary stack for end-to-end tests: a spec file beside its state in a temporary
//! directory, granting `local` the `out/` directory, and the real `rkit` binary run on it.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A temporary stack: a spec file beside its state, granting `local` the `out/` directory.
pub struct Stack {
    pub dir: tempfile::TempDir,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

impl Stack {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.path().join("stack.json")
    }

    pub fn out(&self, path: &str) -> PathBuf {
        self.dir.path().join("out").join(path)
    }

    /// Writes a spec with these resources (and outputs).
    pub fn write(&self, resources: Value, outputs: Value) {
        let spec = json!({
            "Providers": {"local": {
                "Source": super::provider_wasm("local"),
                "Grants": {"Filesystem": "out"}
            }},
            "Resources": resources,
            "Outputs": outputs,
        });
        std::fs::write(self.spec_path(), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    }

    /// Runs rkit; commands on a spec approve its providers (`--approve`).
    pub fn rkit(&self, args: &[&str]) -> Output {
        self.rkit_with(args, &[])
    }

    /// Runs rkit with these environment variables added.
    pub fn rkit_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let spec = self.spec_path();
        let mut args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "SPEC" {
                    spec.to_str().unwrap()
                } else {
                    a
                }
            })
            .collect();
        super::approving(&mut args);
        Command::new(env!("CARGO_BIN_EXE_rkit"))
            .args(&args)
            .env("RKIT_CACHE_DIR", super::cache_dir())
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs rkit, asserting the exit code; returns stdout and stderr together.
    pub fn expect(&self, code: i32, args: &[&str]) -> String {
        self.expect_with(code, args, &[])
    }

    /// As [`Stack::expect`], with these environment variables added.
    pub fn expect_with(&self, code: i32, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.rkit_with(args, env);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "rkit {args:?}:\n{text}");
        text
    }

    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("stack.rkit-state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

pub fn file(path: &str, content: &str) -> Value {
    json!({"Plugin": "local", "Type": "File", "Properties": {"Path": path, "Content": content}})
}

/// Writes a spec of `null` resources.
pub fn write_null(stack: &Stack, resources: Value) {
    let spec = json!({
        "Providers": {"null": {"Source": super::provider_wasm("null")}},
        "Resources": resources,
    });
    std::fs::write(stack.spec_path(), spec.to_string()).unwrap();
}
