//! Helpers shared by the end-to-end tests: where the provider components are.
#![allow(dead_code)] // each test crate uses a different part

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
pub mod moto;
pub mod registry;
