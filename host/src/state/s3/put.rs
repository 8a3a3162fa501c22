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

use super::Remote;
use crate::state::backend::Write;
use crate::state::reconcile::{There, Tried};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, ETAG, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderName, Method, StatusCode};
use object_store::PutMode;
use object_store::path::Path as StorePath;
use object_store::signer::{SignedUrlOptions, Signer};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::io::{BufRead, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How much of the body is handed to the connection at once.
const PIECE: usize = 64 * 1024;
/// How many pieces wait for the connection at most.
const QUEUED: usize = 4;
/// How long a presigned request is valid (it is sent at once).
const VALID: Duration = Duration::from_secs(15 * 60);
/// The least time a PUT is given, plus a second per MiB (a slow link is not a failure).
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error's answer is read, and how much of it quoted.
const READ: usize = 4096;
const QUOTED: usize = 300;

/// One try sent whole: the SHA-256 of the object it sent, and the digest its writer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) sha: [u8; 32],
    pub(super) digest: String,
}

/// The tries of one write: what each sent whole, and the SHA-256 of the object last seen
/// landed (a try's answer, or the object read back).
#[derive(Default)]
pub(super) struct Tries {
    sent: RefCell<Vec<Sent>>,
    seen: RefCell<Option<Vec<u8>>>,
}

impl Tries {
    /// How many tries were sent whole.
    pub(super) fn count(&self) -> usize {
        self.sent.borrow().len()
    }

    /// A try answered `tried`, having sent `made` (if it was made whole).
    pub(super) fn tried(&self, tried: &Tried, made: Option<Sent>) {
        if let Some(made) = made {
            if let Tried::Landed(_) = tried {
                *self.seen.borrow_mut() = Some(made.sha.to_vec());
            }
            self.sent.borrow_mut().push(made);
        }
    }

    /// The object read back, as [`read_back`] gives it: given on.
    pub(super) fn read(&self, there: There) -> Result<There> {
        *self.seen.borrow_mut() = there.as_ref().map(|(sha, _)| sha.clone());
        Ok(there)
    }

    /// Whether an object of SHA-256 `sha` is one of these tries.
    pub(super) fn ours(&self, sha: &[u8]) -> bool {
        self.sent.borrow().iter().any(|s| s.sha[..] == *sha)
    }

    /// The digest of the try that landed, once the write was decided landed (by a try's
    /// answer, or by what was read back being one of them).
    pub(super) fn landed(self) -> String {
        let seen = self.seen.into_inner();
        let seen = seen.expect("a write decided landed was answered or read back");
        (self.sent.into_inner().into_iter())
            .find(|s| s.sha[..] == seen[..])
            .map(|s| s.digest)
            .expect("a write decided landed is one of its tries")
    }
}

/// The client the state's PUTs are sent with (built once, with the roots object_store's has).
pub(super) fn client() -> Result<reqwest::Client> {
    crate::tls::install();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // A redirect is an answer (a body being sent cannot be sent again to another place).
        .redirect(reqwest::redirect::Policy::none());
    for root in crate::tls::fallback_roots() {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(root)?);
    }
    builder
        .build()
        .map_err(|e| anyhow!("building the state's HTTP client: {:#}", anyhow!(e)))
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
    let (answered, told) = watch::channel(false);
    let pipe = Pipe::new(tx, len, remote.handle.clone(), told);
    let (answer, made) = std::thread::scope(|scope| {
        let maker = scope.spawn(move || make(pipe, head, write));
        let answer = remote.run(request);
        // Once answered, nothing more is sent: a writer waiting on a connection the server
        // answered early (and then stopped reading) is let go.
        answered.send_replace(true);
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
        .body(reqwest::Body::wrap(Piped::new(rx, len)))
        .send()
        .await
        // The URL is presigned: its query holds the signature, the key's ID and, with
        // temporary credentials, the session token. Never in an error.
        .map_err(|e| format!("{:#}", anyhow!(e.without_url())))?;
    let status = answer.status();
    if status.is_success() {
        let etag = answer.headers().get(ETAG).and_then(|v| v.to_str().ok());
        return Ok(Some(etag.unwrap_or_default().to_string()));
    }
    if status == StatusCode::PRECONDITION_FAILED || status == StatusCode::CONFLICT {
        return Ok(None);
    }
    Err(format!(
        "the state store answered {status}: {}",
        said(&read_some(answer).await)
    ))
}

/// The first [`READ`] bytes of an answer's body, as text.
async fn read_some(mut answer: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < READ {
        match answer.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(READ);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What an S3 error's body says: its `Code` and `Message`, else its first characters (at
/// most [`QUOTED`] of either).
fn said(body: &str) -> String {
    let field = |name: &str| {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        let start = body.find(&open)? + open.len();
        let end = start + body[start..].find(&close)?;
        Some(body[start..end].chars().take(QUOTED).collect::<String>())
    };
    match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.chars().take(QUOTED).collect(),
    }
}

/// Writes `head` and then `write`'s snapshot into `pipe`: what was sent. A failure is also
/// handed down the pipe (the request then fails rather than ending short).
fn make(mut pipe: Pipe, head: &[u8], write: Write<'_>) -> std::io::Result<Sent> {
    let made = std::io::Write::write_all(&mut pipe, head)
        .and_then(|()| write(&mut pipe))
        .and_then(|digest| pipe.finish().map(|sha| Sent { sha, digest }));
    if let Err(err) = &made
        && err.kind() != ErrorKind::BrokenPipe
    {
        let _ = pipe.send(Err(std::io::Error::other(err.to_string())));
    }
    made
}

/// What the writer writes into: pieces handed to the connection, the last held back until
/// [`Pipe::finish`].
struct Pipe {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    /// The state's runtime, which waits for room in `tx` (the writer's thread is not one).
    handle: tokio::runtime::Handle,
    /// True once the request was answered (or failed): nothing more is sent.
    answered: watch::Receiver<bool>,
    held: Vec<u8>,
    sha: Sha256,
    written: u64,
    len: u64,
}

impl Pipe {
    fn new(
        tx: mpsc::Sender<std::io::Result<Bytes>>,
        len: u64,
        handle: tokio::runtime::Handle,
        answered: watch::Receiver<bool>,
    ) -> Self {
        Self {
            tx,
            handle,
            answered,
            held: Vec::with_capacity(PIECE),
            sha: Sha256::new(),
            written: 0,
            len,
        }
    }

    /// Hands `item` to the connection once it has room (`BrokenPipe` once the request
    /// ended or was answered).
    fn send(&self, item: std::io::Result<Bytes>) -> std::io::Result<()> {
        let (tx, mut answered) = (&self.tx, self.answered.clone());
        let sent = self.handle.block_on(async {
            tokio::select! {
                sent = tx.send(item) => sent.is_ok(),
                _ = answered.wait_for(|answered| *answered) => false,
            }
        });
        match sent {
            true => Ok(()),
            false => Err(std::io::Error::from(ErrorKind::BrokenPipe)),
        }
    }

    /// Hands the piece held to the connection.
    fn hand_over(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.held, Vec::with_capacity(PIECE));
        self.send(Ok(Bytes::from(piece)))
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

/// The request's body: the pieces as the writer hands them over, `len` bytes in all; one
/// that ends before them is an error (whatever the protocol checks).
struct Piped {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    len: u64,
    given: u64,
}

impl Piped {
    fn new(rx: mpsc::Receiver<std::io::Result<Bytes>>, len: u64) -> Self {
        Self { rx, len, given: 0 }
    }
}

impl http_body::Body for Piped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        let piece = std::task::ready!(self.rx.poll_recv(cx));
        Poll::Ready(match piece {
            Some(Ok(bytes)) => {
                self.given += bytes.len() as u64;
                Some(Ok(http_body::Frame::data(bytes)))
            }
            Some(Err(err)) => Some(Err(err)),
            None if self.given < self.len => Some(Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("the snapshot ended at {} of {} bytes", self.given, self.len),
            ))),
            None => None,
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    /// A runtime for the pipe to wait on, and the sender saying the request was answered.
    struct Waiting {
        runtime: tokio::runtime::Runtime,
        answered: watch::Sender<bool>,
    }

    impl Waiting {
        fn new() -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            Self {
                runtime,
                answered: watch::channel(false).0,
            }
        }

        /// A pipe of `len` bytes into a channel of `room` pieces, and what comes out of it.
        fn pipe(&self, len: u64, room: usize) -> (Pipe, mpsc::Receiver<std::io::Result<Bytes>>) {
            let (tx, rx) = mpsc::channel(room);
            let told = self.answered.subscribe();
            (Pipe::new(tx, len, self.runtime.handle().clone(), told), rx)
        }
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
        let waiting = Waiting::new();
        let body: Vec<u8> = (0..PIECE * 2 + 10).map(|i| i as u8).collect();
        let (mut p, mut rx) = waiting.pipe(body.len() as u64, 64);
        p.write_all(&body).unwrap();
        // Two whole pieces are out, the last ten bytes held.
        assert_eq!(drained(&mut rx).len(), PIECE * 2);
        let sha = p.finish().unwrap();
        assert_eq!(drained(&mut rx), body[PIECE * 2..]);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&body)));
    }

    #[test]
    fn a_body_not_at_its_count_never_reaches_it() {
        let waiting = Waiting::new();
        let (mut p, mut rx) = waiting.pipe(PIECE as u64 + 5, 64);
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

        let (mut p, mut rx) = waiting.pipe(10, 64);
        assert_eq!(
            p.write_all(&[1; 11]).unwrap_err().to_string(),
            "the snapshot came out longer than the 10 bytes it was counted at"
        );
        assert!(drained(&mut rx).is_empty());
    }

    #[test]
    fn a_failed_writer_ends_the_body_with_its_error() {
        let waiting = Waiting::new();
        let (p, mut rx) = waiting.pipe(1_000, 64);
        let mut fail = |out: &mut dyn std::io::Write| -> std::io::Result<String> {
            out.write_all(&[7; 100])?;
            Err(std::io::Error::other("sealing failed"))
        };
        let made = make(p, b"head\n", &mut fail);
        assert_eq!(made.unwrap_err().to_string(), "sealing failed");
        let end = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(end.to_string(), "sealing failed");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_request_that_ended_or_was_answered_lets_the_writer_go() {
        let waiting = Waiting::new();
        let mut big = |out: &mut dyn std::io::Write| -> std::io::Result<String> {
            out.write_all(&vec![0; PIECE * 8])?;
            Ok("d".into())
        };
        let len = (PIECE * 8) as u64;
        let (p, rx) = waiting.pipe(len, 1);
        drop(rx);
        assert_eq!(
            make(p, b"", &mut big).unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        // A connection that stopped reading: the writer waits until the answer came.
        let (p, _rx) = waiting.pipe(len, 1);
        let answered = waiting.answered.clone();
        let telling = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            answered.send_replace(true);
        });
        assert_eq!(
            make(p, b"", &mut big).unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        telling.join().unwrap();
    }

    #[tokio::test]
    async fn a_body_ended_short_is_an_error_whatever_the_protocol() {
        use http_body_util::BodyExt;
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        drop(tx);
        let err = Piped::new(rx, 10).collect().await.unwrap_err();
        assert_eq!(err.to_string(), "the snapshot ended at 3 of 10 bytes");
    }

    #[test]
    fn conditions_are_sent_back_as_given_or_refused() {
        use object_store::UpdateVersion;
        let update = |etag: &str| {
            PutMode::Update(UpdateVersion {
                e_tag: Some(etag.into()),
                version: None,
            })
        };
        assert_eq!(condition(&PutMode::Create).unwrap().0, IF_NONE_MATCH);
        let (name, value) = condition(&update("\"e1\"")).unwrap();
        assert_eq!((name, value.to_str().unwrap()), (IF_MATCH, "\"e1\""));
        assert_eq!(
            condition(&update("e\n1")).unwrap_err().to_string(),
            "the state store gave an ETag that cannot be sent back: e\\n1"
        );
        assert_eq!(
            condition(&PutMode::Overwrite).unwrap_err().to_string(),
            "a snapshot is only ever written conditionally"
        );
    }

    #[test]
    fn an_error_answer_is_quoted_by_its_code_and_message() {
        let body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>\
                    <AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId></Error>";
        assert_eq!(said(body), "AccessDenied: Access Denied");
        assert_eq!(said("<Code>SlowDown</Code>"), "SlowDown");
        assert_eq!(said(&"x".repeat(1000)), "x".repeat(QUOTED));
    }

    /// A server on loopback answering one request with `answer`: its address, and the
    /// request it read (head and body).
    fn one_answer(answer: &'static str) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let served = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 65536];
            // The head, then as much body as its Content-Length says.
            loop {
                let n = conn.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if request.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            conn.write_all(answer.as_bytes()).unwrap();
            request
        });
        (address, served)
    }

    /// Sends `body` to the server at `address` as [`put`]'s request would.
    async fn sent(address: &str, body: &'static [u8]) -> Result<Option<String>, String> {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(body))).await.unwrap();
        drop(tx);
        let url = format!("http://{address}/bucket/key?X-Amz-Signature=SECRETSIG");
        let condition = (IF_NONE_MATCH, HeaderValue::from_static("*"));
        send(
            client().unwrap(),
            url.parse().unwrap(),
            condition,
            body.len() as u64,
            rx,
        )
        .await
    }

    #[tokio::test]
    async fn a_put_sends_its_condition_and_body_and_reads_the_answer() {
        let (address, served) =
            one_answer("HTTP/1.1 200 OK\r\nETag: \"e7\"\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            sent(&address, b"head\nbody").await,
            Ok(Some("\"e7\"".into()))
        );
        let request = String::from_utf8(served.join().unwrap()).unwrap();
        assert!(request.starts_with("PUT /bucket/key?X-Amz-Signature=SECRETSIG HTTP/1.1\r\n"));
        assert!(request.contains("if-none-match: *\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\nhead\nbody"), "{request}");

        let (address, _) =
            one_answer("HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(sent(&address, b"x").await, Ok(None));
    }

    #[tokio::test]
    async fn an_error_or_a_redirect_is_an_answer_not_followed() {
        let (address, _) = one_answer(
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 62\r\n\r\n\
             <Error><Code>AccessDenied</Code><Message>no</Message></Error>",
        );
        assert_eq!(
            sent(&address, b"x").await,
            Err("the state store answered 403 Forbidden: AccessDenied: no".into())
        );
        let (address, _) = one_answer(
            "HTTP/1.1 303 See Other\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
             Content-Length: 0\r\n\r\n",
        );
        assert_eq!(
            sent(&address, b"x").await,
            Err("the state store answered 303 See Other: ".into())
        );
    }

    #[tokio::test]
    async fn a_failed_request_never_tells_its_presigned_url() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap().to_string();
        drop(closed);
        let err = sent(&address, b"x").await.unwrap_err();
        assert!(!err.contains("SECRET") && !err.contains(&address), "{err}");
        assert!(err.starts_with("error sending request: "), "{err}");
    }

    /// Two tries, the first unanswered and not yet seen, the second refused by its
    /// condition because the first had landed meanwhile: the write landed, and its digest
    /// is the first try's.
    #[test]
    fn the_digest_given_is_the_landed_tries() {
        let tries = Tries::default();
        let sent = |n: u8| Sent {
            sha: [n; 32],
            digest: format!("digest {n}"),
        };
        let mut n = 0;
        let mut try_once = || {
            n += 1;
            let tried = match n {
                1 => Tried::Unanswered("reset".into()),
                _ => Tried::ConditionFailed,
            };
            tries.tried(&tried, Some(sent(n)));
            Ok(tried)
        };
        let reads = std::cell::Cell::new(0);
        let read_back = || {
            reads.set(reads.get() + 1);
            match reads.get() {
                1 => Err(anyhow!("read timed out")),
                _ => tries.read(Some((vec![1; 32], Some("e2".into())))),
            }
        };
        let ours = |sha: &[u8]| tries.ours(sha);
        let written = crate::state::reconcile::write(
            Some("e1"),
            &mut try_once,
            &read_back,
            &ours,
            "the snapshot",
        )
        .unwrap();
        assert_eq!(
            written,
            crate::state::reconcile::Written::Landed("e2".into())
        );
        assert_eq!(tries.count(), 2);
        assert_eq!(tries.landed(), "digest 1");
    }
}
