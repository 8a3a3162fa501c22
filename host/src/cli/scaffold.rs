//! `rkit provider new --lang rust|python|js NAME`: a working provider to start from, in a new
//! directory: one resource type, its test, the build command, and a spec that uses it.
//!
//! Invariants: never writes into an existing directory; what it writes comes from this binary
//! (templates, the Python SDK and the WIT it builds against), so the skeleton matches the
//! rkit that made it; NAME is a provider name (lowercase letters, digits and `-`, starting
//! with a letter), as specs and lock files require.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::ExitCode;

/// The files of a new provider, as (path, contents) with `NAME` and friends substituted.
fn files(lang: &str, name: &str) -> Result<Vec<(String, String)>> {
    Ok(match lang {
        "python" => python_files(name),
        "rust" => rust_files(name),
        "js" => js_files(name),
        other => bail!("--lang {other}: rkit makes rust, python or js providers"),
    })
}

/// A Python provider's files: its templates, its spec, the Python SDK and the WIT.
fn python_files(name: &str) -> Vec<(String, String)> {
    let mut out = templates(
        name,
        &[
            ("app.py", include_str!("../../templates/python/app.py")),
            (
                "test_app.py",
                include_str!("../../templates/python/test_app.py"),
            ),
            ("build.sh", include_str!("../../templates/python/build.sh")),
            (
                "README.md",
                include_str!("../../templates/python/README.md"),
            ),
        ],
    );
    out.push((format!("{name}.json"), spec(name, &format!("{name}.wasm"))));
    for (path, text) in PYTHON_SDK.iter().chain(GUEST_WIT) {
        out.push((path.to_string(), text.to_string()));
    }
    out
}

/// A Rust provider's files: the Rust SDK (in `rkit-sdk/`), its templates and its spec.
fn rust_files(name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, text) in RUST_SDK {
        // The SDK's bindings read the WIT beside it, not at the repository's root.
        let text = text
            .replace("path: \"../../wit\"", "path: \"wit\"")
            .replace("__VERSION__", env!("CARGO_PKG_VERSION"));
        out.push((format!("rkit-sdk/{path}"), text));
    }
    out.extend(templates(
        name,
        &[
            (
                "Cargo.toml",
                include_str!("../../templates/rust/Cargo.toml"),
            ),
            ("src/lib.rs", include_str!("../../templates/rust/lib.rs")),
            ("README.md", include_str!("../../templates/rust/README.md")),
        ],
    ));
    let lib = name.replace('-', "_");
    out.push((
        format!("{name}.json"),
        spec(name, &format!("target/wasm32-wasip2/release/{lib}.wasm")),
    ));
    out
}

/// A JavaScript provider's files: its templates, its spec, the JS SDK and the WIT.
fn js_files(name: &str) -> Vec<(String, String)> {
    let mut out = templates(
        name,
        &[
            ("app.js", include_str!("../../templates/js/app.js")),
            (
                "test_app.mjs",
                include_str!("../../templates/js/test_app.mjs"),
            ),
            ("build.mjs", include_str!("../../templates/js/build.mjs")),
            (
                "package.json",
                include_str!("../../templates/js/package.json"),
            ),
            ("README.md", include_str!("../../templates/js/README.md")),
        ],
    );
    out.push((format!("{name}.json"), spec(name, &format!("{name}.wasm"))));
    out.push((
        "rkit-sdk.js".to_string(),
        include_str!("../../../providers/sdk-js/rkit-sdk.js").to_string(),
    ));
    for (path, text) in GUEST_WIT {
        out.push((path.to_string(), text.to_string()));
    }
    out
}

/// Each template (path, text) with `__NAME__`, `__LIBNAME__` and `__CLASS__` replaced by
/// `name`, its library name and its class name.
fn templates(name: &str, list: &[(&str, &str)]) -> Vec<(String, String)> {
    let (lib, class) = (name.replace('-', "_"), class_name(name));
    list.iter()
        .map(|(path, text)| {
            let text = text
                .replace("__NAME__", name)
                .replace("__LIBNAME__", &lib)
                .replace("__CLASS__", &class);
            (path.to_string(), text)
        })
        .collect()
}

/// The spec of a new provider `name` whose module is `source`: one resource, one output.
fn spec(name: &str, source: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Providers": {name: {"Source": source}},
        "Resources": {"Hello": {
            "Plugin": name, "Type": "Greeting", "Properties": {"Name": "world"}
        }},
        "Outputs": {"Text": "{{.Resources.Hello.Attributes.Text}}"},
    }))
    .expect("a spec")
        + "\n"
}

/// `my-thing` → `MyThing`.
fn class_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "rkit_sdk/__init__.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/__init__.py"),
    ),
    (
        "rkit_sdk/errors.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/errors.py"),
    ),
    (
        "rkit_sdk/schema.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/schema.py"),
    ),
    (
        "rkit_sdk/provider.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/provider.py"),
    ),
    (
        "rkit_sdk/_exports.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/_exports.py"),
    ),
    (
        "rkit_sdk/http.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/http.py"),
    ),
    (
        "rkit_sdk/testing.py",
        include_str!("../../../providers/sdk-python/rkit_sdk/testing.py"),
    ),
];

/// The Rust SDK's sources and the SPI, copied into a Rust provider's `rkit-sdk/`.
const RUST_SDK: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/sdk-Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../providers/sdk/src/lib.rs"),
    ),
    (
        "src/bindings.rs",
        include_str!("../../../providers/sdk/src/bindings.rs"),
    ),
    (
        "src/error.rs",
        include_str!("../../../providers/sdk/src/error.rs"),
    ),
    (
        "src/json.rs",
        include_str!("../../../providers/sdk/src/json.rs"),
    ),
    (
        "src/provider.rs",
        include_str!("../../../providers/sdk/src/provider.rs"),
    ),
    (
        "src/resource.rs",
        include_str!("../../../providers/sdk/src/resource.rs"),
    ),
    (
        "src/runtime.rs",
        include_str!("../../../providers/sdk/src/runtime.rs"),
    ),
    (
        "wit/provider.wit",
        include_str!("../../../wit/provider.wit"),
    ),
];

const GUEST_WIT: &[(&str, &str)] = &[
    (
        "wit/world.wit",
        include_str!("../../../providers/guest-wit/world.wit"),
    ),
    (
        "wit/deps/rkit-provider/provider.wit",
        include_str!("../../../wit/provider.wit"),
    ),
    (
        "wit/deps/cli.wit",
        include_str!("../../../providers/guest-wit/deps/cli.wit"),
    ),
    (
        "wit/deps/clocks.wit",
        include_str!("../../../providers/guest-wit/deps/clocks.wit"),
    ),
    (
        "wit/deps/filesystem.wit",
        include_str!("../../../providers/guest-wit/deps/filesystem.wit"),
    ),
    (
        "wit/deps/http.wit",
        include_str!("../../../providers/guest-wit/deps/http.wit"),
    ),
    (
        "wit/deps/io.wit",
        include_str!("../../../providers/guest-wit/deps/io.wit"),
    ),
    (
        "wit/deps/random.wit",
        include_str!("../../../providers/guest-wit/deps/random.wit"),
    ),
    (
        "wit/deps/sockets.wit",
        include_str!("../../../providers/guest-wit/deps/sockets.wit"),
    ),
];

/// Whether `name` can name a provider.
fn valid(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64
}

/// `rkit provider new`.
pub fn run(lang: &str, name: &str, dir: Option<&Path>) -> Result<ExitCode> {
    if !valid(name) {
        bail!(
            "{name:?} cannot name a provider: lowercase letters, digits and -, starting with a \
             letter"
        );
    }
    let files = files(lang, name)?;
    let dir = dir.map_or_else(|| Path::new(name).to_path_buf(), Path::to_path_buf);
    std::fs::create_dir(&dir).with_context(|| {
        format!(
            "creating {} (rkit writes a new provider into a new directory)",
            dir.display()
        )
    })?;
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        if path.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let (test, build) = match lang {
        "python" => ("python3 -m unittest", "./build.sh"),
        "js" => ("npm test", "npm install && npm run build"),
        _ => ("cargo test", "cargo build --release --target wasm32-wasip2"),
    };
    crate::outln!(
        "Wrote the {lang} provider {name} to {}: test it with `{test}`, build it with `{build}`, \
         then `rkit apply {name}.json --approve` there.",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_languages_are_checked() {
        assert!(valid("my-thing2"));
        for bad in ["My", "2x", "a_b", "a-", "", "a/b"] {
            assert!(!valid(bad), "{bad}");
        }
        assert_eq!(class_name("my-thing"), "MyThing");
        assert_eq!(
            files("cobol", "x").unwrap_err().to_string(),
            "--lang cobol: rkit makes rust, python or js providers"
        );
        let python = files("python", "my-thing").unwrap();
        let app = &python.iter().find(|(p, _)| p == "app.py").unwrap().1;
        assert!(app.contains("class MyThing(Provider):"), "{app}");
        assert!(app.contains("NAME = \"my-thing\""), "{app}");
        assert!(python.iter().any(|(p, _)| p == "wit/deps/http.wit"));
    }

    /// The Rust skeleton carries the whole SDK, with the SDK's own dependencies, and needs no
    /// checkout of rkit (no path outside the skeleton).
    #[test]
    fn a_rust_provider_carries_the_sdk_it_builds_with() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/sdk");
        let copied: Vec<&str> = RUST_SDK.iter().map(|(p, _)| *p).collect();
        for entry in std::fs::read_dir(sdk.join("src")).unwrap() {
            let name = format!("src/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(copied.contains(&name.as_str()), "{name} is not copied");
        }
        let deps = |text: &str| -> Vec<String> {
            let section = text.split("[dependencies]").nth(1).unwrap_or_default();
            let mut names: Vec<String> = section
                .lines()
                .take_while(|l| !l.starts_with('['))
                .filter_map(|l| {
                    l.split_once('=')
                        .map(|(k, _)| k.trim().trim_end_matches(".workspace").to_string())
                })
                .filter(|k| !k.is_empty() && !k.starts_with('#'))
                .collect();
            names.sort();
            names
        };
        let theirs = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
        let rust = files("rust", "my-thing").unwrap();
        let ours = &rust
            .iter()
            .find(|(p, _)| p == "rkit-sdk/Cargo.toml")
            .unwrap()
            .1;
        assert_eq!(deps(ours), deps(&theirs));
        let bindings = &rust
            .iter()
            .find(|(p, _)| p == "rkit-sdk/src/bindings.rs")
            .unwrap()
            .1;
        assert!(bindings.contains("path: \"wit\""), "{bindings}");
        for (path, text) in &rust {
            assert!(
                !text.contains(env!("CARGO_MANIFEST_DIR")),
                "{path} names this checkout"
            );
        }
    }
}
