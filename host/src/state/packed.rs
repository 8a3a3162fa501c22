//! Strings packed into one allocation (tags, a list of names, a record's ID, values and
//! lists): each a 4-byte length (little-endian) and its UTF-8 text, one after the other.
//!
//! Invariant: only [`pack`] and [`push`] write such bytes and only [`strings`] reads them, so
//! the bytes always hold whole UTF-8 strings.

/// `texts`, packed.
pub fn pack<'a>(texts: impl Iterator<Item = &'a str> + Clone) -> Box<[u8]> {
    let size = texts.clone().map(|t| 4 + t.len()).sum();
    let mut bytes = Vec::with_capacity(size);
    for text in texts {
        push(&mut bytes, text);
    }
    bytes.into_boxed_slice()
}

/// Packs `text` after what `bytes` holds.
pub fn push(bytes: &mut Vec<u8>, text: &str) {
    let len = u32::try_from(text.len()).expect("a packed string is under 4 GiB");
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
}

/// The strings [`pack`] packed into `bytes`, in order.
pub fn strings(bytes: &[u8]) -> Strings<'_> {
    Strings(bytes)
}

/// What [`strings`] gives: a view of the packed bytes (copied freely, empty by default).
#[derive(Clone, Copy, Debug, Default)]
pub struct Strings<'a>(&'a [u8]);

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let (text, rest) = rest.split_at(u32::from_le_bytes(*len) as usize);
        self.0 = rest;
        Some(std::str::from_utf8(text).expect("packed bytes hold whole UTF-8 strings"))
    }
}
