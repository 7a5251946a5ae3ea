"""Authentication and authorisation of object-proxy calls: ONE interceptor, one policy table.

:class:`ProxyAuthInterceptor` requires ``authorization: Bearer <token>`` on every
call except health and reflection, learns who the token stands for by asking the
controller (``cumulo.identity.v1.IdentityService/GetCaller``, token introspection
that any valid token may call), applies :data:`POLICY` (deny by default: a method
without a row is refused) and puts the :class:`ProxyCaller` in :data:`CALLER` for
the servicer.

Validated tokens are cached for ``ttl`` seconds (never past the token's expiry), so
a 4 KiB PUT does not pay a controller round-trip.  Consequence, documented in
docs/object-store.md: a revoked token, or a role taken away, keeps working on a
proxy that has it cached for at most ``ttl`` seconds.  Failures are not cached.

Project isolation is the servicer's ``account_of``: a caller only ever addresses
its own project's account; naming another project (``project_id``) needs a cloud
admin, and anyone else gets NOT_FOUND - nothing of another project, not even its
container names, is ever visible.

This module imports nothing of the controller: the proxy is a separate process and
talks to the controller only over its public API (``storage`` stands alone).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from cumulo.identity.v1 import identity_pb2, identity_pb2_grpc
from cumulo.rpc.handlers import binding, wrap_handler_in
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel
from storage.proxy.refresh import RefreshAhead

AUTHORIZATION_KEY = "authorization"
_OBJECT = "/cumulo.object.v1.ObjectService/"

#: Roles, strongest first; each implies the ones after it.
ROLES = ("admin", "member", "reader")

#: Full method name -> role needed on the caller's project ("" = open, no token).
POLICY: dict[str, str] = {
    "/grpc.health.v1.Health/Check": "",
    "/grpc.health.v1.Health/Watch": "",
    "/grpc.health.v1.Health/List": "",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": "",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "",
    _OBJECT + "GetAccount": "reader",
    _OBJECT + "ListContainers": "reader",
    _OBJECT + "GetContainer": "reader",
    _OBJECT + "CreateContainer": "member",
    _OBJECT + "UpdateContainerMetadata": "member",
    _OBJECT + "DeleteContainer": "member",
    _OBJECT + "PutObject": "member",
    _OBJECT + "GetObject": "reader",
    _OBJECT + "HeadObject": "reader",
    _OBJECT + "DeleteObject": "member",
    _OBJECT + "CopyObject": "member",
    _OBJECT + "ListObjects": "reader",
    _OBJECT + "PutSmallObject": "member",
    _OBJECT + "GetSmallObject": "reader",
    # Opening a session needs only "reader"; each of its operations is then checked
    # against the row of its unary method (OPERATION_CHECK).
    _OBJECT + "ObjectSession": "reader",
}

#: Streams whose operations are each authorised like their own unary call.
OPERATION_STREAMS = frozenset({_OBJECT + "ObjectSession"})


@dataclass(frozen=True)
class ProxyCaller:
    """Who a token stands for, as the controller said (see TokenInfo)."""

    token_id: str
    user_id: str
    project_id: str
    roles: frozenset[str]
    is_cloud_admin: bool
    allowed_methods: frozenset[str]
    expires_at: float  # epoch seconds
    #: The bearer token itself, for calls the proxy makes on the caller's behalf (quota).
    token: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles


CALLER: contextvars.ContextVar[ProxyCaller | None] = contextvars.ContextVar(
    "cumulo_proxy_caller", default=None
)


#: Inside an operation stream (OPERATION_STREAMS): ``await check(method)`` re-validates
#: the stream's token (from the cache, so a revoked token stops working as for unary
#: calls) and applies ``method``'s policy row; it returns the caller for that operation.
OperationCheck = Callable[[str], Awaitable["ProxyCaller"]]
OPERATION_CHECK: contextvars.ContextVar[OperationCheck | None] = contextvars.ContextVar(
    "cumulo_proxy_operation_check", default=None
)


def current_caller() -> ProxyCaller:
    caller = CALLER.get()
    if caller is None:
        raise errors.Unauthenticated("this call needs a token", reason="NO_TOKEN")
    return caller


def account_of(project_id: str) -> str:
    """The account a call addresses: the caller's project, or ``project_id`` for a cloud admin."""
    caller = current_caller()
    if not project_id or project_id == caller.project_id:
        return caller.project_id
    if caller.is_cloud_admin:
        return project_id
    raise errors.NotFound("no such account", field="project_id", reason="ACCOUNT_NOT_FOUND")


def bearer_token(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == AUTHORIZATION_KEY and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise errors.Unauthenticated(
        "this call needs a token",
        reason="NO_TOKEN",
        hint="log in with `cumulo login`, or send metadata 'authorization: Bearer <token>'",
    )


Introspect = Callable[[str], Awaitable[ProxyCaller]]


class ControllerIntrospection:
    """Validates tokens with the controller's GetCaller over one long-lived channel."""

    def __init__(self, address: str, timeout: float = 5.0, tls: Tls = PLAINTEXT) -> None:
        self.channel = aio_channel(address, tls)
        self.stub = identity_pb2_grpc.IdentityServiceStub(self.channel)
        self.timeout = timeout

    async def __call__(self, token: str) -> ProxyCaller:
        try:
            response = await self.stub.GetCaller(
                identity_pb2.GetCallerRequest(),
                metadata=((AUTHORIZATION_KEY, f"Bearer {token}"),),
                timeout=self.timeout,
            )
        except grpc.RpcError as exc:
            error = error_from_rpc(exc)
            if isinstance(error, errors.Unauthenticated | errors.PermissionDenied):
                raise errors.Unauthenticated(
                    error.message, reason=error.reason, hint=error.hint
                ) from None
            raise errors.Unavailable(
                f"cannot validate the token with the controller: {error}",
                reason="IDENTITY_UNAVAILABLE",
                hint="the controller is unreachable from the object proxy; retry later",
            ) from None
        info = response.info
        return ProxyCaller(
            token_id=info.id,
            user_id=info.user_id,
            project_id=info.project_id,
            roles=frozenset(info.roles),
            is_cloud_admin=info.is_cloud_admin,
            allowed_methods=frozenset(info.allowed_methods),
            expires_at=info.expires_at.seconds + info.expires_at.nanos / 1e9
            if info.HasField("expires_at")
            else time.time() + 3600,
            token=token,
        )

    async def close(self) -> None:
        await self.channel.close()


class TokenCache:
    """Positive results of ``introspect`` for ``ttl`` seconds, keyed by token (never past
    the token's own expiry).  A token in use is re-validated in the background before
    its entry expires (:class:`~storage.proxy.refresh.RefreshAhead`), so calls do not
    stall on the controller every ``ttl`` seconds; concurrent calls with a new token
    share one controller round-trip; failures are not cached."""

    def __init__(self, introspect: Introspect, ttl: float = 5.0, capacity: int = 100_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._cache: RefreshAhead[str, ProxyCaller] = RefreshAhead(
            introspect, ttl, capacity=capacity
        )

    async def __call__(self, token: str) -> ProxyCaller:
        caller = await self._cache.get(token)
        if caller.expires_at <= time.time():
            # The token itself expired while cached: ask again (the controller refuses it).
            self._cache.drop(token)
            caller = await self._cache.get(token)
        return caller


def authorize(role: str, caller: ProxyCaller, method: str) -> None:
    if caller.allowed_methods and method not in caller.allowed_methods:
        raise errors.PermissionDenied(
            f"this application credential may not call {method}",
            reason="METHOD_NOT_ALLOWED",
            hint="use a credential whose allowed methods include it",
        )
    if not caller.has_role(role):
        raise errors.PermissionDenied(
            f"{method} needs the {role} role on the project",
            hint="ask an admin of the project to grant it",
        )


class ProxyAuthInterceptor(aio.ServerInterceptor):
    """Token, policy row, role; see the module docstring."""

    def __init__(self, authenticate: Introspect, policy: dict[str, str] | None = None) -> None:
        self._authenticate = authenticate
        self._policy = POLICY if policy is None else policy

    async def _check_token(self, method: str, token: str) -> ProxyCaller:
        role = self._policy.get(method)
        if role is None:
            raise errors.PermissionDenied(
                f"{method} has no row in the proxy's policy table, so nobody may call it",
                reason="NO_POLICY",
            )
        caller = await self._authenticate(token)
        authorize(role, caller, method)
        return caller

    async def _check(self, method: str, context: aio.ServicerContext) -> ProxyCaller:
        return await self._check_token(method, bearer_token(context.invocation_metadata()))

    def _operation_check(self, context: aio.ServicerContext) -> OperationCheck:
        token = bearer_token(context.invocation_metadata())

        def check(method: str) -> Awaitable[ProxyCaller]:
            return self._check_token(method, token)

        return check

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if self._policy.get(method) == "":
            return handler
        return self._wrap(handler, method)

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        def resolve(context: aio.ServicerContext) -> Awaitable[Any]:
            return self._check(method, context)

        bind_caller = binding(CALLER, resolve)
        if method not in OPERATION_STREAMS:
            return wrap_handler_in(handler, bind_caller)

        async def checker(context: aio.ServicerContext) -> OperationCheck:
            return self._operation_check(context)

        bind_check = binding(OPERATION_CHECK, checker)

        @contextlib.asynccontextmanager
        async def both(context: aio.ServicerContext) -> AsyncIterator[None]:
            async with bind_caller(context), bind_check(context):
                yield

        return wrap_handler_in(handler, both)
