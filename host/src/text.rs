//! Text from providers, made safe to show on a terminal.
//!
//! Invariant: every string a provider supplies (IDs, attribute and property values, error
//! messages, diagnostics, describe texts, its printed output) passes through [`escape`] before
//! it reaches a human-readable output. Control characters (C0, DEL, C1: ANSI/OSC escapes,
//! carriage return, backspace, newline) and the Unicode bidirectional overrides that reorder
//! what a reader sees are written as `\u{..}` escapes, so a provider cannot move the cursor,
//! recolour, retitle or fake a line of rkit's output. Machine-readable JSON outputs stay
//! exact (JSON escapes C0 itself; [`escape`] is applied on top where JSON is shown to people).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` with every control character (newlines included) escaped as `\u{XX}`, except the
/// common whitespace escapes `\n`, `\r`, `\t`, which are written as such.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text (as serde_json writes it) with the characters serde leaves as they are (DEL, C1
/// controls, bidirectional overrides) written as JSON `\uXXXX` escapes: still valid JSON
/// meaning the same, and safe on a terminal. (serde_json escapes C0 controls itself, and such
/// characters can only stand inside strings.)
pub fn escape_json(json: &str) -> Cow<'_, str> {
    // Pretty-printed JSON's own line breaks stay (inside strings serde escapes them).
    let unsafe_in_json = |c: char| c != '\n' && unsafe_char(c);
    if !json.chars().any(unsafe_in_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if unsafe_in_json(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] into an owned string.
pub fn escaped(text: &str) -> String {
    escape(text).into_owned()
}

/// `, did you mean "X"?` when one of `known` is a likely misspelling of `given` (as clap
/// suggests a subcommand: Jaro-Winkler similarity above 0.8), else empty.
pub fn did_you_mean<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(given, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(", did you mean {k:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(escape("vpc-123 ünïcode ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(
            escape("\u{1b}[2K\rfaked: apply complete\n\u{8}\u{7f}\u{9b}31m\u{7}"),
            "\\u{1b}[2K\\rfaked: apply complete\\n\\u{8}\\u{7f}\\u{9b}31m\\u{7}"
        );
        assert_eq!(escape("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(escape("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
    }

    #[test]
    fn json_stays_json_with_the_same_value() {
        let value = serde_json::json!({"id": "a\u{1b}[31m\u{7f}\u{9b}\u{202e}b"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = escape_json(&text);
        assert!(safe.lines().count() > 1, "line breaks kept");
        assert!(!safe.chars().any(|c| c != '\n' && unsafe_char(c)), "{safe}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }

    #[test]
    fn a_likely_misspelling_is_suggested_and_nothing_else() {
        assert_eq!(
            did_you_mean("locl", ["local", "aws"]),
            ", did you mean \"local\"?"
        );
        assert_eq!(
            did_you_mean("Netwrk", ["Network", "Subnet"]),
            ", did you mean \"Network\"?"
        );
        assert_eq!(did_you_mean("zzz", ["local", "aws"]), "");
    }
}
