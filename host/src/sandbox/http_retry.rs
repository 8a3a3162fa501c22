//! Sending a signed API request, again where that is harmless. rkit owns retries; this is the
//! part of them that must happen per request, below the provider: a provider's call is many
//! requests, and under heavy faults a call would almost never pass whole if each of its reads
//! had to. What is sent again (re-signed, after a jittered pause, at most [`ATTEMPTS`] times,
//! all within the call's own time limit):
//! - any request AWS refused for throttling (`RequestLimitExceeded`, `Throttling`, …: it was
//!   not carried out) or whose connection could not be opened (it never left);
//! - a read-only action (`Describe*`, `List*`, `Get*`), or a request the provider marked as
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

use super::aws_signing::AwsSigner;
use super::egress;
use super::http_policy::Checked;
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
    Signing(String),
}

/// Whether `action` only reads.
pub fn read_only(action: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| action.starts_with(p))
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
/// `sent`.
pub async fn send(
    checked: &Checked,
    signer: &AwsSigner,
    addrs: &[SocketAddr],
    options: Option<RequestOptions>,
    sent: &AtomicU64,
) -> Result<Sent, Failed> {
    use http_body_util::BodyExt;
    let reads = checked.repeatable || read_only(&checked.action);
    let options = Some(RequestOptions {
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
    });
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        let last = attempt >= ATTEMPTS;
        let request = checked.signed(signer).map_err(Failed::Signing)?;
        sent.fetch_add(1, Ordering::Relaxed);
        match egress::send(request, addrs.to_vec(), options).await {
            // Never left: safe to send again whatever it was.
            Err(Error::Connect(_)) if !last => {}
            Err(_) if reads && !last => {}
            Err(err) => return Err(Failed::Http(err)),
            Ok((response, io)) if response.status().is_success() || last => {
                return Ok((response, io));
            }
            Ok((response, io)) => {
                let status = response.status();
                if !(reads && (status.is_server_error() || status.as_u16() == 429)) {
                    let (parts, body) = response.into_parts();
                    match http_body_util::Limited::new(body, MAX_ERROR_BODY)
                        .collect()
                        .await
                    {
                        Ok(collected) => {
                            let body = collected.to_bytes();
                            if !throttled(&body) {
                                let response =
                                    http::Response::from_parts(parts, egress::body(body));
                                return Ok((response, io));
                            }
                        }
                        Err(_) if reads => {}
                        Err(_) => return Err(Failed::Http(Error::HttpResponseIncomplete)),
                    }
                }
            }
        }
        let jittered = pause / 2 + pause.mul_f64(fastrand::f64() / 2.0);
        tokio::time::sleep(jittered).await;
        pause = (pause * 2).min(MAX_PAUSE);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_throttles_are_recognised() {
        assert!(read_only("DescribeVpcs") && read_only("ListTags") && read_only("GetObject"));
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
