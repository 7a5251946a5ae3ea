"""Server-side interceptors shared by every Cumulo gRPC server.

:class:`ApiInterceptor` wraps every handler (all four call shapes) to:

1. give the call a request id (the caller's ``x-request-id`` if it is sane, else a
   new one), expose it through :data:`REQUEST_ID` and return it in the trailers;
2. parse request bytes itself, so a body that is not a valid message becomes
   ``INVALID_ARGUMENT`` naming the expected type (grpcio would say ``INTERNAL``);
3. map :class:`cumulo.errors.CumuloError` through the table in
   :mod:`cumulo.rpc.status`, and any other exception to ``INTERNAL`` with the
   request id but no traceback (the traceback goes to the server's log);
4. log one line per call: method, status, duration, request id, peer.

Authentication is a separate interceptor placed inside this one, so its errors
are mapped here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from cumulo.rpc.handlers import wrap_handler_in
from cumulo.rpc.status import DETAILS_KEY, status_for

log = logging.getLogger("cumulo.rpc")

#: The current call's request id ("" outside a call).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("cumulo_request_id", default="")

REQUEST_ID_KEY = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

Deserializer = Callable[[bytes], Any]


class _RequestIds:
    """Request ids for calls that bring none: 32 hex digits, a random per-process
    prefix and a counter.  Unique (which is all a log needs: they are not secrets)
    without a ``getrandom`` system call per request, as ``uuid4`` would make."""

    def __init__(self) -> None:
        self._reset()
        # A forked child must not repeat its parent's ids.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_new_request_id = _RequestIds().next


def _request_id_from(context: aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _SANE_REQUEST_ID.match(value):
            return value
    return _new_request_id()


def _parse(deserializer: Deserializer | None, raw: Any, method: str) -> Any:
    if deserializer is None or not isinstance(raw, bytes):
        return raw
    try:
        return deserializer(raw)
    except Exception as exc:
        raise errors.InvalidArgument(
            f"the request body is not a valid message for {method}: {exc}",
            reason="MALFORMED_REQUEST",
            hint="send the request type that `grpcurl describe` shows for this method",
        ) from None


class _Call:
    """Bookkeeping for one call: request id, timing, the status it ended with."""

    def __init__(self, method: str, context: aio.ServicerContext, quiet: bool = False) -> None:
        self.method = method
        self.context = context
        #: Logged at DEBUG when it succeeds (machine-to-machine chatter).
        self.quiet = quiet
        self.request_id = _request_id_from(context)
        # Read now: context.peer() on a call the client has cancelled (an abandoned
        # stream) crashes grpcio's C core, and finish() runs after that.
        self.peer = context.peer()
        self.token = REQUEST_ID.set(self.request_id)
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK
        context.set_trailing_metadata(((REQUEST_ID_KEY, self.request_id),))

    async def fail(self, exc: BaseException) -> None:
        """Abort the call with the status ``exc`` maps to (never returns)."""
        if isinstance(exc, errors.CumuloError):
            error = exc
        else:
            log.exception(
                "unhandled error in %s [request %s]", self.method, self.request_id, exc_info=exc
            )
            error = errors.InternalError(
                f"internal error while handling {self.method} (request id {self.request_id})",
                hint="this is a server fault, not your request; the operator's log has details",
            )
        code, message, details = status_for(error, self.request_id)
        self.code = code
        await self.context.abort(
            code,
            message,
            trailing_metadata=((REQUEST_ID_KEY, self.request_id), (DETAILS_KEY, details)),
        )

    async def __aenter__(self) -> _Call:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        """Map a failure to its status (re-raising as an abort), then log the call."""
        try:
            if isinstance(exc, asyncio.CancelledError):
                self.code = grpc.StatusCode.CANCELLED
            elif isinstance(exc, aio.AbortError):
                self.code = self.context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[assignment]
            elif isinstance(exc, Exception):
                await self.fail(exc)
            return False
        finally:
            self.finish()

    def finish(self) -> None:
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        level = logging.DEBUG if self.quiet and self.code == grpc.StatusCode.OK else logging.INFO
        log.log(
            level,
            "%s %s %.1fms request=%s peer=%s",
            self.method,
            self.code.name,
            elapsed_ms,
            self.request_id,
            self.peer,
        )
        # A stream handler closed from another task (the client cancelled) finishes in
        # another Context, where this call never set the variable: nothing to undo.
        with contextlib.suppress(ValueError):
            REQUEST_ID.reset(self.token)


async def _parsed_stream(
    requests: AsyncIterator[Any], deserializer: Deserializer | None, method: str
) -> AsyncIterator[Any]:
    async for raw in requests:
        yield _parse(deserializer, raw, method)


def wrap_handler(
    handler: grpc.RpcMethodHandler, method: str, quiet: bool = False
) -> grpc.RpcMethodHandler:
    """Return ``handler`` with request ids, parsing, error mapping and logging added
    (``quiet``: a successful call is logged at DEBUG, not INFO)."""
    deserializer = handler.request_deserializer

    def parse(request: Any, streaming: bool) -> Any:
        if streaming:
            return _parsed_stream(request, deserializer, method)
        return _parse(deserializer, request, method)

    return wrap_handler_in(handler, lambda context: _Call(method, context, quiet), parse)


class ApiInterceptor(aio.ServerInterceptor):
    """Request ids, malformed-message handling, error mapping and access logs.

    Methods starting with one of ``quiet_prefixes`` (background traffic such as a
    replication pass's thousands of calls) are logged at DEBUG when they succeed;
    failures are always logged at INFO.
    """

    def __init__(self, quiet_prefixes: Sequence[str] = ()) -> None:
        self.quiet_prefixes = tuple(quiet_prefixes)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return wrap_handler(handler, method, method.startswith(self.quiet_prefixes))
