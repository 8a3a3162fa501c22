//! Strings packed into one allocation (tags, a list of names, a record's ID, values and
//! lists): each its length (LEB128: seven bits a byte, the low ones first, the high bit set
//! on every byte but the last; one byte up to 127) and its UTF-8 text, one after the other.
//!
//! Invariant: only [`pack`] and [`push`] write such bytes (and [`push_len`] a count before
//! them) and only [`strings`] (and [`read_len`]) read them, so the bytes always hold whole
//! UTF-8 strings.

/// `texts`, packed.
pub fn pack<'a>(texts: impl Iterator<Item = &'a str> + Clone) -> Box<[u8]> {
    let size = texts.clone().map(|t| len_size(t.len()) + t.len()).sum();
    let mut bytes = Vec::with_capacity(size);
    for text in texts {
        push(&mut bytes, text);
    }
    bytes.into_boxed_slice()
}

/// Packs `text` after what `bytes` holds.
pub fn push(bytes: &mut Vec<u8>, text: &str) {
    push_len(bytes, text.len());
    bytes.extend_from_slice(text.as_bytes());
}

/// How many bytes `len` takes written by [`push_len`].
pub fn len_size(len: usize) -> usize {
    (usize::BITS - (len | 1).leading_zeros()).div_ceil(7) as usize
}

/// Writes `len` after what `bytes` holds (LEB128).
pub fn push_len(bytes: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        bytes.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
}

/// The length [`push_len`] wrote at the start of `bytes`, and what follows it.
pub fn read_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut len = 0usize;
    let most = usize::BITS.div_ceil(7) as usize;
    for (at, byte) in bytes.iter().enumerate().take(most) {
        len |= usize::from(byte & 0x7f) << (7 * at);
        if byte & 0x80 == 0 {
            return Some((len, &bytes[at + 1..]));
        }
    }
    None
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
        let (len, rest) = read_len(self.0)?;
        let (text, rest) = rest.split_at(len);
        self.0 = rest;
        Some(std::str::from_utf8(text).expect("packed bytes hold whole UTF-8 strings"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_a_byte_per_seven_bits_and_read_back() {
        for (len, size) in [(0, 1), (1, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3)] {
            let mut bytes = Vec::new();
            push_len(&mut bytes, len);
            assert_eq!((bytes.len(), len_size(len)), (size, size), "{len}");
            bytes.push(9);
            assert_eq!(read_len(&bytes), Some((len, &[9u8][..])), "{len}");
        }
        for len in [usize::MAX, u32::MAX as usize + 1] {
            let mut bytes = Vec::new();
            push_len(&mut bytes, len);
            assert_eq!(bytes.len(), len_size(len));
            assert_eq!(read_len(&bytes), Some((len, &[][..])));
        }
        assert_eq!(read_len(&[0x80]), None, "cut off");
    }

    #[test]
    fn strings_of_any_length_read_back_in_order() {
        let long = "x".repeat(300);
        let texts = ["", "a", long.as_str(), "é"];
        let packed = pack(texts.iter().copied());
        assert_eq!(packed.len(), 1 + 2 + 2 + 300 + 1 + 2);
        assert_eq!(strings(&packed).collect::<Vec<_>>(), texts);
    }
}
