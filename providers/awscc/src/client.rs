//! The Cloud Control API client: JSON 1.0 POSTs (`X-Amz-Target: CloudApiService.Op`) sent
//! unsigned over wasi:http (`wstd`) to the endpoint rkit resolved; rkit's sandbox signs each
//! one on its way out (the provider never holds a key), refuses an action or a resource type
//! the provider did not declare, and resends a request marked repeatable when that is harmless.
//!
//! Invariants: no retries here (rkit's engine owns them); each failure is classified so the
//! engine knows what it may do: throttled, or never sent, is `transient`; a read, or a write
//! that carries a `ClientToken` (Cloud Control answers a repeated token with the first
//! request, so sending it again makes nothing twice), failing without an answer or with a 5xx
//! is `transient` too, and marked repeatable for the gate; `CancelResourceRequest` likewise;
//! the service's error code and message are kept verbatim.

use rkit_sdk::{Error, ErrorKind};
use serde_json::Value;
use std::fmt;

/// The request header by which a provider tells rkit's gate that a request is safe to send
/// again (the gate removes it before the request leaves).
pub const REPEATABLE_HEADER: &str = "x-rkit-repeatable";

/// A failed call: Cloud Control's error code and message, or why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The operation (`CreateResource`).
    pub op: String,
    /// The service's error code (`ThrottlingException`); rkit's own for failures without an
    /// answer: `RequestFailed`, `RequestNotSent`, `RequestDenied` (by the sandbox),
    /// `MalformedResponse`, `NoEndpoint`.
    pub code: String,
    pub message: String,
    /// The HTTP status; 0 when no answer came.
    pub status: u16,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cloud Control {}: {}: {}",
            self.op, self.code, self.message
        )
    }
}

/// Whether sending `op` twice does no more than sending it once (with its `ClientToken`,
/// for the writes).
pub fn repeatable(op: &str) -> bool {
    matches!(
        op,
        "GetResource"
            | "ListResources"
            | "GetResourceRequestStatus"
            | "ListResourceRequests"
            | "CancelResourceRequest"
            | "CreateResource"
            | "UpdateResource"
            | "DeleteResource"
    )
}

impl From<CallError> for Error {
    fn from(err: CallError) -> Self {
        let kind = match err.code.as_str() {
            "ResourceNotFoundException" => ErrorKind::NotFound,
            // A request Cloud Control no longer knows says nothing of its object.
            "RequestTokenNotFoundException" => ErrorKind::Other,
            "AlreadyExistsException"
            | "ClientTokenConflictException"
            | "ConcurrentOperationException"
            | "ResourceConflictException" => ErrorKind::Conflict,
            "ThrottlingException"
            | "RequestNotSent"
            | "ServiceInternalErrorException"
            | "InternalFailureException"
            | "NetworkFailureException" => ErrorKind::Transient,
            "AccessDeniedException" | "RequestDenied" | "UnrecognizedClientException" => {
                ErrorKind::Denied
            }
            "InvalidRequestException"
            | "TypeNotFoundException"
            | "UnsupportedActionException"
            | "ValidationException"
            | "NoEndpoint"
            | "InvalidCredentialsException"
            | "NotUpdatableException"
            | "ServiceLimitExceededException" => ErrorKind::InvalidInput,
            _ if err.status >= 500 || err.code == "RequestFailed" => match repeatable(&err.op) {
                true => ErrorKind::Transient,
                false => ErrorKind::OutcomeUnknown,
            },
            _ => ErrorKind::Other,
        };
        Error::new(kind, err.to_string())
    }
}

/// Reads an error answer: the code from `__type` (after any `#`) or the `x-amzn-errortype`
/// header's value, the message from `Message`/`message`.
pub fn error_of(op: &str, status: u16, header_type: Option<&str>, body: &str) -> CallError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let typed = parsed
        .as_ref()
        .and_then(|v| v["__type"].as_str())
        .or(header_type)
        .unwrap_or_default();
    let code = typed.rsplit('#').next().unwrap_or(typed);
    let code = code.split(':').next().unwrap_or(code).trim();
    let message = parsed
        .as_ref()
        .and_then(|v| v["Message"].as_str().or(v["message"].as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| excerpt(body));
    CallError {
        op: op.to_string(),
        code: match code.is_empty() {
            true => format!("HTTP{status}"),
            false => code.to_string(),
        },
        message,
        status,
    }
}

/// At most 300 characters of `text`.
pub fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Access to Cloud Control: one call, its JSON answer or why not.
pub trait CloudControl {
    /// Calls operation `op` with `body`.
    fn call(&self, op: &str, body: &Value) -> Result<Value, CallError>;
    /// Waits `seconds` before looking again (no CPU spent).
    fn pause(&self, seconds: f64);
}

/// Cloud Control at one endpoint, over wasi:http.
#[cfg(target_arch = "wasm32")]
pub struct Client {
    endpoint: Option<String>,
}

#[cfg(target_arch = "wasm32")]
impl Client {
    /// A client for `endpoint` (`None`: no region and no endpoint were configured).
    pub fn new(endpoint: Option<String>) -> Self {
        Self { endpoint }
    }
}

#[cfg(target_arch = "wasm32")]
impl CloudControl for Client {
    fn call(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        wstd::runtime::block_on(self.send(op, body.to_string()))
    }

    fn pause(&self, seconds: f64) {
        let d = std::time::Duration::from_secs_f64(seconds.clamp(0.0, 60.0));
        wstd::runtime::block_on(async move { wstd::task::sleep(d.into()).await });
    }
}

#[cfg(target_arch = "wasm32")]
impl Client {
    async fn send(&self, op: &str, body: String) -> Result<Value, CallError> {
        let fail = |code: &str, message: String| CallError {
            op: op.to_string(),
            code: code.to_string(),
            message,
            status: 0,
        };
        let Some(endpoint) = &self.endpoint else {
            return Err(fail(
                "NoEndpoint",
                "no region and no endpoint: set AWS_REGION (or Providers.NAME.Config.Region) or \
                 an endpoint URL"
                    .into(),
            ));
        };
        let mut request = wstd::http::Request::post(endpoint.as_str())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("CloudApiService.{op}"))
            .header("content-length", body.len());
        if repeatable(op) {
            request = request.header(REPEATABLE_HEADER, "1");
        }
        let request = request
            .body(wstd::http::Body::from(body))
            .map_err(|e| fail("RequestFailed", format!("building the request: {e}")))?;
        let mut response = wstd::http::Client::new().send(request).await.map_err(|e| {
            let text = format!("{e:?}");
            if text.contains("HttpRequestDenied") {
                fail(
                    "RequestDenied",
                    format!("POST {endpoint}: the sandbox refused the request"),
                )
            } else if text.contains("ConnectionRefused") || text.contains("DnsError") {
                fail("RequestNotSent", format!("POST {endpoint}: {text}"))
            } else {
                fail("RequestFailed", format!("POST {endpoint}: {text}"))
            }
        })?;
        let status = response.status().as_u16();
        let header_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response
            .body_mut()
            .str_contents()
            .await
            .map_err(|e| fail("RequestFailed", format!("reading the answer: {e:?}")))?
            .to_string();
        if !(200..300).contains(&status) {
            return Err(error_of(op, status, header_type.as_deref(), &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            fail(
                "MalformedResponse",
                format!("HTTP {status}, not JSON ({e}): {}", excerpt(&text)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_services_words_and_get_a_kind() {
        let err = error_of(
            "CreateResource",
            400,
            None,
            r#"{"__type": "com.amazonaws.cloudcontrol#ThrottlingException", "Message": "Rate exceeded"}"#,
        );
        assert_eq!(err.code, "ThrottlingException");
        let sdk: Error = err.into();
        assert_eq!(sdk.kind, ErrorKind::Transient);
        assert_eq!(
            sdk.message,
            "Cloud Control CreateResource: ThrottlingException: Rate exceeded"
        );
        let header = error_of(
            "GetResource",
            400,
            Some("ResourceNotFoundException:x"),
            "{}",
        );
        assert_eq!(Error::from(header).kind, ErrorKind::NotFound);
        let type_missing = error_of(
            "CreateResource",
            400,
            None,
            r#"{"__type": "TypeNotFoundException"}"#,
        );
        assert_eq!(Error::from(type_missing).kind, ErrorKind::InvalidInput);
        let lost = CallError {
            op: "CreateResource".into(),
            code: "RequestFailed".into(),
            message: "reset".into(),
            status: 0,
        };
        assert_eq!(
            Error::from(lost).kind,
            ErrorKind::Transient,
            "a create with its ClientToken is repeated, not doubled"
        );
        let not_json = error_of("GetResource", 503, None, "<html>busy</html>");
        assert_eq!(not_json.code, "HTTP503");
        assert_eq!(Error::from(not_json).kind, ErrorKind::Transient);
    }
}
