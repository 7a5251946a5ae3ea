"""The proxy's token cache and account resolution."""

from __future__ import annotations

import asyncio
import time

import pytest

from cumulo import errors
from storage.proxy.auth import CALLER, POLICY, ProxyCaller, TokenCache, account_of


def caller(project: str = "p1", *, admin: bool = False, expires_in: float = 3600) -> ProxyCaller:
    return ProxyCaller(
        "tok", "user", project, frozenset({"reader"}), admin, frozenset(), time.time() + expires_in
    )


def test_positive_answers_are_cached_for_the_ttl_and_failures_are_not() -> None:
    calls: list[str] = []

    async def introspect(token: str) -> ProxyCaller:
        calls.append(token)
        await asyncio.sleep(0.01)
        if token == "bad":
            raise errors.Unauthenticated("no")
        return caller()

    async def run() -> None:
        cache = TokenCache(introspect, ttl=0.2)
        # Concurrent first uses of one token share one controller round-trip.
        await asyncio.gather(*(cache("good") for _ in range(5)))
        assert calls == ["good"]
        await cache("good")
        assert calls == ["good"]
        for _ in range(2):
            with pytest.raises(errors.Unauthenticated):
                await cache("bad")
        assert calls.count("bad") == 2
        await asyncio.sleep(0.25)
        await cache("good")
        assert calls.count("good") == 2

    asyncio.run(run())


def test_an_expired_token_is_not_served_from_the_cache() -> None:
    answers = [caller(expires_in=-1), caller()]

    async def introspect(token: str) -> ProxyCaller:
        return answers.pop(0)

    async def run() -> None:
        cache = TokenCache(introspect, ttl=60)
        await cache("t")
        await cache("t")
        assert not answers

    asyncio.run(run())


def test_account_is_the_callers_project_unless_a_cloud_admin_names_another() -> None:
    token = CALLER.set(caller("p1"))
    try:
        assert account_of("") == "p1" and account_of("p1") == "p1"
        with pytest.raises(errors.NotFound):
            account_of("p2")
    finally:
        CALLER.reset(token)
    token = CALLER.set(caller("admin-project", admin=True))
    try:
        assert account_of("p2") == "p2"
    finally:
        CALLER.reset(token)


def test_every_write_needs_member_and_every_read_reader() -> None:
    rows = {m.rsplit("/", 1)[1]: r for m, r in POLICY.items() if "cumulo.object.v1" in m}
    reads = {"GetAccount", "ListContainers", "GetContainer", "GetObject", "GetSmallObject"}
    # A session opens with "reader"; each of its operations needs its unary method's role.
    reads |= {"HeadObject", "ObjectSession"}
    for method, role in rows.items():
        expected = "reader" if method in reads | {"ListObjects"} else "member"
        assert role == expected, method


def test_session_operations_are_checked_against_their_unary_rows() -> None:
    from storage.proxy.auth import OPERATION_STREAMS
    from storage.proxy.session import METHOD_OF

    assert set(POLICY) >= OPERATION_STREAMS
    # Every kind of operation names a unary method with a row of its own.
    assert set(METHOD_OF.values()) <= set(POLICY)
    assert POLICY[METHOD_OF["put"]] == POLICY[METHOD_OF["delete"]] == "member"
    assert POLICY[METHOD_OF["get"]] == POLICY[METHOD_OF["head"]] == "reader"
