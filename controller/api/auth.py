"""The authentication interceptor: every call is checked against the policy table.

For each call it finds the method's row in :data:`controller.policy.POLICY`:

* no row: the call is refused with PERMISSION_DENIED (deny by default);
* ``OPEN`` or ``NODE_CREDENTIAL``: the handler runs untouched (no caller is set;
  a node-credential service checks its own credential);
* otherwise the ``authorization: Bearer <token>`` metadata is required
  (UNAUTHENTICATED without it), the token is checked against the database by
  the identity service, the rule is applied (PERMISSION_DENIED when the role is
  missing or an application credential is not allowed this method), and the
  :class:`~controller.identity.caller.Caller` is put in
  :data:`~controller.identity.caller.CALLER` for the servicer.

It runs inside :class:`cumulo.rpc.interceptors.ApiInterceptor`, whose wrapper
calls the handler this interceptor returns, so the errors raised here are
mapped to status codes like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from controller.identity.caller import CALLER, Caller
from controller.policy import POLICY, Rule, authorize
from cumulo import errors
from cumulo.rpc.handlers import binding, wrap_handler_in

AUTHORIZATION_KEY = "authorization"

#: ``authenticate(token) -> Caller`` (the identity service, run off the event loop).
Authenticate = Callable[[str], Awaitable[Caller]]


def bearer_token(metadata: Any) -> str:
    """The token in ``authorization: Bearer <token>``; UNAUTHENTICATED when absent."""
    for key, value in metadata or ():
        if key == AUTHORIZATION_KEY and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise errors.Unauthenticated(
        "this call needs a token",
        reason="NO_TOKEN",
        hint="log in with `cumulo login`, or send metadata 'authorization: Bearer <token>' "
        "(IdentityService/IssueToken gives one)",
    )


class AuthInterceptor(aio.ServerInterceptor):
    """Authenticate and authorise every call; see the module docstring."""

    def __init__(self, authenticate: Authenticate, policy: dict[str, Rule] | None = None) -> None:
        self._authenticate = authenticate
        self._policy = POLICY if policy is None else policy

    async def _check(self, method: str, rule: Rule | None, context: aio.ServicerContext) -> Caller:
        if rule is None:
            raise errors.PermissionDenied(
                f"{method} has no row in the policy table, so nobody may call it",
                reason="NO_POLICY",
                hint="this is a server defect: the operator must add a row to controller/policy.py",
            )
        caller = await self._authenticate(bearer_token(context.invocation_metadata()))
        authorize(rule, caller, method)
        return caller

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rule = self._policy.get(method)
        if rule is not None and rule.kind in ("open", "node_credential"):
            return handler
        return self._wrap(handler, method, rule)

    def _wrap(
        self, handler: grpc.RpcMethodHandler, method: str, rule: Rule | None
    ) -> grpc.RpcMethodHandler:
        def resolve(context: aio.ServicerContext) -> Awaitable[Any]:
            return self._check(method, rule, context)

        return wrap_handler_in(handler, binding(CALLER, resolve))
