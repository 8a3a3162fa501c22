//! The text a loaded spec was read from, kept to point a later error at its line.
//!
//! Invariants: a small spec's text (up to [`HELD_UP_TO`] bytes) is held; a larger one's is
//! not (at 100,000 resources it is ~10 MB, held through a whole plan for an error that
//! seldom comes), and is read again from the file when an error needs it, then used only if
//! it is exactly the text the spec was loaded from (its length and hash): an edited file
//! gives an error without a line, never one pointing at the wrong line. Errors alive at once
//! share one read (many findings do not each hold a copy), and the text is let go with the
//! last of them (a converge holds its spec for months); a file found changed is not read
//! again for that load. A spec not read from a regular file (a pipe, `/dev/stdin`) is held
//! whatever its size: it cannot be read twice.
//! The text is the one errors are located in: comments blanked, a byte-order mark left out.
//!
//! [`inputs`] fingerprints what a spec file is loaded from, so that a long-running converge
//! reads and parses its spec again only when that changes.

use super::parameters::Given;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

/// The largest text held; a larger one is read again when an error needs it.
pub const HELD_UP_TO: usize = 1 << 20;

/// Where a loaded spec's text is found again (see the module's header).
#[derive(Debug, Clone, Default)]
pub enum Source {
    /// Not known (a saved plan's spec).
    #[default]
    Unknown,
    Held(Arc<String>),
    /// In the spec's file, as long as it still holds this text; `read`: what reading it
    /// again gave.
    InFile {
        len: usize,
        hash: u64,
        read: Arc<Mutex<Read>>,
    },
}

/// What reading a large spec's file again gave.
#[derive(Debug, Default)]
pub enum Read {
    #[default]
    NotYet,
    /// The text, while an error holds it (its bytes are their own allocation, freed with
    /// the last error that holds them: an `Arc<str>` would keep them for the `Weak`).
    Text(Weak<String>),
    /// The file no longer holds the text.
    Changed,
}

impl Source {
    /// Kept for `text`, as read (comments blanked) from a regular file.
    pub fn of(text: &Arc<String>) -> Source {
        match text.len() <= HELD_UP_TO {
            true => Source::Held(text.clone()),
            false => Source::InFile {
                len: text.len(),
                hash: hash(text),
                read: Arc::default(),
            },
        }
    }

    /// Whether `path` is a regular file (one that can be read again).
    pub fn is_file(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_file())
    }

    /// The text, read again from `path` if it is not held; none if the file no longer
    /// holds it.
    pub fn text(&self, path: &Path) -> Option<Arc<String>> {
        match self {
            Source::Unknown => None,
            Source::Held(text) => Some(text.clone()),
            Source::InFile {
                len,
                hash: kept,
                read,
            } => {
                let mut read = read.lock().unwrap_or_else(|p| p.into_inner());
                let held = match &*read {
                    Read::Changed => return None,
                    Read::Text(text) => text.upgrade(),
                    Read::NotYet => None,
                };
                if held.is_some() {
                    return held;
                }
                let text = std::fs::read_to_string(path).ok().and_then(|text| {
                    let relaxed = super::jsonc::relax(&text).text;
                    (relaxed.len() == *len && hash(&relaxed) == *kept).then(|| Arc::new(relaxed))
                });
                *read = match &text {
                    Some(text) => Read::Text(Arc::downgrade(text)),
                    None => Read::Changed,
                };
                text
            }
        }
    }
}

fn hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// What a spec file is loaded from, fingerprinted: its path and `text` (its bytes), and every
/// value `given` for its parameters (the command line's, `RKIT_VAR_*`, each parameter file's
/// path and bytes, read now). Loading the same inputs gives the same spec, so a converge
/// that finds them unchanged keeps the spec it has. The hash is the process's own (never
/// stored), and the parameter files are read before the spec is parsed: a file changed
/// between the two reads changes the next fingerprint, never hides a change.
pub fn inputs(path: &Path, text: &[u8], given: &Given) -> u64 {
    let mut hasher = DefaultHasher::new();
    (path, text).hash(&mut hasher);
    (&given.vars, &given.env, given.lenient).hash(&mut hasher);
    for file in &given.files {
        (file, std::fs::read(file).map_err(|e| e.kind())).hash(&mut hasher);
    }
    hasher.finish()
}

/// [`inputs`] as they are now (none if the spec file cannot be read).
pub fn inputs_now(path: &Path, given: &Given) -> Option<u64> {
    let text = std::fs::read(path).ok()?;
    Some(inputs(path, &text, given))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec over [`HELD_UP_TO`] with a bad field on its last line.
    fn large() -> String {
        let mut text = String::from("{\"Resources\": {\n");
        let mut i = 0;
        while text.len() <= HELD_UP_TO {
            text.push_str(&format!(
                "  \"R{i}\": {{\"Plugin\": \"p\", \"Type\": \"T\"}}, // the {i}th\n"
            ));
            i += 1;
        }
        text.push_str(
            "  \"Last\": {\"Plugin\": \"p\", \"Type\": \"T\", \"Properties\": {\"X\": 1}}\n}}\n",
        );
        text
    }

    #[test]
    fn a_large_spec_is_read_again_for_an_error_and_only_if_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        let text = large();
        std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
        let spec = crate::spec::load(&path).unwrap();
        assert!(matches!(spec.source, Source::InFile { .. }));
        let line = text.lines().count() - 1;
        let err = spec.resource_error("Last", "Properties.X", "wrong");
        assert_eq!(
            err.to_string(),
            format!(
                "{}:{line}:60: resource Last: field Properties.X: wrong",
                path.display()
            )
        );
        // The same length, another text: no line rather than a wrong one.
        let spec = crate::spec::load(&path).unwrap();
        std::fs::write(&path, text.replacen("R0", "Q0", 1)).unwrap();
        let err = spec.resource_error("Last", "Properties.X", "wrong");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: resource Last: field Properties.X: wrong",
                path.display()
            )
        );
    }

    #[test]
    fn every_error_shares_one_read_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(&path, large()).unwrap();
        let spec = crate::spec::load(&path).unwrap();
        let first = spec.resource_error("Last", "Type", "wrong").text.unwrap();
        std::fs::remove_file(&path).unwrap();
        let second = spec.resource_error("R0", "Type", "wrong").text.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        // Let go with the last error that held it; the file, gone, is not read again.
        drop((first, second));
        assert!(spec.resource_error("R0", "Type", "wrong").text.is_none());
        std::fs::write(&path, large()).unwrap();
        assert!(spec.resource_error("R0", "Type", "wrong").text.is_none());
    }

    #[test]
    fn what_cannot_be_read_again_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Source::is_file(Path::new("/dev/null")));
        assert!(!Source::is_file(dir.path()));
        assert!(!Source::is_file(&dir.path().join("gone.json")));
        std::fs::write(dir.path().join("spec.json"), "{}").unwrap();
        assert!(Source::is_file(&dir.path().join("spec.json")));
    }

    #[test]
    fn inputs_change_with_the_spec_and_every_given_value() {
        let dir = tempfile::tempdir().unwrap();
        let (path, vars) = (dir.path().join("spec.json"), dir.path().join("vars.json"));
        std::fs::write(
            &path,
            r#"{"Parameters": {"N": {"Type": "String"}}, "Resources": {}}"#,
        )
        .unwrap();
        std::fs::write(&vars, r#"{"N": "a"}"#).unwrap();
        let given = Given {
            files: vec![vars.clone()],
            ..Given::default()
        };
        let spec = crate::spec::load_with(&path, &given).unwrap();
        assert_eq!(spec.parameters.values["N"], "a");
        assert_eq!(inputs_now(&path, &given), spec.inputs);
        std::fs::write(&vars, r#"{"N": "b"}"#).unwrap();
        assert_ne!(inputs_now(&path, &given), spec.inputs);
        std::fs::write(&vars, r#"{"N": "a"}"#).unwrap();
        let by_var = Given {
            vars: vec![("N".into(), "c".into())],
            ..given.clone()
        };
        assert_ne!(inputs_now(&path, &by_var), spec.inputs);
        std::fs::write(
            &path,
            r#"{"Parameters": {"N": {"Type": "String"}}, "Resources": {} }"#,
        )
        .unwrap();
        assert_ne!(inputs_now(&path, &given), spec.inputs);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(inputs_now(&path, &given), None);
        assert_eq!(crate::spec::parse(&path, "{}").unwrap().inputs, None);
    }

    #[test]
    fn a_small_spec_is_held() {
        let text = r#"{"Resources": {"A": {"Plugin": "p", "Type": "T"}}}"#;
        let spec = crate::spec::parse(Path::new("gone.json"), text).unwrap();
        assert!(matches!(&spec.source, Source::Held(t) if **t == text));
        let err = spec.resource_error("A", "Type", "wrong");
        assert_eq!(
            err.to_string(),
            "gone.json:1:45: resource A: field Type: wrong"
        );
    }
}
