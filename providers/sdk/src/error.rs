//! The error a provider returns, mapped onto the SPI's typed errors.

use crate::bindings::wit;
use std::fmt;

/// What kind of failure a call hit; mirrors the SPI's `error-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The properties or configuration are wrong; retrying will not help.
    InvalidInput,
    /// The resource does not exist (any more).
    NotFound,
    /// The resource exists in a state that conflicts with the request.
    Conflict,
    /// Throttled, timed out or a server-side failure: the engine retries.
    Transient,
    /// The credentials or the sandbox refused the operation.
    Denied,
    /// Anything else.
    Other,
    /// The request was sent and no answer came: it may or may not have happened. The engine
    /// finds out before sending it again; a provider never re-sends a write itself.
    OutcomeUnknown,
}

/// A failed provider call: a kind, a message and optionally the property it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
}

/// The result type of provider code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// The input is wrong; `field` names the property.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message).with_field(field)
    }

    /// The resource does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The resource is in a conflicting state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A transient failure the engine should retry.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// Refused by credentials or the sandbox.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message)
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// Names the property the error is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match err.kind() {
            Io::NotFound => ErrorKind::NotFound,
            Io::PermissionDenied => ErrorKind::Denied,
            Io::AlreadyExists => ErrorKind::Conflict,
            Io::TimedOut | Io::Interrupted | Io::WouldBlock => ErrorKind::Transient,
            _ => ErrorKind::Other,
        };
        Self::new(kind, err.to_string())
    }
}

impl From<Error> for wit::Error {
    fn from(err: Error) -> Self {
        let kind = match err.kind {
            ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
            ErrorKind::NotFound => wit::ErrorKind::NotFound,
            ErrorKind::Conflict => wit::ErrorKind::Conflict,
            ErrorKind::Transient => wit::ErrorKind::Transient,
            ErrorKind::Denied => wit::ErrorKind::Denied,
            ErrorKind::Other => wit::ErrorKind::Other,
            ErrorKind::OutcomeUnknown => wit::ErrorKind::OutcomeUnknown,
        };
        wit::Error {
            kind,
            message: err.message,
            field: err.field,
        }
    }
}
