//! The text a loaded spec was read from, kept to point a later error at its line.
//!
//! Invariants: a small spec's text (up to [`HELD_UP_TO`] bytes) is held; a larger one's is
//! not (at 100,000 resources it is ~10 MB, held through a whole plan for an error that
//! seldom comes), and is read again from the file when an error needs it, then used only if
//! it is exactly the text the spec was loaded from (its length and hash): an edited file
//! gives an error without a line, never one pointing at the wrong line. The text is the one
//! errors are located in: comments blanked, a byte-order mark left out.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

/// The largest text held; a larger one is read again when an error needs it.
pub const HELD_UP_TO: usize = 1 << 20;

/// Where a loaded spec's text is found again (see the module's header).
#[derive(Debug, Clone, Default)]
pub enum Source {
    /// Not known (a saved plan's spec).
    #[default]
    Unknown,
    Held(Arc<str>),
    /// In the spec's file, as long as it still holds this text.
    InFile {
        len: usize,
        hash: u64,
    },
}

impl Source {
    /// Kept for `text`, as read (comments blanked).
    pub fn of(text: &Arc<str>) -> Source {
        match text.len() <= HELD_UP_TO {
            true => Source::Held(text.clone()),
            false => Source::InFile {
                len: text.len(),
                hash: hash(text),
            },
        }
    }

    /// The text, read again from `path` if it is not held; none if the file no longer
    /// holds it.
    pub fn text(&self, path: &Path) -> Option<Arc<str>> {
        match self {
            Source::Unknown => None,
            Source::Held(text) => Some(text.clone()),
            Source::InFile { len, hash: kept } => {
                let read = std::fs::read_to_string(path).ok()?;
                let read = read.strip_prefix('\u{feff}').unwrap_or(&read);
                let relaxed = super::jsonc::relax(read).text;
                (relaxed.len() == *len && hash(&relaxed) == *kept).then(|| relaxed.into())
            }
        }
    }
}

fn hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
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
    fn a_small_spec_is_held() {
        let text = r#"{"Resources": {"A": {"Plugin": "p", "Type": "T"}}}"#;
        let spec = crate::spec::parse(Path::new("gone.json"), text).unwrap();
        assert!(matches!(&spec.source, Source::Held(t) if &**t == text));
        let err = spec.resource_error("A", "Type", "wrong");
        assert_eq!(
            err.to_string(),
            "gone.json:1:45: resource A: field Type: wrong"
        );
    }
}
