"""Wrapping a gRPC method handler of any call shape in an async context.

Server interceptors here all need the same thing: run some set-up before a
handler, some clean-up after it, on all four call shapes (unary or streaming
request, unary or streaming response), without breaking streaming responses.
:func:`wrap_handler_in` does that once:

* ``around(context)`` returns an async context manager entered before the
  handler runs and exited after the last response (its ``__aexit__`` sees any
  exception, so it can map errors or reset context variables);
* ``parse``, when given, replaces the request deserializer: the handler receives
  raw bytes from grpcio and ``parse(request, streaming)`` turns them into
  messages (so a malformed body can be reported as the caller's mistake);
* a streaming handler's async generator is closed as soon as the call ends, so
  its clean-up (open files, in-flight work) runs at once when the client cancels,
  not whenever the generator is garbage-collected.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import grpc
from grpc import aio

T = TypeVar("T")

Around = Callable[[aio.ServicerContext], AbstractAsyncContextManager[Any]]
Parse = Callable[[Any, bool], Any]


def wrap_handler_in(
    handler: grpc.RpcMethodHandler, around: Around, parse: Parse | None = None
) -> grpc.RpcMethodHandler:
    """Return ``handler`` running inside ``around(context)``; see the module docstring."""

    def unary_response(
        behavior: Callable[..., Awaitable[Any]], streaming_request: bool
    ) -> Callable[..., Awaitable[Any]]:
        async def handle(request: Any, context: aio.ServicerContext) -> Any:
            async with around(context):
                if parse is not None:
                    request = parse(request, streaming_request)
                return await behavior(request, context)

        return handle

    def stream_response(
        behavior: Callable[..., Any], streaming_request: bool
    ) -> Callable[..., AsyncIterator[Any]]:
        async def handle(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            async with around(context):
                if parse is not None:
                    request = parse(request, streaming_request)
                result = behavior(request, context)
                if not inspect.isasyncgen(result):
                    await result  # a handler that writes with context.write()
                    return
                try:
                    async for item in result:
                        yield item
                finally:
                    await result.aclose()

        return handle

    options = {
        "request_deserializer": None if parse is not None else handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary_response(handler.unary_unary, False), **options
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary_response(handler.stream_unary, True), **options
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            stream_response(handler.unary_stream, False), **options
        )
    return grpc.stream_stream_rpc_method_handler(
        stream_response(handler.stream_stream, True), **options
    )


def binding(
    variable: contextvars.ContextVar[T], resolve: Callable[[aio.ServicerContext], Awaitable[T]]
) -> Around:
    """An ``around`` that sets ``variable`` to ``await resolve(context)`` for the call.

    This is how authentication interceptors hand the caller to servicers; an
    exception from ``resolve`` (say ``Unauthenticated``) fails the call before
    the handler runs.
    """

    @contextlib.asynccontextmanager
    async def bound(context: aio.ServicerContext) -> AsyncIterator[None]:
        token = variable.set(await resolve(context))
        try:
            yield
        finally:
            # A cancelled stream may finish in another context: nothing to undo there.
            with contextlib.suppress(ValueError):
                variable.reset(token)

    return bound
