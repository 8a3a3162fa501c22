//! Paths in specs are relative to the granted directory, which the guest sees as `/`.

use rkit_sdk::{Diagnostic, Error, Result};
use std::path::{Component, Path, PathBuf};

/// Checks a spec path: relative, no `..`, not inside rkit's metadata directory.
pub fn check(field: &str, path: &str) -> Vec<Diagnostic> {
    match resolve(path) {
        Ok(_) => Vec::new(),
        Err(err) => vec![Diagnostic::error(field, err.message)],
    }
}

/// The guest path of a spec path.
pub fn resolve(path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() {
        return Err(Error::invalid("Path", "must not be empty"));
    }
    let mut out = PathBuf::from("/");
    for component in p.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::invalid(
                    "Path",
                    format!("{path:?} must be relative to the granted directory"),
                ));
            }
            Component::ParentDir => {
                return Err(Error::invalid(
                    "Path",
                    format!("{path:?} must not leave the granted directory (`..`)"),
                ));
            }
        }
    }
    if out.starts_with(crate::meta::ROOT) {
        return Err(Error::invalid(
            "Path",
            format!("{path:?} is inside rkit's metadata directory"),
        ));
    }
    if out == Path::new("/") {
        return Err(Error::invalid(
            "Path",
            "must name something inside the granted directory",
        ));
    }
    Ok(out)
}

/// Adds what was being done, and to which path, to an I/O error.
pub fn io(action: &'static str, path: &str) -> impl FnOnce(std::io::Error) -> Error {
    move |err| {
        let mut err = Error::from(err);
        err.message = format!("{action} {path:?}: {}", err.message);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_nested_relative_paths() {
        assert_eq!(resolve("a/./b.txt").unwrap(), PathBuf::from("/a/b.txt"));
    }

    #[test]
    fn rejects_escapes_and_absolute_paths() {
        for bad in ["../x", "/etc/passwd", "a/../../x", "", ".", ".rkit/x"] {
            assert!(resolve(bad).is_err(), "{bad} accepted");
        }
    }
}
