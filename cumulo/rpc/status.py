"""The one table from Cumulo's domain errors to gRPC status codes, both ways.

Servers call :func:`status_for` to turn an exception into a ``google.rpc.Status``;
the SDK calls :func:`error_from_rpc` to turn a failed call back into the matching
:class:`cumulo.errors.CumuloError` subclass.  Adding an error class means adding
one row here.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2

from cumulo import errors
from cumulo.types.v1 import types_pb2

#: Domain error class -> status code.  Order matters only for subclasses (first match wins).
STATUS_OF: dict[type[errors.CumuloError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.QuotaExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    errors.DataCorruption: grpc.StatusCode.DATA_LOSS,
    errors.InternalError: grpc.StatusCode.INTERNAL,
}

#: Status code -> the error class the SDK raises (the inverse of STATUS_OF).
ERROR_OF: dict[grpc.StatusCode, type[errors.CumuloError]] = {
    code: cls for cls, code in STATUS_OF.items()
}
ERROR_OF[grpc.StatusCode.CANCELLED] = errors.Aborted
ERROR_OF[grpc.StatusCode.UNKNOWN] = errors.InternalError

#: Trailer that carries the google.rpc.Status with our ErrorDetail.
DETAILS_KEY = "grpc-status-details-bin"


def code_for(error: errors.CumuloError) -> grpc.StatusCode:
    """Return the status code of ``error`` according to :data:`STATUS_OF`."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return grpc.StatusCode.INTERNAL


def status_for(error: errors.CumuloError, request_id: str) -> tuple[grpc.StatusCode, str, bytes]:
    """Return ``(code, message, serialized google.rpc.Status)`` for ``error``."""
    code = code_for(error)
    detail = types_pb2.ErrorDetail(
        reason=error.reason, field=error.field, hint=error.hint, request_id=request_id
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    message = str(error)
    status = status_pb2.Status(code=code.value[0], message=message, details=[packed])
    return code, message, status.SerializeToString()


def _detail_from_trailers(metadata: object) -> types_pb2.ErrorDetail | None:
    for key, value in metadata or ():  # type: ignore[attr-defined]
        if key == DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for item in status.details:
                detail = types_pb2.ErrorDetail()
                if item.Unpack(detail):
                    return detail
    return None


class LocalCallError(grpc.RpcError):
    """A :class:`CumuloError` from an in-process call, shaped like a failed gRPC call.

    In-process stand-ins for stubs (a proxy calling its own node's servicers) raise
    it so their callers keep one ``except grpc.RpcError`` path for both;
    :func:`error_from_rpc` gives the original error back, unchanged."""

    def __init__(self, error: errors.CumuloError) -> None:
        super().__init__(str(error))
        self.error = error

    def code(self) -> grpc.StatusCode:
        return code_for(self.error)

    def details(self) -> str:
        return str(self.error)

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ()


def error_from_rpc(exc: grpc.RpcError) -> errors.CumuloError:
    """Translate a failed call into the matching :class:`CumuloError` subclass."""
    if isinstance(exc, LocalCallError):
        return exc.error
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = exc.details() if hasattr(exc, "details") else str(exc)
    trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    detail = _detail_from_trailers(trailers)
    cls = ERROR_OF.get(code, errors.InternalError)
    if detail is None:
        return cls(message or code.name, reason=code.name)
    # The server's message already includes the hint; keep both apart again.
    hint = detail.hint
    if hint and message.endswith(f" ({hint})"):
        message = message[: -len(hint) - 3]
    return cls(
        message,
        field=detail.field,
        reason=detail.reason,
        hint=hint,
        request_id=detail.request_id,
    )
