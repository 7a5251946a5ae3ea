"""Replacing how a server parses one method's requests or writes its responses.

The generated ``add_*Servicer_to_server`` functions give each method the message
class's ``FromString`` and ``SerializeToString``.  A hot method may need more: the
object proxy's ``ObjectSession`` writes its responses as wire bytes it assembled
itself (no protobuf copy of the data) and reads its requests together with each
operation's encoded size (storage/proxy/session.py).  :class:`CodecInterceptor`
swaps the deserializer and/or serializer of the methods it is given and leaves
every other method alone.

Put it after the ``ApiInterceptor`` (``start_server(..., interceptors=[...,
CodecInterceptor(...)])``): the ApiInterceptor then parses requests with the
replaced deserializer, so a body it cannot parse is still ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio


@dataclass(frozen=True)
class Codec:
    """A method's replacement deserializer and serializer (None: keep the generated one)."""

    request_deserializer: Callable[[bytes], Any] | None = None
    response_serializer: Callable[[Any], bytes] | None = None


class CodecInterceptor(aio.ServerInterceptor):
    """Give the methods in ``codecs`` (full names, ``/package.Service/Method``) their
    :class:`Codec`; other methods pass unchanged."""

    def __init__(self, codecs: Mapping[str, Codec]) -> None:
        self._codecs = dict(codecs)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        codec = self._codecs.get(handler_call_details.method)
        if handler is None or codec is None:
            return handler
        # grpc's method handlers are named tuples.
        return handler._replace(  # type: ignore[attr-defined,no-any-return]
            request_deserializer=codec.request_deserializer or handler.request_deserializer,
            response_serializer=codec.response_serializer or handler.response_serializer,
        )
