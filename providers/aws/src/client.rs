//! The AWS Query-protocol client: form-encoded POSTs sent unsigned over wasi:http (`wstd`) to
//! the endpoints rkit resolved; rkit's sandbox signs each one with SigV4 on its way out (the
//! provider never holds a key) and refuses actions the provider did not declare. XML answers
//! are parsed into [`Element`]s.
//!
//! No retries here: rkit's engine owns them (one owner, one backoff, one deadline). The client
//! only classifies each failure so the engine knows what it may do: a throttled request or one
//! that never left is `transient` (nothing happened); a write that got no answer or a 5xx is
//! `outcome-unknown` (it may have happened: the engine finds out before sending it again); a
//! read failing the same way is `transient` (reading again is harmless).

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

/// Whether sending `action` twice does no more than sending it once: it reads, sets a value,
/// or deletes (a second delete finds nothing, which the delete paths take as done). Such a
/// request is marked for rkit's gate to send again on any failure that may pass
/// ([`REPEATABLE_HEADER`]); any other write is sent once, and a lost answer is reported as
/// `outcome-unknown`.
pub fn repeatable(action: &str) -> bool {
    action.starts_with("Describe")
        || action.starts_with("Delete")
        || matches!(
            action,
            "CreateTags"
                | "AddTags"
                | "RemoveTags"
                | "ModifyVpcAttribute"
                | "ModifySubnetAttribute"
                | "ModifyInstanceAttribute"
                | "ModifyTargetGroup"
                | "ModifyListener"
                | "RegisterTargets"
                | "DeregisterTargets"
                | "SetSecurityGroups"
                | "SetSubnets"
                | "SetIpAddressType"
                | "ReplaceRoute"
                | "TerminateInstances"
        )
}

/// The request header by which a provider tells rkit's gate that a request is safe to send
/// again (the gate removes it before the request leaves).
pub const REPEATABLE_HEADER: &str = "x-rkit-repeatable";

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

    /// Whether AWS refused the request without acting on it (throttling), or it never left.
    pub fn not_carried_out(&self) -> bool {
        self.code == "RequestNotSent"
            || matches!(
                self.code.as_str(),
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestThrottled"
                    | "RequestThrottledException"
                    | "TooManyRequestsException"
                    | "SlowDown"
            )
    }

    /// Whether a later attempt may pass: throttling, a server error, no answer.
    fn retryable(&self) -> bool {
        self.not_carried_out()
            || self.status >= 500
            || self.code == "RequestFailed"
            || matches!(
                self.code.as_str(),
                "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
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
        } else if err.retryable() && (err.not_carried_out() || repeatable(&err.action)) {
            K::Transient
        } else if err.retryable() {
            // A write that may have been carried out: the engine must find out first.
            K::OutcomeUnknown
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
}

impl Client {
    /// A client for these endpoints (`None`: not configured).
    pub fn new(ec2: Option<String>, elbv2: Option<String>) -> Self {
        Self { ec2, elbv2 }
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
        wstd::runtime::block_on(self.send(service, action, &body))
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
        let mut request = wstd::http::Request::post(endpoint.as_str())
            .header("content-type", CONTENT_TYPE)
            .header("content-length", body.len());
        if repeatable(action) {
            request = request.header(REPEATABLE_HEADER, "1");
        }
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
            } else if text.contains("ConnectionRefused") || text.contains("DnsError") {
                fail("RequestNotSent", format!("POST {endpoint}: {text}"))
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
        assert_eq!(kind("HTTP500", 500), K::OutcomeUnknown);
        assert_eq!(kind("InvalidParameterValue", 400), K::InvalidInput);
        assert_eq!(kind("VpcLimitExceeded", 400), K::InvalidInput);
        assert_eq!(
            rkit_sdk::Error::from(error("InvalidParameterValue", 400)).message,
            "EC2 CreateVpc: InvalidParameterValue: m"
        );
    }

    #[test]
    fn a_write_without_an_answer_is_outcome_unknown_a_read_or_a_throttle_transient() {
        use rkit_sdk::ErrorKind as K;
        let kind = |action: &str, code: &str, status| {
            let mut err = error(code, status);
            err.action = action.into();
            rkit_sdk::Error::from(err).kind
        };
        assert_eq!(kind("CreateVpc", "RequestFailed", 0), K::OutcomeUnknown);
        assert_eq!(kind("CreateVpc", "HTTP500", 500), K::OutcomeUnknown);
        assert_eq!(kind("CreateVpc", "InternalError", 500), K::OutcomeUnknown);
        assert_eq!(kind("CreateVpc", "RequestLimitExceeded", 503), K::Transient);
        assert_eq!(kind("CreateVpc", "Throttling", 400), K::Transient);
        assert_eq!(kind("CreateVpc", "RequestNotSent", 0), K::Transient);
        assert_eq!(kind("DescribeVpcs", "RequestFailed", 0), K::Transient);
        assert_eq!(kind("DescribeVpcs", "HTTP502", 502), K::Transient);
        assert_eq!(
            kind("CreateVpc", "InvalidParameterValue", 400),
            K::InvalidInput
        );
        assert_eq!(kind("CreateVpc", "DependencyViolation", 400), K::Conflict);
    }
}
