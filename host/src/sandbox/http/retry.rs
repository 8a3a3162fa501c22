//! Sending a signed API request, again where that is harmless. rkit owns retries; this is the
//! part of them that must happen per request, below the provider: a provider's call is many
//! requests, and under heavy faults a call would almost never pass whole if each of its reads
//! had to. What is sent again (re-signed, after a jittered pause, at most [`ATTEMPTS`] times,
//! all within the call's own time limit):
//! - any request AWS refused for throttling (`RequestLimitExceeded`, `Throttling`, …: it was
//!   not carried out) or whose connection could not be opened (it never left);
//! - a read-only operation (`Describe*`, `List*`, `Get*`, `Head*`), or a request the provider marked as
//!   safe to repeat with the header [`REPEATABLE_HEADER`] (setting a value, tagging,
//!   deleting), that failed in any way that may pass: no answer, a 5xx. The gate removes the
//!   header before signing. A provider marking a write it should not only repeats its own,
//!   approved action, as it could by sending it twice itself: no capability is gained.
//!
//! Every attempt waits at most 10 s for its connection and 60 s for its answer to begin.
//!
//! Nothing else: a write that got no answer or a 5xx goes back to the provider as it came,
//! and from there to the engine as `outcome-unknown`, which finds out what happened before
//! anything is sent again.
//!
//! Every send of a write, first ones included, is taken from the operation's
//! [`super::send_budget`]: however this loop, a provider's own loop and the engine's attempts
//! combine, one write leaves at most [`super::send_budget::MAX_SENDS`] times per operation.

use super::egress;
use super::send_budget::{self, SendBudget};
use super::signing::{AwsSigner, Signable};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The header by which a provider marks a request safe to send again.
pub const REPEATABLE_HEADER: &str = "x-rkit-repeatable";

/// Attempts per request, at most.
pub const ATTEMPTS: u32 = 6;
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// Unless the provider asks for less: how long a connection may take to open, and an answer
/// to start (AWS's Query and JSON APIs answer in well under a second; a request whose answer
/// never comes must not hold a call until its overall time limit).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest error answer read to find its code.
const MAX_ERROR_BODY: usize = 1 << 20;

/// AWS's codes for "throttled: not carried out".
const THROTTLED: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
];

type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Why no answer is handed back.
pub enum Failed {
    Http(Error),
    /// Refused before it left: it could not be signed, or its write's budget is spent.
    Refused(String),
}

/// Where a signed request goes, and what it is counted against.
pub struct Destination<'a> {
    pub addrs: &'a [SocketAddr],
    pub options: Option<RequestOptions>,
    /// Every request sent by the provider.
    pub sent: &'a AtomicU64,
    /// The sends of the operation under way.
    pub budget: &'a SendBudget,
}

/// Whether operation `name` only reads.
pub fn read_only(name: &str) -> bool {
    ["Describe", "List", "Get", "Head"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The error code of an AWS error answer (XML `<Code>` or JSON `__type`), if it names one.
pub fn error_code(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let code = match text.find("<Code>") {
        Some(at) => text[at + 6..].split('<').next()?,
        None => {
            let at = text.find("\"__type\"")?;
            let rest = text[at + 8..].trim_start_matches([' ', ':', '"']);
            rest.split('"').next()?.rsplit('#').next()?
        }
    };
    Some(
        crate::text::escaped(code.trim())
            .chars()
            .take(100)
            .collect(),
    )
}

/// Whether an error answer's body names a throttling code (XML `<Code>` or JSON `__type`).
pub fn throttled(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    THROTTLED.iter().any(|code| {
        text.contains(&format!("<Code>{code}</Code>"))
            || text.contains(&format!("#{code}\""))
            || text.contains(&format!("\"{code}\""))
    })
}

/// Sends `checked` signed by `signer`, again where harmless; every attempt is counted in
/// `to.sent`, and every attempt of a write taken from `to.budget`.
pub async fn send(
    checked: &Signable,
    signer: &AwsSigner,
    to: Destination<'_>,
) -> Result<Sent, Failed> {
    let reads = checked.repeatable || checked.read_only;
    let options = bounded(to.options);
    let key = (!checked.read_only).then(|| {
        let p = &checked.parts;
        send_budget::key(
            &checked.service,
            &checked.operation,
            p.method.as_str(),
            &p.uri.to_string(),
            &checked.body,
        )
    });
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        let last = attempt >= ATTEMPTS;
        if let Some(key) = key {
            to.budget
                .take(key, &checked.what)
                .map_err(Failed::Refused)?;
        }
        let request = checked.signed(signer).await.map_err(Failed::Refused)?;
        to.sent.fetch_add(1, Ordering::Relaxed);
        let (outcome, answer) = attempt_once(request, to.addrs, options, reads, last).await;
        if let Some(key) = key {
            to.budget.answered(key, answer.text, answer.settled);
        }
        if let Attempt::Done(result) = outcome {
            return result;
        }
        let jittered = pause / 2 + pause.mul_f64(fastrand::f64() / 2.0);
        tokio::time::sleep(jittered).await;
        pause = (pause * 2).min(MAX_PAUSE);
        attempt += 1;
    }
}

/// The provider's timeouts, bounded by the gate's own.
fn bounded(options: Option<RequestOptions>) -> Option<RequestOptions> {
    Some(RequestOptions {
        connect_timeout: Some(
            options
                .and_then(|o| o.connect_timeout)
                .map_or(CONNECT_TIMEOUT, |d| d.min(CONNECT_TIMEOUT)),
        ),
        first_byte_timeout: Some(
            options
                .and_then(|o| o.first_byte_timeout)
                .map_or(FIRST_BYTE_TIMEOUT, |d| d.min(FIRST_BYTE_TIMEOUT)),
        ),
        between_bytes_timeout: options.and_then(|o| o.between_bytes_timeout),
    })
}

/// What one attempt came to: hand it back, or send again.
enum Attempt {
    Done(Result<Sent, Failed>),
    Again,
}

/// What an attempt got: in words, and whether it settles what the write did (an answer
/// other than a 5xx or a throttle).
struct Answer {
    text: String,
    settled: bool,
}

fn unsettled(text: String) -> Answer {
    Answer {
        text,
        settled: false,
    }
}

/// One attempt: sent, and judged (`reads`: harmless to repeat on any failure that may pass;
/// `last`: whatever came, hand it back); with what it got.
async fn attempt_once(
    request: http::Request<WasiBody>,
    addrs: &[SocketAddr],
    options: Option<RequestOptions>,
    reads: bool,
    last: bool,
) -> (Attempt, Answer) {
    use http_body_util::BodyExt;
    let (response, io) = match egress::send(request, addrs.to_vec(), options).await {
        // Never left: safe to send again whatever it was.
        Err(e @ Error::Connect(_)) if !last => {
            return (Attempt::Again, unsettled(format!("no connection ({e})")));
        }
        Err(e) if reads && !last => return (Attempt::Again, unsettled(format!("no answer ({e})"))),
        Err(e) => {
            let answer = unsettled(format!("no answer ({e})"));
            return (Attempt::Done(Err(Failed::Http(e))), answer);
        }
        Ok(sent) => sent,
    };
    let status = response.status();
    let failing = status.is_server_error() || status.as_u16() == 429;
    if status.is_success() || last {
        let answer = Answer {
            text: format!("HTTP {status}"),
            settled: !failing,
        };
        return (Attempt::Done(Ok((response, io))), answer);
    }
    if reads && failing {
        return (Attempt::Again, unsettled(format!("HTTP {status}")));
    }
    let (parts, body) = response.into_parts();
    match http_body_util::Limited::new(body, MAX_ERROR_BODY)
        .collect()
        .await
    {
        Ok(collected) => {
            let body = collected.to_bytes();
            let answer = match error_code(&body) {
                Some(code) => format!("HTTP {status} {code}"),
                None => format!("HTTP {status}"),
            };
            if throttled(&body) {
                return (Attempt::Again, unsettled(answer));
            }
            let response = http::Response::from_parts(parts, egress::body(body));
            let settled = !failing;
            (
                Attempt::Done(Ok((response, io))),
                Answer {
                    text: answer,
                    settled,
                },
            )
        }
        Err(_) if reads => (
            Attempt::Again,
            unsettled(format!("HTTP {status}, its body cut")),
        ),
        Err(_) => (
            Attempt::Done(Err(Failed::Http(Error::HttpResponseIncomplete))),
            unsettled(format!("HTTP {status}, its body cut")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_throttles_are_recognised() {
        assert!(read_only("DescribeVpcs") && read_only("ListTags") && read_only("GetObject"));
        assert!(read_only("HeadObject"));
        assert_eq!(
            error_code(b"<Response><Errors><Error><Code>DependencyViolation</Code>").as_deref(),
            Some("DependencyViolation")
        );
        assert_eq!(
            error_code(br#"{"__type":"com.amazon#ResourceInUseException"}"#).as_deref(),
            Some("ResourceInUseException")
        );
        assert!(!read_only("CreateVpc") && !read_only("RunInstances"));
        assert!(throttled(
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>"
        ));
        assert!(throttled(
            b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"
        ));
        assert!(throttled(
            br#"{"__type":"com.amazon#ThrottlingException","message":"x"}"#
        ));
        assert!(!throttled(b"<Code>InvalidParameterValue</Code> Throttling"));
    }
}
