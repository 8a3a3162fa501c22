//! Cloud Control's answers about a request: a `ProgressEvent` (from CreateResource,
//! UpdateResource, DeleteResource and GetResourceRequestStatus) read as what rkit does next,
//! and a handler's error code as rkit's error kind.
//!
//! Invariants: every status and error code Cloud Control documents has exactly one meaning
//! here, and one it does not (a newer service) reads as still running when the status is not
//! terminal, and as `Other` when it is an error code, never as success; a `RetryAfter` is
//! honoured only as a later time to look again, never as a reason to give up; what a handler
//! said (`StatusMessage`) is kept whole in the error for the person reading it; a create that
//! failed other than by a definite refusal is `outcome-unknown` (its object may exist), never
//! `transient` (which the engine would retry blindly).

use rkit_sdk::{Error, ErrorKind};
use serde::Deserialize;

/// A `ProgressEvent` as Cloud Control sends it (the fields rkit reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgressEvent {
    /// `CREATE`, `UPDATE` or `DELETE`.
    #[serde(default)]
    pub operation: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESS`, `FAILED`, `CANCEL_IN_PROGRESS`, `CANCEL_COMPLETE`.
    #[serde(default)]
    pub operation_status: String,
    /// The token to ask about the request again with.
    #[serde(default)]
    pub request_token: String,
    /// The object's primary identifier, once known.
    #[serde(default)]
    pub identifier: Option<String>,
    /// A handler's error code, when it failed.
    #[serde(default)]
    pub error_code: Option<String>,
    /// What the handler said.
    #[serde(default)]
    pub status_message: Option<String>,
    /// When to look again (seconds since the epoch, as the service sends it).
    #[serde(default)]
    pub retry_after: Option<f64>,
    /// The object's properties as the service now reads them (JSON text), when it sends them.
    #[serde(default)]
    pub resource_model: Option<String>,
}

/// What a request's progress means for rkit.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Not finished: look again (no earlier than `retry_after`, if given).
    Running { retry_after: Option<f64> },
    /// Done; the object's identifier (none for a delete).
    Done { identifier: Option<String> },
    /// Failed, or cancelled: why, as rkit's error.
    Failed(Error),
}

impl ProgressEvent {
    /// What this event says of its request.
    pub fn progress(&self) -> Progress {
        match self.operation_status.as_str() {
            "SUCCESS" => Progress::Done {
                identifier: self.identifier.clone(),
            },
            "FAILED" => Progress::Failed(self.error()),
            "CANCEL_COMPLETE" => Progress::Failed(Error::other(format!(
                "the {} request {} was cancelled",
                self.operation.to_lowercase(),
                self.request_token
            ))),
            _ => Progress::Running {
                retry_after: self.retry_after,
            },
        }
    }

    /// A failed request's error: its code as rkit's kind, the handler's message whole.
    fn error(&self) -> Error {
        let code = self.error_code.as_deref().unwrap_or("unknown");
        let said = self.status_message.as_deref().unwrap_or("no message");
        let on = self
            .identifier
            .as_deref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        Error::new(
            kind_for(&self.operation, code),
            format!(
                "Cloud Control {} failed{on}: {code}: {said}",
                self.operation.to_lowercase()
            ),
        )
    }
}

/// rkit's error kind of a failed request's handler error code: as [`kind_of`] says, except
/// that a create which failed for any reason but a definite refusal (bad input, denied, a
/// conflict, a quota) may have left its object behind, so its outcome is unknown: the engine
/// looks for the object before it tries again.
pub fn kind_for(operation: &str, code: &str) -> ErrorKind {
    let kind = kind_of(code);
    let refused = matches!(
        kind,
        ErrorKind::InvalidInput | ErrorKind::Denied | ErrorKind::Conflict | ErrorKind::NotFound
    ) || code == "ServiceLimitExceeded";
    if operation == "CREATE" && !refused {
        return ErrorKind::OutcomeUnknown;
    }
    kind
}

/// rkit's error kind of a Cloud Control handler error code.
pub fn kind_of(code: &str) -> ErrorKind {
    match code {
        "InvalidRequest" | "NotUpdatable" => ErrorKind::InvalidInput,
        "AccessDenied" | "InvalidCredentials" | "UnauthorizedTaggingOperation" => ErrorKind::Denied,
        "NotFound" => ErrorKind::NotFound,
        "AlreadyExists" | "ResourceConflict" => ErrorKind::Conflict,
        "Throttling"
        | "ServiceInternalError"
        | "InternalFailure"
        | "NetworkFailure"
        | "ServiceTimeout"
        | "GeneralServiceException" => ErrorKind::Transient,
        // A quota is not lifted by waiting; an object that did not stabilise needs a person.
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> ProgressEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn each_status_reads_as_what_rkit_does_next() {
        let running = event(
            r#"{"Operation": "CREATE", "OperationStatus": "IN_PROGRESS", "RequestToken": "t",
                "RetryAfter": 1700000000.5}"#,
        );
        assert_eq!(
            running.progress(),
            Progress::Running {
                retry_after: Some(1_700_000_000.5)
            }
        );
        let done = event(
            r#"{"Operation": "CREATE", "OperationStatus": "SUCCESS", "RequestToken": "t",
                "Identifier": "vpc-1"}"#,
        );
        assert_eq!(
            done.progress(),
            Progress::Done {
                identifier: Some("vpc-1".into())
            }
        );
        let newer = event(r#"{"Operation": "CREATE", "OperationStatus": "QUEUED"}"#);
        assert_eq!(newer.progress(), Progress::Running { retry_after: None });
        let cancelled = event(
            r#"{"Operation": "UPDATE", "OperationStatus": "CANCEL_COMPLETE", "RequestToken": "t"}"#,
        );
        let Progress::Failed(err) = cancelled.progress() else {
            panic!("a cancelled request is not done");
        };
        assert_eq!(err.message, "the update request t was cancelled");
    }

    #[test]
    fn a_handlers_error_keeps_its_words_and_gets_a_kind() {
        let failed = event(
            r#"{"Operation": "CREATE", "OperationStatus": "FAILED", "RequestToken": "t",
                "Identifier": "q", "ErrorCode": "AlreadyExists",
                "StatusMessage": "Queue q already exists"}"#,
        );
        let Progress::Failed(err) = failed.progress() else {
            panic!("FAILED is a failure");
        };
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert_eq!(
            err.message,
            "Cloud Control create failed (q): AlreadyExists: Queue q already exists"
        );
        assert_eq!(kind_of("Throttling"), ErrorKind::Transient);
        assert_eq!(kind_of("NotFound"), ErrorKind::NotFound);
        assert_eq!(kind_of("NotUpdatable"), ErrorKind::InvalidInput);
        assert_eq!(kind_of("AccessDenied"), ErrorKind::Denied);
        assert_eq!(kind_of("ServiceLimitExceeded"), ErrorKind::Other);
        assert_eq!(kind_of("SomethingNew"), ErrorKind::Other);
    }

    #[test]
    fn a_create_that_failed_midway_may_have_left_its_object() {
        for code in [
            "ServiceInternalError",
            "Throttling",
            "NotStabilized",
            "SomethingNew",
        ] {
            assert_eq!(
                kind_for("CREATE", code),
                ErrorKind::OutcomeUnknown,
                "{code}"
            );
        }
        for (code, kind) in [
            ("InvalidRequest", ErrorKind::InvalidInput),
            ("AccessDenied", ErrorKind::Denied),
            ("AlreadyExists", ErrorKind::Conflict),
            ("ServiceLimitExceeded", ErrorKind::Other),
        ] {
            assert_eq!(kind_for("CREATE", code), kind, "{code}");
        }
        assert_eq!(
            kind_for("UPDATE", "ServiceInternalError"),
            ErrorKind::Transient
        );
        assert_eq!(kind_for("DELETE", "NotStabilized"), ErrorKind::Other);
        let failed = event(
            r#"{"Operation": "CREATE", "OperationStatus": "FAILED", "RequestToken": "t",
                "ErrorCode": "InternalFailure", "StatusMessage": "boom"}"#,
        );
        let Progress::Failed(err) = failed.progress() else {
            panic!("FAILED is a failure");
        };
        assert_eq!(err.kind, ErrorKind::OutcomeUnknown);
    }
}
