//! The AWS Query-protocol client: form-encoded POSTs sent unsigned over wasi:http (`wstd`) to
//! the endpoints rkit resolved; rkit's sandbox signs each one with SigV4 on its way out (the
//! provider never holds a key) and refuses actions the provider did not declare. XML answers
//! are parsed into [`Element`]s. Throttling, 5xx answers and failed connections are retried
//! with exponential backoff and jitter; a request the sandbox refused is not.

use crate::query::Params;
use crate::xml::Element;
use std::fmt;
use std::time::Duration;

/// An AWS API the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ec2,
    Elbv2,
}

impl Service {
    fn version(self) -> &'static str {
        match self {
            Service::Ec2 => "2016-11-15",
            Service::Elbv2 => "2015-12-01",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Elbv2 => "ELBv2",
        }
    }
}

/// A failed API call: the AWS error code and message verbatim, or why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub service: Service,
    pub action: String,
    /// The AWS error code (`InvalidVpcID.NotFound`); rkit's own for failures without an
    /// answer: `RequestFailed`, `RequestDenied` (by the sandbox), `MalformedResponse`,
    /// `NoEndpoint`.
    pub code: String,
    pub message: String,
    /// The HTTP status; 0 when no answer came.
    pub status: u16,
}

impl AwsError {
    /// Whether the error's code is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// Whether the resource asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code.ends_with("NotFound") || self.code.ends_with(".NotFound")
    }

    /// Whether the resource is still in use by another (it may be freed soon).
    pub fn is_in_use(&self) -> bool {
        matches!(
            self.code.as_str(),
            "DependencyViolation" | "InvalidGroup.InUse" | "ResourceInUse" | "VolumeInUse"
        )
    }

    fn retryable(&self) -> bool {
        self.status >= 500
            || self.code == "RequestFailed"
            || matches!(
                self.code.as_str(),
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestThrottled"
                    | "RequestThrottledException"
                    | "TooManyRequestsException"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Unavailable"
            )
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}: {}",
            self.service.label(),
            self.action,
            self.code,
            self.message
        )
    }
}

impl From<AwsError> for rkit_sdk::Error {
    fn from(err: AwsError) -> Self {
        use rkit_sdk::ErrorKind as K;
        let code = err.code.as_str();
        let kind = if err.is_not_found() {
            K::NotFound
        } else if err.is_in_use()
            || code.contains("Duplicate")
            || code == "IncorrectState"
            || code == "IncorrectInstanceState"
        {
            K::Conflict
        } else if matches!(
            code,
            "AuthFailure"
                | "UnauthorizedOperation"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "AccessDeniedException"
                | "RequestDenied"
                | "OptInRequired"
        ) {
            K::Denied
        } else if err.retryable() {
            K::Transient
        } else if code.starts_with("Invalid")
            || code.starts_with("Missing")
            || code == "ValidationError"
            || code == "NoEndpoint"
            || code.ends_with("LimitExceeded")
        {
            K::InvalidInput
        } else {
            K::Other
        };
        rkit_sdk::Error::new(kind, err.to_string())
    }
}

/// What a call returns.
pub type ApiResult<T> = Result<T, AwsError>;

/// Configured access to EC2 and ELBv2 in one region.
pub struct Client {
    ec2: Option<String>,
    elbv2: Option<String>,
    max_attempts: u32,
}

impl Client {
    /// A client for these endpoints (`None`: not configured).
    pub fn new(ec2: Option<String>, elbv2: Option<String>, max_attempts: u32) -> Self {
        Self {
            ec2,
            elbv2,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Calls EC2 `action`.
    pub fn ec2(&self, action: &str, params: Params) -> ApiResult<Element> {
        self.call(Service::Ec2, action, &params)
    }

    /// Calls ELBv2 `action`.
    pub fn elbv2(&self, action: &str, params: Params) -> ApiResult<Element> {
        self.call(Service::Elbv2, action, &params)
    }

    fn call(&self, service: Service, action: &str, params: &Params) -> ApiResult<Element> {
        let body = params.encode(action, service.version());
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match wstd::runtime::block_on(self.send(service, action, &body)) {
                Err(err) if err.retryable() && attempt < self.max_attempts => {
                    sleep(jittered(delay));
                    delay = (delay * 2).min(Duration::from_secs(20));
                    attempt += 1;
                }
                Err(mut err) if err.retryable() => {
                    err.message = format!("{} (after {attempt} attempts)", err.message);
                    return Err(err);
                }
                other => return other,
            }
        }
    }

    async fn send(&self, service: Service, action: &str, body: &str) -> ApiResult<Element> {
        let fail = |code: &str, message: String| AwsError {
            service,
            action: action.to_string(),
            code: code.to_string(),
            message,
            status: 0,
        };
        let endpoint = match service {
            Service::Ec2 => &self.ec2,
            Service::Elbv2 => &self.elbv2,
        };
        let Some(endpoint) = endpoint else {
            return Err(fail(
                "NoEndpoint",
                "no region and no endpoint: set AWS_REGION (or Providers.NAME.Config.Region) or \
                 an endpoint URL"
                    .into(),
            ));
        };
        const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
        // Unsigned: the sandbox signs it. A known length (wasi-http would otherwise send the
        // form chunked).
        let request = wstd::http::Request::post(endpoint.as_str())
            .header("content-type", CONTENT_TYPE)
            .header("content-length", body.len());
        let request = request
            .body(wstd::http::Body::from(body.to_string()))
            .map_err(|e| fail("RequestFailed", format!("building the request: {e}")))?;
        let mut response = wstd::http::Client::new().send(request).await.map_err(|e| {
            let text = format!("{e:?}");
            if text.contains("HttpRequestDenied") {
                fail(
                    "RequestDenied",
                    format!("POST {endpoint}: the sandbox refused the request"),
                )
            } else {
                fail("RequestFailed", format!("POST {endpoint}: {text}"))
            }
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .str_contents()
            .await
            .map_err(|e| fail("RequestFailed", format!("reading the answer: {e:?}")))?
            .to_string();
        let parsed = Element::parse(&text);
        if (200..300).contains(&status) {
            return parsed.map_err(|e| {
                fail(
                    "MalformedResponse",
                    format!("HTTP {status}, not XML ({e}): {}", excerpt(&text)),
                )
            });
        }
        let (code, message) = match &parsed {
            // EC2: Response/Errors/Error; ELBv2: ErrorResponse/Error.
            Ok(root) => match root.find("Error") {
                Some(error) => (error.string("Code"), error.string("Message")),
                None => (String::new(), excerpt(&text)),
            },
            Err(_) => (String::new(), excerpt(&text)),
        };
        Err(AwsError {
            status,
            code: if code.is_empty() {
                format!("HTTP{status}")
            } else {
                code
            },
            message,
            ..fail("", String::new())
        })
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `delay` scaled by a random factor in [0.5, 1): exponential backoff with jitter, so many
/// callers throttled together do not retry in step.
fn jittered(delay: Duration) -> Duration {
    let unit = getrandom::u64().unwrap_or(0) as f64 / u64::MAX as f64;
    delay.mul_f64(0.5 + unit / 2.0)
}

/// Blocks the calling export for `d` (a wasi clock subscription: no CPU is spent).
pub fn sleep(d: Duration) {
    // The timer must be made inside the runtime: build it in the future, not before.
    wstd::runtime::block_on(async move { wstd::task::sleep(d.into()).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, status: u16) -> AwsError {
        AwsError {
            service: Service::Ec2,
            action: "CreateVpc".into(),
            code: code.into(),
            message: "m".into(),
            status,
        }
    }

    #[test]
    fn codes_map_to_kinds_and_messages_stay_verbatim() {
        use rkit_sdk::ErrorKind as K;
        let kind = |code: &str, status| rkit_sdk::Error::from(error(code, status)).kind;
        assert_eq!(kind("InvalidVpcID.NotFound", 400), K::NotFound);
        assert_eq!(kind("LoadBalancerNotFound", 400), K::NotFound);
        assert_eq!(kind("DependencyViolation", 400), K::Conflict);
        assert_eq!(kind("InvalidGroup.Duplicate", 400), K::Conflict);
        assert_eq!(kind("AuthFailure", 401), K::Denied);
        assert_eq!(kind("RequestLimitExceeded", 503), K::Transient);
        assert_eq!(kind("HTTP500", 500), K::Transient);
        assert_eq!(kind("InvalidParameterValue", 400), K::InvalidInput);
        assert_eq!(kind("VpcLimitExceeded", 400), K::InvalidInput);
        assert_eq!(
            rkit_sdk::Error::from(error("InvalidParameterValue", 400)).message,
            "EC2 CreateVpc: InvalidParameterValue: m"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried_client_errors_are_not() {
        assert!(error("Throttling", 400).retryable());
        assert!(error("RequestLimitExceeded", 503).retryable());
        assert!(error("HTTP502", 502).retryable());
        assert!(error("RequestFailed", 0).retryable());
        assert!(!error("InvalidParameterValue", 400).retryable());
        assert!(!error("DependencyViolation", 400).retryable());
    }

    #[test]
    fn jitter_stays_within_half_to_whole_delay() {
        let d = Duration::from_millis(1000);
        for _ in 0..100 {
            let j = jittered(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
    }
}
