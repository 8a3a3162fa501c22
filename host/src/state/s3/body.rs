//! An object's body read as it arrives: the reader asks the state's runtime for the next
//! piece only when it has used up the one before, so a snapshot is parsed as S3 sends it
//! rather than fetched whole first (a 100,000-resource state is ~30 MB).
//!
//! Invariants: nothing is read ahead or buffered beyond the piece being read; a body cut off
//! is resumed by `object_store` from where it was while the object's ETag is unchanged (a
//! replaced object is an error, not a mix of two); an error reading is the reader's error,
//! never an end. The client's 30-second request timeout runs while the parser works: a load
//! slower than that costs a ranged GET resuming it each 30 seconds, within object_store's
//! retries (10, over at most 3 minutes); a 100,000-resource snapshot parses in about a
//! second.

use super::Remote;
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::io::{BufRead, Read};

/// The longest first line a body may have before the rest (a snapshot's header).
const LINE: u64 = 64 * 1024;

/// A body being read.
pub(super) struct Body {
    remote: Remote,
    /// What is still to come; `None` once it ended.
    stream: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    /// What is left of the piece being read.
    piece: Bytes,
    /// Why it broke off, if it did (every later read is that error again).
    broken: Option<String>,
}

impl Body {
    pub(super) fn new(
        remote: Remote,
        stream: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> Self {
        Self {
            remote,
            stream: Some(stream),
            piece: Bytes::new(),
            broken: None,
        }
    }

    /// The first line with its newline, read off the body (`None` if the body ends, or the
    /// line runs past 64 KiB, before a newline).
    pub(super) fn first_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        (&mut *self).take(LINE).read_until(b'\n', &mut line)?;
        Ok(line.ends_with(b"\n").then_some(line))
    }
}

impl BufRead for Body {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.piece.is_empty() {
            if let Some(why) = &self.broken {
                return Err(std::io::Error::other(why.clone()));
            }
            let Some(mut stream) = self.stream.take() else {
                break;
            };
            let (next, stream) = self
                .remote
                .run(async move { (stream.next().await, stream) });
            match next {
                Some(Ok(piece)) => {
                    self.piece = piece;
                    self.stream = Some(stream);
                }
                Some(Err(err)) => self.broken = Some(err.to_string()),
                None => {}
            }
        }
        Ok(&self.piece)
    }

    fn consume(&mut self, amount: usize) {
        self.piece.advance(amount);
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}
