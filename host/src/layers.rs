//! The crate's architecture, checked: modules import only downward, and no two modules import
//! each other, however indirectly. Read from the source (every `crate::`, `super::` and
//! `self::` path outside a file's tests), so a change that breaks either fails here, naming
//! the import.
//!
//! Layers, lowest first (a module may import its own layer and those below it):
//! 0. words: `text`, `output`, `duration`, `json_strict`, `tags`, `spi`, `interned`, `heap`,
//!    `tls`;
//! 1. the parts: `spec`, `graph` (its algorithms, no pictures), `sandbox`, `registry`, `policy`,
//!    `credentials`, `state`, `bundle`;
//! 2. `engine` (a library that only emits events), with `engine::action` below the rest of it
//!    (it imports nothing of the engine);
//! 3. `cli` (pictures, prompts, rendering).
//!
//! The crate root (its macros) is below everything and imports nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a top-level module.
fn layer(module: &str) -> usize {
    match module.split("::").next().unwrap_or_default() {
        "" => 0,
        "text" | "output" | "duration" | "json_strict" | "tags" | "spi" | "interned" | "heap"
        | "tls" => 0,
        "spec" | "graph" | "sandbox" | "registry" | "credentials" | "state" | "policy"
        | "bundle" => 1,
        "engine" => 2,
        "cli" => 3,
        other => panic!("module {other} has no layer: add it to layers.rs"),
    }
}

/// Every module (`engine::apply`; the root is ``) and its file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != src.join("main.rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                found.insert(parts.join("::"), path);
            }
        }
    }
    found
}

/// The source without its tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths (as segments) starting at `at`: `a::b`, or each item of `a::{b, c::{d}}`.
fn paths(text: &[u8], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        let start = *at;
        while *at < text.len() && (text[*at].is_ascii_alphanumeric() || text[*at] == b'_') {
            *at += 1;
        }
        if *at > start {
            path.push(String::from_utf8_lossy(&text[start..*at]).into_owned());
        }
        if text[*at..].starts_with(b"::{") {
            *at += 3;
            loop {
                while text[*at].is_ascii_whitespace() {
                    *at += 1;
                }
                if text[*at] == b'}' {
                    *at += 1;
                    return;
                }
                paths(text, at, path.clone(), out);
                while text[*at].is_ascii_whitespace() || text[*at] == b',' {
                    *at += 1;
                }
            }
        } else if text[*at..].starts_with(b"::") {
            *at += 2;
        } else {
            // `a as b`: the alias is not a module.
            out.push(path);
            while *at < text.len() && !matches!(text[*at], b',' | b'}' | b';' | b'\n') {
                *at += 1;
            }
            return;
        }
    }
}

/// The modules `module`'s code (`text`) names, among `all`.
fn imports(module: &str, text: &str, all: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let here: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let mut found = BTreeSet::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in text.match_indices(start) {
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut out = Vec::new();
            paths(bytes, &mut at.clone(), Vec::new(), &mut out);
            for path in out {
                let mut base: Vec<&str> = here.clone();
                let mut rest = path.iter().map(String::as_str).peekable();
                match rest.next() {
                    Some("crate") => base.clear(),
                    Some("self") => {}
                    _ => {
                        base.pop();
                    }
                }
                while rest.peek() == Some(&"super") {
                    rest.next();
                    base.pop();
                }
                let rest: Vec<&str> = rest.collect();
                // The longest prefix that is a module.
                let target = (0..=rest.len()).rev().find_map(|n| {
                    let m = base.iter().chain(&rest[..n]).copied().collect::<Vec<_>>();
                    let m = m.join("::");
                    all.contains_key(&m).then_some(m)
                });
                if let Some(t) = target.filter(|t| t != module) {
                    found.insert(t);
                }
            }
        }
    }
    found
}

/// A circle through `from`, if any: the modules on it.
fn circle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == from) {
        return Some(path[at..].to_vec());
    }
    if !done.insert(from.to_string()) {
        return None;
    }
    path.push(from.to_string());
    for next in edges.get(from).into_iter().flatten() {
        if let Some(c) = circle(edges, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    None
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = modules(&src);
    all.remove("layers"); // this checker: its examples are not imports
    all.iter()
        .map(|(m, path)| (m.clone(), imports(m, &code(path), &all)))
        .collect()
}

#[test]
fn modules_import_only_downward() {
    let mut up = Vec::new();
    for (from, to) in &graph() {
        for t in to {
            let upward = layer(t) > layer(from)
                || (from == "engine::action" && t.starts_with("engine"))
                || (from.is_empty() && !t.is_empty());
            if upward {
                up.push(format!("{from} imports {t}"));
            }
        }
    }
    assert!(up.is_empty(), "upward imports:\n{}", up.join("\n"));
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let edges = graph();
    // A child naming its parent's items is how Rust modules nest: not a circle.
    let edges: BTreeMap<String, BTreeSet<String>> = edges
        .into_iter()
        .map(|(m, to)| {
            let to = to
                .into_iter()
                .filter(|t| !m.starts_with(&format!("{t}::")) && !t.is_empty())
                .collect();
            (m, to)
        })
        .collect();
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(c) = circle(&edges, m, &mut Vec::new(), &mut done) {
            panic!("a circle of imports: {} -> {}", c.join(" -> "), c[0]);
        }
    }
}

#[test]
fn the_reader_finds_nested_and_aliased_imports() {
    let all: BTreeMap<String, PathBuf> = ["engine", "engine::plan", "engine::walk", "state"]
        .into_iter()
        .map(|m| (m.to_string(), PathBuf::new()))
        .collect();
    let text = "use super::{plan::{Action, Plan}, walk as w};\nlet s = crate::state::now();";
    let found = imports("engine::apply", text, &all);
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["engine::plan", "engine::walk", "state"]
    );
}
