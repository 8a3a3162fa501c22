//! JSON with comments (`//`, `/* */`) and trailing commas, as specs may be written. Both are
//! blanked out (newlines kept) so that serde_json reports any other syntax error at the exact
//! line and column of the original text. Brackets still open at the end of the file are
//! closed (the seed's own example ends that way); the caller says so as a warning.

/// Spec text made strict JSON.
pub struct Relaxed {
    pub text: String,
    /// The brackets appended to close what the file left open (empty: none).
    pub closed_at_end: String,
}

/// `text` with comments and trailing commas replaced by spaces, and open brackets closed; a
/// byte-order mark at its start left out (it is not part of the JSON: editors on Windows
/// write one), so every reader of a spec or a var file accepts the same files.
pub fn relax(text: &str) -> Relaxed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut open = Vec::new();
    let mut i = 0;
    // Position of the last comma seen outside strings, not yet followed by a value.
    let mut pending_comma: Option<usize> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                pending_comma = None;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                for b in &mut out[i..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = end;
            }
            b',' => {
                // Two commas in a row are an error to report, not a trailing comma.
                pending_comma = match pending_comma {
                    Some(_) => None,
                    None => Some(i),
                };
                i += 1;
            }
            b'{' | b'[' => {
                pending_comma = None;
                open.push(if bytes[i] == b'{' { b'}' } else { b']' });
                i += 1;
            }
            b'}' | b']' => {
                if let Some(comma) = pending_comma.take() {
                    out[comma] = b' ';
                }
                open.pop();
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                pending_comma = None;
                i += 1;
            }
        }
    }
    if let Some(comma) = pending_comma.filter(|_| !open.is_empty()) {
        out[comma] = b' ';
    }
    let closed_at_end: String = open.iter().rev().map(|&b| b as char).collect();
    out.extend_from_slice(closed_at_end.as_bytes());
    Relaxed {
        // Only ASCII bytes were replaced or added: still UTF-8.
        text: String::from_utf8(out).expect("blanking ASCII keeps UTF-8"),
        closed_at_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(text: &str) -> Value {
        serde_json::from_str(&relax(text).text).unwrap()
    }

    #[test]
    fn a_byte_order_mark_is_left_out() {
        assert_eq!(relax("\u{feff}{\"a\": 1}").text, "{\"a\": 1}");
    }

    #[test]
    fn trailing_commas_and_comments_are_accepted() {
        let text = r#"{
            // a comment, with a comma,
            "a": [1, 2, /* inline */ 3,],
            "b": {"c": "x, // not a comment", },
        }"#;
        assert_eq!(
            parse(text),
            json!({"a": [1, 2, 3], "b": {"c": "x, // not a comment"}})
        );
    }

    #[test]
    fn brackets_left_open_at_the_end_are_closed() {
        let relaxed = relax(r#"{"a": [1, {"b": 2},"#);
        assert_eq!(relaxed.closed_at_end, "]}");
        assert_eq!(
            serde_json::from_str::<Value>(&relaxed.text).unwrap(),
            json!({"a": [1, {"b": 2}]})
        );
        assert_eq!(relax("{}").closed_at_end, "");
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        assert_eq!(
            parse(r#"{"a": "say \"hi\", ok",}"#),
            json!({"a": "say \"hi\", ok"})
        );
    }

    #[test]
    fn other_errors_keep_their_line_and_column() {
        let text = "{\n  // comment\n  \"a\": 1,,\n}";
        let err = serde_json::from_str::<Value>(&relax(text).text).unwrap_err();
        assert_eq!((err.line(), err.column()), (3, 10), "{err}");
    }
}
