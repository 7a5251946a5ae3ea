"""One channel to several servers of a service (``HOST:PORT,HOST:PORT``): round robin.

The object API of ``cumulo up`` is served by every storage node and its endpoint
lists them all; these tests prove that such an address spreads calls over the
servers, skips one that is down, works with TLS, and that a malformed list is
refused with advice.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cumulo import errors
from cumulo.rpc.server import RunningServer, start_server
from cumulo.rpc.tls import PLAINTEXT, Tls, channel, channel_target, split_addresses
from tests.helpers.servers import BackgroundLoop
from tests.helpers.tls import make_pki


class _Count(aio.ServerInterceptor):
    """Counts the calls one server received."""

    def __init__(self, tally: collections.Counter[str], name: str) -> None:
        self.tally = tally
        self.name = name

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        self.tally[self.name] += 1
        return await continuation(handler_call_details)


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.close()


def _start(
    loop: BackgroundLoop, count: int, tally: collections.Counter[str], tls: Tls = PLAINTEXT
) -> list[RunningServer]:
    return [
        loop.run(start_server("127.0.0.1:0", [], interceptors=[_Count(tally, str(n))], tls=tls))
        for n in range(count)
    ]


def _check(address: str, calls: int, tls: Tls = PLAINTEXT) -> None:
    with channel(address, tls) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for _ in range(calls):
            answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=True)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_one_address_is_used_as_it_is() -> None:
    assert channel_target("127.0.0.1:5000") == ("127.0.0.1:5000", [])
    assert channel_target("controller.example:5000") == ("controller.example:5000", [])


def test_a_list_becomes_a_round_robin_target() -> None:
    target, options = channel_target("127.0.0.1:1, 127.0.0.1:2,127.0.0.1:3")
    assert target == "ipv4:127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
    assert ("grpc.lb_policy_name", "round_robin") in options
    assert ("grpc.default_authority", "127.0.0.1:1") in options
    assert channel_target("[::1]:1,[::1]:2")[0] == "ipv6:[::1]:1,[::1]:2"
    assert split_addresses("a:1,,b:2 ") == ["a:1", "b:2"]


def test_a_list_mixing_address_families_is_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="mix IPv4 and IPv6"):
        channel_target("127.0.0.1:1,[::1]:2")


def test_calls_spread_over_every_server(loop: BackgroundLoop) -> None:
    tally: collections.Counter[str] = collections.Counter()
    servers = _start(loop, 3, tally)
    try:
        _check(",".join(s.address for s in servers), 30)
        assert sorted(tally) == ["0", "1", "2"]
        assert all(count >= 5 for count in tally.values()), tally
    finally:
        for server in servers:
            loop.run(server.server.stop(0))


def test_a_server_that_is_down_is_skipped(loop: BackgroundLoop) -> None:
    tally: collections.Counter[str] = collections.Counter()
    servers = _start(loop, 2, tally)
    address = ",".join(s.address for s in servers)
    loop.run(servers[1].server.stop(0))
    try:
        _check(address, 10)
        assert tally == {"0": 10}
    finally:
        loop.run(servers[0].server.stop(0))


def test_a_list_works_with_tls(loop: BackgroundLoop, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    tally: collections.Counter[str] = collections.Counter()
    servers = _start(loop, 2, tally, tls=pki.tls())
    try:
        _check(",".join(s.address for s in servers), 10, tls=pki.tls(with_cert=False))
        assert sorted(tally) == ["0", "1"]
    finally:
        for server in servers:
            loop.run(server.server.stop(0))
