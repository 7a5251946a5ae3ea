"""Authentication of object-server calls: the cluster's storage credential, or nothing.

:class:`StorageCredentialInterceptor` lets a call through only when its metadata
carries ``x-cumulo-storage-credential`` equal to the cluster's credential
(compared in constant time, so timing reveals nothing about it).  Health checks
and reflection stay open so load balancers and grpcurl work without the secret.

It sits inside the ApiInterceptor (``start_server(..., interceptors=[...])``), so
instead of raising while routing - which grpc would report as UNKNOWN - it
returns a handler of the same call shape that raises
:class:`cumulo.errors.Unauthenticated`, which the ApiInterceptor maps.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from storage.credential import CREDENTIAL_KEY

#: Methods any caller may use: the standard health service and server reflection.
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _deny(message: str) -> Callable[..., Awaitable[Any]]:
    async def deny(_request: Any, _context: aio.ServicerContext) -> Any:
        raise errors.Unauthenticated(
            message,
            reason="STORAGE_CREDENTIAL_REQUIRED",
            hint=f"send the cluster's storage credential in the {CREDENTIAL_KEY} metadata",
        )

    return deny


def _denying_handler(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    deny = _deny(message)
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny, **kwargs)
    return grpc.stream_stream_rpc_method_handler(deny, **kwargs)


class StorageCredentialInterceptor(aio.ServerInterceptor):
    """Refuse every call without the cluster's storage credential (UNAUTHENTICATED)."""

    def __init__(self, credential: str) -> None:
        if not credential:
            raise ValueError("an empty storage credential would let anyone in")
        self._expected = credential.encode("utf-8")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        presented: bytes | None = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == CREDENTIAL_KEY:
                presented = value.encode("utf-8") if isinstance(value, str) else value
        if presented is None:
            return _denying_handler(handler, "this object server requires the storage credential")
        if not hmac.compare_digest(presented, self._expected):
            return _denying_handler(handler, "the storage credential is not this cluster's")
        return handler
