//! A snapshot sent as it is made. object_store's conditional PUT sends a body held whole (its
//! multipart upload takes no condition), which at 100,000 resources is a 30 MB body beside
//! the state it was made from; this PUT takes its body from the snapshot's writer as the
//! connection sends it. The request is presigned by object_store (SigV4 with the same
//! credentials, region and endpoint as every other request; the condition, `If-Match` or
//! `If-None-Match`, bound to the signature; the payload unsigned) and sent by a reqwest client
//! of the state's own.
//!
//! Invariants:
//! - The body is exactly the `len` bytes announced (`Content-Length`, counted beforehand).
//!   Its last piece is handed over only once the writer finished and the count matched: a
//!   body that comes out longer, shorter or whose making fails never reaches its length, so
//!   the request fails and S3 (which stores a PUT only whole) stores nothing.
//! - Each try makes its body again (nothing is held for a retry) and is known by the SHA-256
//!   of every byte it sent, so a try whose answer was lost is recognised when the object is
//!   read back (and hashed as it arrives, not held).
//! - At most [`QUEUED`] pieces of [`PIECE`] bytes wait for the connection: the writer waits
//!   for the network, never the other way round.

use super::{Remote, There};
use crate::state::backend::Write;
use crate::state::reconcile::Tried;
use anyhow::{Result, anyhow};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, ETAG, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderName, Method, StatusCode};
use object_store::PutMode;
use object_store::path::Path as StorePath;
use object_store::signer::{SignedUrlOptions, Signer};
use sha2::{Digest, Sha256};
use std::io::{BufRead, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// How much of the body is handed to the connection at once.
const PIECE: usize = 64 * 1024;
/// How many pieces wait for the connection at most.
const QUEUED: usize = 4;
/// How long a presigned request is valid (it is sent at once).
const VALID: Duration = Duration::from_secs(15 * 60);
/// The least time a PUT is given, plus a second per MiB (a slow link is not a failure).
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error's answer is quoted.
const QUOTED: usize = 300;

/// One try sent whole: the SHA-256 of the object it sent, and the digest its writer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) sha: [u8; 32],
    pub(super) digest: String,
}

/// The client the state's PUTs are sent with (built once, with the roots object_store's has).
pub(super) fn client() -> Result<reqwest::Client> {
    crate::tls::install();
    let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    for root in crate::tls::fallback_roots() {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(root)?);
    }
    builder
        .build()
        .map_err(|e| anyhow!("building the state's HTTP client: {}", causes(&e)))
}

/// Sends `head` and then what `write` writes, `len` bytes in all, to `path` as a PUT
/// conditional on `mode`: how it was answered, and what it sent if it was made whole. An
/// error is the writer's own (not the network's): it would fail again.
pub(super) fn put(
    remote: &Remote,
    client: &reqwest::Client,
    path: &StorePath,
    mode: PutMode,
    (head, len): (&[u8], u64),
    write: Write<'_>,
) -> Result<(Tried, Option<Sent>)> {
    let condition = condition(&mode)?;
    let url = match remote.run(presign(
        remote.store.clone(),
        path.clone(),
        condition.clone(),
    )) {
        Ok(url) => url,
        Err(err) => return Ok((Tried::Unanswered(err), None)),
    };
    let (tx, rx) = mpsc::channel(QUEUED);
    let request = send(client.clone(), url, condition, len, rx);
    let (answer, made) = std::thread::scope(|scope| {
        let maker = scope.spawn(move || make(tx, head, len, write));
        let answer = remote.run(request);
        let made = maker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (answer, made)
    });
    match (answer, made) {
        (Ok(Some(etag)), Ok(sent)) => Ok((Tried::Landed(etag), Some(sent))),
        (Ok(None), made) => Ok((Tried::ConditionFailed, made.ok())),
        (_, Err(err)) if err.kind() != ErrorKind::BrokenPipe => {
            Err(anyhow!("writing the snapshot: {err}"))
        }
        (Err(err), made) => Ok((Tried::Unanswered(err), made.ok())),
        (Ok(Some(_)), Err(err)) => Err(anyhow!(
            "the state store took a snapshot whose writing failed ({err}): this is a bug"
        )),
    }
}

/// The object at `path` hashed as it arrives (SHA-256 of every byte) and its ETag; `None`
/// if there is none.
pub(super) fn read_back(remote: &Remote, path: &StorePath) -> Result<There> {
    let Some((mut body, _, etag)) = remote.get_streamed(path)? else {
        return Ok(None);
    };
    let mut sha = Sha256::new();
    loop {
        let piece = body.fill_buf()?;
        if piece.is_empty() {
            break;
        }
        sha.update(piece);
        let n = piece.len();
        body.consume(n);
    }
    Ok(Some((sha.finalize().to_vec(), etag)))
}

/// The header a PUT under `mode` is conditional on.
fn condition(mode: &PutMode) -> Result<(HeaderName, HeaderValue)> {
    match mode {
        PutMode::Create => Ok((IF_NONE_MATCH, HeaderValue::from_static("*"))),
        PutMode::Update(version) => {
            let etag = version.e_tag.as_deref().unwrap_or_default();
            let value = HeaderValue::from_str(etag).map_err(|_| {
                anyhow!(
                    "the state store gave an ETag that cannot be sent back: {}",
                    crate::text::escape(etag)
                )
            })?;
            Ok((IF_MATCH, value))
        }
        PutMode::Overwrite => Err(anyhow!("a snapshot is only ever written conditionally")),
    }
}

/// A URL authorising a PUT of `path` with `condition` (bound to its signature).
async fn presign(
    store: std::sync::Arc<object_store::aws::AmazonS3>,
    path: StorePath,
    (name, value): (HeaderName, HeaderValue),
) -> Result<reqwest::Url, String> {
    let options = SignedUrlOptions::new().with_signed_header(name, value);
    store
        .signed_url_opts(Method::PUT, &path, VALID, &options)
        .await
        .map_err(|e| format!("signing the snapshot's PUT: {e}"))
}

/// Sends the PUT, its body taken from `rx`: `Some(etag)` once stored, `None` if the
/// condition was refused (412; 409, a conditional write racing another).
async fn send(
    client: reqwest::Client,
    url: reqwest::Url,
    (name, value): (HeaderName, HeaderValue),
    len: u64,
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
) -> Result<Option<String>, String> {
    let timeout = TIMEOUT + Duration::from_secs(len >> 20);
    let answer = client
        .put(url)
        .header(name, value)
        .header(CONTENT_LENGTH, len)
        .timeout(timeout)
        .body(reqwest::Body::wrap(Piped { rx, len }))
        .send()
        .await
        .map_err(|e| causes(&e))?;
    let status = answer.status();
    if status.is_success() {
        let etag = answer.headers().get(ETAG).and_then(|v| v.to_str().ok());
        return Ok(Some(etag.unwrap_or_default().to_string()));
    }
    if status == StatusCode::PRECONDITION_FAILED || status == StatusCode::CONFLICT {
        return Ok(None);
    }
    let text = answer.text().await.unwrap_or_default();
    let quoted: String = text.chars().take(QUOTED).collect();
    Err(format!("the state store answered {status}: {quoted}"))
}

/// An error and its causes, as one line.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes `head` and then `write`'s snapshot into `tx`, `len` bytes in all: what was sent.
/// A failure is also handed down `tx` (the request then fails rather than ending short).
fn make(
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    head: &[u8],
    len: u64,
    write: Write<'_>,
) -> std::io::Result<Sent> {
    let mut pipe = Pipe::new(tx, len);
    let made = std::io::Write::write_all(&mut pipe, head)
        .and_then(|()| write(&mut pipe))
        .and_then(|digest| pipe.finish().map(|sha| Sent { sha, digest }));
    if let Err(err) = &made
        && err.kind() != ErrorKind::BrokenPipe
    {
        let _ = pipe
            .tx
            .blocking_send(Err(std::io::Error::other(err.to_string())));
    }
    made
}

/// What the writer writes into: pieces handed to the connection, the last held back until
/// [`Pipe::finish`].
struct Pipe {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    held: Vec<u8>,
    sha: Sha256,
    written: u64,
    len: u64,
}

impl Pipe {
    fn new(tx: mpsc::Sender<std::io::Result<Bytes>>, len: u64) -> Self {
        Self {
            tx,
            held: Vec::with_capacity(PIECE),
            sha: Sha256::new(),
            written: 0,
            len,
        }
    }

    /// Hands the piece held to the connection (`BrokenPipe` once the request ended).
    fn hand_over(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.held, Vec::with_capacity(PIECE));
        self.tx
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| std::io::Error::from(ErrorKind::BrokenPipe))
    }

    /// Hands over the last piece if the body came out at its length: the SHA-256 of it all.
    fn finish(&mut self) -> std::io::Result<[u8; 32]> {
        if self.written != self.len {
            return Err(std::io::Error::other(format!(
                "the snapshot came out at {} bytes, counted at {}",
                self.written, self.len
            )));
        }
        self.hand_over()?;
        Ok(self.sha.clone().finalize().into())
    }
}

impl std::io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len() as u64;
        if self.written > self.len {
            return Err(std::io::Error::other(format!(
                "the snapshot came out longer than the {} bytes it was counted at",
                self.len
            )));
        }
        self.sha.update(buf);
        let mut rest = buf;
        while !rest.is_empty() {
            if self.held.len() == PIECE {
                self.hand_over()?;
            }
            let take = (PIECE - self.held.len()).min(rest.len());
            self.held.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The request's body: the pieces as the writer hands them over, `len` bytes in all.
struct Piped {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    len: u64,
}

impl http_body::Body for Piped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|piece| piece.map(|piece| piece.map(http_body::Frame::data)))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A pipe of `len` bytes and what comes out of it.
    fn pipe(len: u64) -> (Pipe, mpsc::Receiver<std::io::Result<Bytes>>) {
        let (tx, rx) = mpsc::channel(64);
        (Pipe::new(tx, len), rx)
    }

    fn drained(rx: &mut mpsc::Receiver<std::io::Result<Bytes>>) -> Vec<u8> {
        let mut out = Vec::new();
        while let Ok(piece) = rx.try_recv() {
            out.extend_from_slice(&piece.unwrap());
        }
        out
    }

    #[test]
    fn the_last_piece_waits_for_the_end_and_the_count() {
        let body: Vec<u8> = (0..PIECE * 2 + 10).map(|i| i as u8).collect();
        let (mut p, mut rx) = pipe(body.len() as u64);
        p.write_all(&body).unwrap();
        // Two whole pieces are out, the last ten bytes held.
        assert_eq!(drained(&mut rx).len(), PIECE * 2);
        let sha = p.finish().unwrap();
        assert_eq!(drained(&mut rx), body[PIECE * 2..]);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&body)));
    }

    #[test]
    fn a_body_not_at_its_count_never_reaches_it() {
        let (mut p, mut rx) = pipe(PIECE as u64 + 5);
        p.write_all(&vec![1; PIECE + 4]).unwrap();
        assert_eq!(
            p.finish().unwrap_err().to_string(),
            format!(
                "the snapshot came out at {} bytes, counted at {}",
                PIECE + 4,
                PIECE + 5
            )
        );
        assert_eq!(drained(&mut rx).len(), PIECE);

        let (mut p, mut rx) = pipe(10);
        assert_eq!(
            p.write_all(&[1; 11]).unwrap_err().to_string(),
            "the snapshot came out longer than the 10 bytes it was counted at"
        );
        assert!(drained(&mut rx).is_empty());
    }

    #[test]
    fn a_failed_writer_ends_the_body_with_its_error() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut fail = |out: &mut dyn std::io::Write| -> std::io::Result<String> {
            out.write_all(&[7; 100])?;
            Err(std::io::Error::other("sealing failed"))
        };
        let made = make(tx, b"head\n", 1_000, &mut fail);
        assert_eq!(made.unwrap_err().to_string(), "sealing failed");
        let end = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(end.to_string(), "sealing failed");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_request_that_ended_stops_the_writer() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut big = |out: &mut dyn std::io::Write| -> std::io::Result<String> {
            out.write_all(&vec![0; PIECE * 8])?;
            Ok("d".into())
        };
        let made = make(tx, b"", (PIECE * 8) as u64, &mut big);
        assert_eq!(made.unwrap_err().kind(), ErrorKind::BrokenPipe);
    }
}
