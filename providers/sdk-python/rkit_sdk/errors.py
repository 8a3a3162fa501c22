"""The SPI's errors: a kind the engine acts on, a message, and the property at fault.

The engine owns retries (a provider classifies and retries nothing): `transient` is retried
with backoff, `outcome-unknown` only after finding out what happened, `not-found` on read or
delete means "already gone".
"""

from typing import Optional

KINDS = (
    "invalid-input",
    "not-found",
    "conflict",
    "transient",
    "denied",
    "other",
    "outcome-unknown",
)


class Error(Exception):
    """A failed call: raise it from any resource method."""

    def __init__(self, kind: str, message: str, field: Optional[str] = None):
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r} (one of {', '.join(KINDS)})")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field or None

    def __repr__(self) -> str:
        return f"Error({self.kind!r}, {self.message!r}, {self.field!r})"

    @classmethod
    def invalid(cls, field: str, message: str) -> "Error":
        """The properties are wrong (`field` names the property path, `""` for all; rkit shows
        it before the message)."""
        return cls("invalid-input", message, field)

    @classmethod
    def not_found(cls, message: str) -> "Error":
        return cls("not-found", message)

    @classmethod
    def conflict(cls, message: str) -> "Error":
        return cls("conflict", message)

    @classmethod
    def transient(cls, message: str) -> "Error":
        """Throttled, timed out, a server-side failure: the engine retries later."""
        return cls("transient", message)

    @classmethod
    def denied(cls, message: str) -> "Error":
        return cls("denied", message)

    @classmethod
    def outcome_unknown(cls, message: str) -> "Error":
        """The request left and no answer came: it may have been carried out."""
        return cls("outcome-unknown", message)

    @classmethod
    def other(cls, message: str) -> "Error":
        return cls("other", message)
