"""The errors Cumulo services raise and the SDK raises back.

Servers raise these from domain code; one table (:data:`cumulo.rpc.status.STATUS_OF`)
maps each class to a gRPC status code, so the API layer never picks codes by hand.
The SDK turns a failed call's status code back into the same class, so client
code catches ``cumulo.errors.NotFound`` whichever side it runs on.

Each error carries a message a person can act on, and optionally the request
``field`` at fault, a stable ``reason`` and a ``hint`` saying what to do next.
"""

from __future__ import annotations


class CumuloError(Exception):
    """Base class of every error a Cumulo service reports to its caller."""

    #: Stable machine-readable reason used when the raiser gives none.
    default_reason = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        reason: str = "",
        hint: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason or self.default_reason
        self.hint = hint
        self.request_id = request_id

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InvalidArgument(CumuloError):
    """The request is malformed or a field's value is not acceptable."""

    default_reason = "INVALID_ARGUMENT"


class NotFound(CumuloError):
    """The resource does not exist, or the caller may not know that it does."""

    default_reason = "NOT_FOUND"


class AlreadyExists(CumuloError):
    """A resource with that identity exists already."""

    default_reason = "ALREADY_EXISTS"


class Conflict(CumuloError):
    """The resource's state does not allow the operation now (retry after a change)."""

    default_reason = "FAILED_PRECONDITION"


class Aborted(CumuloError):
    """A concurrent change won; re-read and retry."""

    default_reason = "ABORTED"


class OutOfRange(CumuloError):
    """A position (byte range, page) lies past the end."""

    default_reason = "OUT_OF_RANGE"


class Unauthenticated(CumuloError):
    """No valid credential was presented."""

    default_reason = "UNAUTHENTICATED"


class PermissionDenied(CumuloError):
    """The caller is known but lacks the role for this operation."""

    default_reason = "PERMISSION_DENIED"


class QuotaExceeded(CumuloError):
    """The project's quota does not allow this much."""

    default_reason = "QUOTA_EXCEEDED"


class Unavailable(CumuloError):
    """The service or a backend it needs cannot be reached now; retry later."""

    default_reason = "UNAVAILABLE"


class DeadlineExceeded(CumuloError):
    """The operation did not finish in time."""

    default_reason = "DEADLINE_EXCEEDED"


class Unimplemented(CumuloError):
    """The server does not offer this operation."""

    default_reason = "UNIMPLEMENTED"


class DataCorruption(CumuloError):
    """Stored data failed its checksum; the bad copy was set aside, none of it was returned.

    Retry: another replica may hold a good copy (the proxy does this itself).
    """

    default_reason = "DATA_CORRUPTION"


class InternalError(CumuloError):
    """A server-side fault; the message carries a request id for the operator."""

    default_reason = "INTERNAL"
