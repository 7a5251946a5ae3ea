"""The auth interceptor on every call shape, with real tokens from a real controller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc import aio

from controller.api.auth import AuthInterceptor, bearer_token
from controller.identity.caller import current_caller
from controller.policy import READER
from cumulo import errors
from cumulo.rpc.server import Service, start_server
from tests.helpers.identity import admin_token

POLICY = {
    "/test.Echo/Unary": READER,
    "/test.Echo/ServerStream": READER,
    "/test.Echo/ClientStream": READER,
    "/test.Echo/BidiStream": READER,
}


async def unary(request: bytes, context: aio.ServicerContext) -> bytes:
    return current_caller().user_name.encode()


async def server_stream(request: bytes, context: aio.ServicerContext) -> AsyncIterator[bytes]:
    for _ in range(2):
        await asyncio.sleep(0)
        yield current_caller().user_name.encode()


async def client_stream(requests: AsyncIterator[bytes], context: aio.ServicerContext) -> bytes:
    count = 0
    async for _ in requests:
        count += 1
    return f"{current_caller().user_name}:{count}".encode()


async def bidi_stream(
    requests: AsyncIterator[bytes], context: aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for item in requests:
        yield current_caller().user_name.encode() + b":" + item


def _add(servicer: Any, server: aio.Server) -> None:
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Echo",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary),
                    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
                    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
                    "BidiStream": grpc.stream_stream_rpc_method_handler(bidi_stream),
                },
            ),
        )
    )


@pytest.fixture
def echo(controller, background_loop):  # type: ignore[no-untyped-def]
    async def authenticate(token: str) -> Any:
        return await asyncio.to_thread(controller.identity.authenticate, token)

    running = background_loop.run(
        start_server(
            "127.0.0.1:0",
            [Service("test.Echo", None, _add)],
            interceptors=[AuthInterceptor(authenticate, POLICY)],
        )
    )
    yield running.address
    background_loop.run(running.server.stop(0.1))


def test_every_call_shape_is_authenticated_and_sees_its_caller(controller, echo) -> None:  # type: ignore[no-untyped-def]
    token = admin_token(controller.address)
    good = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(echo) as channel:
        calls = {
            "unary": lambda md: channel.unary_unary("/test.Echo/Unary")(
                b"", metadata=md, timeout=10
            ),
            "server": lambda md: list(
                channel.unary_stream("/test.Echo/ServerStream")(b"", metadata=md, timeout=10)
            ),
            "client": lambda md: channel.stream_unary("/test.Echo/ClientStream")(
                iter([b"a", b"b", b"c"]), metadata=md, timeout=10
            ),
            "bidi": lambda md: list(
                channel.stream_stream("/test.Echo/BidiStream")(
                    iter([b"1", b"2"]), metadata=md, timeout=10
                )
            ),
        }
        assert calls["unary"](good) == b"admin"
        assert calls["server"](good) == [b"admin", b"admin"]
        assert calls["client"](good) == b"admin:3"
        assert calls["bidi"](good) == [b"admin:1", b"admin:2"]
        for name, call in calls.items():
            for metadata in ([], [("authorization", "Bearer forged")], [("authorization", token)]):
                with pytest.raises(grpc.RpcError) as caught:
                    call(metadata)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, (name, metadata)


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ([("authorization", "Bearer abc")], "abc"),
        ([("authorization", "bearer   abc ")], "abc"),
        ([("x", "y"), ("authorization", "BEARER abc")], "abc"),
    ],
)
def test_bearer_token_parsing(metadata: list[tuple[str, str]], token: str) -> None:
    assert bearer_token(metadata) == token


@pytest.mark.parametrize(
    "metadata",
    [[], [("authorization", "Basic abc")], [("authorization", "Bearer ")], [("auth", "Bearer a")]],
)
def test_missing_bearer_token(metadata: list[tuple[str, str]]) -> None:
    with pytest.raises(errors.Unauthenticated) as caught:
        bearer_token(metadata)
    assert caught.value.reason == "NO_TOKEN"


def test_unknown_user_is_hashed_against_the_dummy(controller, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Timing does not tell whether a user exists: both paths run scrypt at the same cost."""
    from controller.identity import passwords, service

    checked: list[str] = []
    real = passwords.verify_password

    def spy(password: str, stored: str) -> bool:
        checked.append(stored.split("$")[1])
        return real(password, stored)

    monkeypatch.setattr(service.passwords, "verify_password", spy)
    for user in ("admin", "no-such-user"):
        with pytest.raises(errors.Unauthenticated):
            controller.identity.issue_with_password(user, "wrong-password-1", "admin", "", "x")
    assert checked == [str(controller.config.identity.password_hash_log_n)] * 2


def test_node_credential_methods_pass_through_without_a_caller(background_loop) -> None:  # type: ignore[no-untyped-def]
    """NODE_CREDENTIAL: no user token is asked for; the service checks its own credential."""
    from controller.identity.caller import CALLER
    from controller.policy import NODE_CREDENTIAL

    seen: list[object] = []

    async def node_only(request: bytes, context: aio.ServicerContext) -> bytes:
        seen.append(CALLER.get())
        if request != b"enrollment-secret":
            raise errors.Unauthenticated("not an enrolled node")
        return b"welcome"

    def add(servicer: Any, server: aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.Node", {"Connect": grpc.unary_unary_rpc_method_handler(node_only)}
                ),
            )
        )

    async def authenticate(token: str) -> Any:
        raise AssertionError("user tokens are not looked at for node-credential methods")

    running = background_loop.run(
        start_server(
            "127.0.0.1:0",
            [Service("test.Node", None, add)],
            interceptors=[AuthInterceptor(authenticate, {"/test.Node/Connect": NODE_CREDENTIAL})],
        )
    )
    try:
        with grpc.insecure_channel(running.address) as channel:
            connect = channel.unary_unary("/test.Node/Connect")
            assert connect(b"enrollment-secret", timeout=10) == b"welcome"
            with pytest.raises(grpc.RpcError) as caught:
                connect(b"stranger", timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert seen == [None, None]
    finally:
        background_loop.run(running.server.stop(0.1))
