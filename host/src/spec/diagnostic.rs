//! Spec errors that point at the file: the typed error for a bad spec ([`SpecError`]: file,
//! what it is about, the field, the message and where in the file), and how to find a field
//! in the text (jsonc-parser's syntax tree, comments and trailing commas allowed).
//!
//! Invariants: the one-line form of an error always names the file (and its `line:column`
//! when the field is found), the subject (`resource A`, `output B`, `parameter C`) and the
//! field, so it reads the same in a log; [`SpecError::render`] adds the source line,
//! underlined. Text from the file and from providers is escaped before it is shown.

use jsonc_parser::ast::{ObjectPropName, Value as Node};
use jsonc_parser::common::Ranged;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Where in the file: 1-based line and column, and the byte range underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub span: Range<usize>,
}

/// A spec error.
#[derive(Debug, Clone, thiserror::Error)]
pub struct SpecError {
    pub file: PathBuf,
    /// `resource A`, `output B`, `parameter C`; none for the file as a whole.
    pub subject: Option<String>,
    /// The field (`Type`, `Properties.Rules[0].Port`).
    pub field: Option<String>,
    pub message: String,
    pub at: Option<Location>,
    /// The file's text, for showing the line.
    pub text: Option<Arc<String>>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(at) = &self.at {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        write!(f, ": ")?;
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Several spec errors (validation reports them all at once).
#[derive(Debug, Clone, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl SpecError {
    /// An error about the file as a whole.
    pub fn file(file: &std::path::Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            subject: None,
            field: None,
            message: message.into(),
            at: None,
            text: None,
        }
    }

    /// The error with its source line, underlined (plain text: the caller's stream decides
    /// on colour). Provider and file text is escaped.
    pub fn render(&self) -> String {
        let title = crate::text::escaped(&self.to_string());
        let (Some(at), Some(text)) = (&self.at, &self.text) else {
            return format!("error: {title}");
        };
        let shown = printable(text);
        let origin = self.file.display().to_string();
        let label = match &self.field {
            Some(field) => format!("field {field}"),
            None => String::new(),
        };
        let span = at.span.start.min(shown.len())..at.span.end.min(shown.len());
        let message = annotate_snippets::Level::Error.title(&title).snippet(
            annotate_snippets::Snippet::source(&shown)
                .line_start(1)
                .origin(&origin)
                .fold(true)
                .annotation(annotate_snippets::Level::Error.span(span).label(&label)),
        );
        annotate_snippets::Renderer::plain()
            .render(message)
            .to_string()
    }
}

/// `text` with every control character but newline and tab (and the bidirectional overrides)
/// replaced by `?`, byte for byte, so that positions stay where they were.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n'
            && c != '\t'
            && crate::text::escape(c.encode_utf8(&mut [0; 4])) != c.to_string()
        {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `Resources.A.Properties.Rules[0].Port` as steps (keys split at `.`, `[n]` an index).
pub fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Step::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(close) = rest.find(']') {
                match rest[1..close].parse() {
                    Ok(i) => out.push(Step::Index(i)),
                    Err(_) => out.push(Step::Key(rest[1..close].to_string())),
                }
                rest = &rest[close + 1..];
                if !rest.starts_with('[') {
                    break;
                }
            }
        } else {
            out.push(Step::Key(rest.to_string()));
        }
    }
    out
}

/// Where the value at `path` is in `text` (or, with `key`, the key naming it); the deepest
/// step found when the path goes further than the file (a missing field points at the
/// object that lacks it).
pub fn locate(text: &str, path: &[Step], key: bool) -> Option<Location> {
    let options = jsonc_parser::ParseOptions::default();
    let parsed =
        jsonc_parser::parse_to_ast(text, &jsonc_parser::CollectOptions::default(), &options)
            .ok()?;
    let mut node = parsed.value.as_ref()?;
    let mut span = node.range();
    for step in path {
        let next = match (node, step) {
            (Node::Object(object), Step::Key(k)) => object.properties.iter().find_map(|p| {
                let (name, range) = match &p.name {
                    ObjectPropName::String(s) => (s.value.as_ref(), s.range),
                    ObjectPropName::Word(w) => (w.value, w.range),
                };
                (name == k).then_some((&p.value, range))
            }),
            (Node::Array(array), Step::Index(i)) => array.elements.get(*i).map(|v| (v, v.range())),
            _ => None,
        };
        let Some((value, key_range)) = next else {
            break;
        };
        node = value;
        span = if key { key_range } else { value.range() };
    }
    let (line, column) = line_column(text, span.start);
    Some(Location {
        line,
        column,
        span: span.start..span.end,
    })
}

/// The 1-based line and column (in characters) of byte `offset`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, before[start..].chars().count() + 1)
}

/// The byte offset of 1-based `line` and `column`.
/// The span of the one character at byte `offset` of `text` (empty at the end): never
/// inside a multi-byte character, whatever the offset.
pub fn char_at(text: &str, offset: usize) -> Range<usize> {
    let mut start = offset.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let len = text[start..].chars().next().map_or(0, char::len_utf8);
    start..start + len
}

pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[start.min(text.len())..];
    start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  // a comment\n  \"Resources\": {\n    \"A\": {\"Type\": \"X\", \"Properties\": {\"Rules\": [{\"Port\": 80},],},},\n  },\n}\n";

    #[test]
    fn paths_split_into_keys_and_indexes() {
        assert_eq!(
            steps("Resources.A.Properties.Rules[0].Port"),
            [
                Step::Key("Resources".into()),
                Step::Key("A".into()),
                Step::Key("Properties".into()),
                Step::Key("Rules".into()),
                Step::Index(0),
                Step::Key("Port".into()),
            ]
        );
    }

    #[test]
    fn fields_are_found_with_comments_and_trailing_commas() {
        let at = locate(TEXT, &steps("Resources.A.Properties.Rules[0].Port"), false).unwrap();
        assert_eq!((at.line, &TEXT[at.span.clone()]), (4, "80"));
        let at = locate(TEXT, &steps("Resources.A.Type"), true).unwrap();
        assert_eq!((at.line, at.column, &TEXT[at.span]), (4, 11, "\"Type\""));
        // Deeper than the file: the deepest part found.
        let at = locate(TEXT, &steps("Resources.A.Nope.Deeper"), false).unwrap();
        assert!(TEXT[at.span].starts_with("{\"Type\""));
    }

    #[test]
    fn the_rendering_shows_and_underlines_the_line() {
        let at = locate(TEXT, &steps("Resources.A.Type"), false).unwrap();
        let err = SpecError {
            file: "s.json".into(),
            subject: Some("resource A".into()),
            field: Some("Type".into()),
            message: "no type \"X\"".into(),
            at: Some(at),
            text: Some(Arc::new(TEXT.into())),
        };
        assert_eq!(
            err.to_string(),
            "s.json:4:19: resource A: field Type: no type \"X\""
        );
        let shown = err.render();
        assert!(shown.contains("--> s.json:4:19\n"), "{shown}");
        assert!(shown.contains("4 |     \"A\": {\"Type\": \"X\""), "{shown}");
        assert!(shown.contains("^^^ field Type"), "{shown}");
    }

    #[test]
    fn control_characters_in_the_file_keep_their_place_but_not_their_effect() {
        let text = "{\"A\": \"\u{1b}[31mred\"}";
        let shown = printable(text);
        assert_eq!(shown.len(), text.len());
        assert!(!shown.contains('\u{1b}'));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(offset_of("ab\ncd", 2, 2), 4);
    }
}
