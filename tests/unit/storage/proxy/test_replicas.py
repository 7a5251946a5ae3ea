"""NodeIter order and the quorum logic of ReplicaIO, against fake storage nodes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from storage.proxy.placement import NodeIter, NodePool
from storage.proxy.replicas import ReplicaIO
from storage.ring import Ring, RingBuilder


@pytest.fixture
def ring(tmp_path: Path) -> Ring:
    builder = RingBuilder(4, 3, min_part_hours=0)
    for node in range(4):
        for device in ("d1", "d2"):
            builder.add_device(
                region=1, zone=node + 1, ip="127.0.0.1", port=7000 + node, device=device, weight=1
            )
    builder.rebalance()
    builder.write_ring(tmp_path / "r.ring")
    return Ring(tmp_path / "r.ring")


def test_node_iter_yields_primaries_in_order_then_handoffs(ring: Ring) -> None:
    part = 5
    primaries = ring.get_part_nodes(part)
    handoffs = ring.get_more_nodes(part)
    nodes = list(NodeIter(ring, part))
    assert nodes[:3] == primaries
    assert nodes[3:] == handoffs
    assert not set(d.id for d in primaries) & set(d.id for d in handoffs)


def test_node_iter_tries_suspect_servers_last(ring: Ring) -> None:
    pool = NodePool("credential-0123456789abcdef")
    part = 5
    primaries = ring.get_part_nodes(part)
    pool.failed(primaries[0].server)
    order = list(NodeIter(ring, part, pool))
    # The suspect primary moves behind the healthy primaries but before every handoff.
    assert order[:3] == [primaries[1], primaries[2], primaries[0]]
    tail = [d for d in order[3:] if d.server == primaries[0].server]
    assert order[-len(tail) :] == tail


class FakeSession:
    def __init__(self, node: FakeNodes, server: str) -> None:
        self.node = node
        self.server = server

    async def put_object(self, location: Any, timestamp: str, data: bytes, **_: Any) -> Any:
        self.node.calls.append((self.server, location.device))
        failure = self.node.failures.get(self.server)
        if failure is not None:
            raise failure
        await asyncio.sleep(0)
        return spb.ObjectMetadata(object=location.object, timestamp=timestamp, size=len(data))

    async def put_object_listed(
        self, location: Any, timestamp: str, data: bytes, **options: Any
    ) -> Any:
        then_list = options.get("then_list")
        self.node.listings.append((self.server, then_list))
        stored = await self.put_object(location, timestamp, data)
        response = spb.PutObjectResponse(object=stored)
        if then_list is not None:
            response.listing.applied = self.server not in self.node.unlisted
        return response


class FakeNodes(NodePool):
    """A NodePool whose sessions are fakes: per server, succeed or raise a given error."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        super().__init__("credential-0123456789abcdef")
        self.failures = failures
        self.calls: list[tuple[str, str]] = []
        #: (server, the ListingUpdate its write carried or None), per put_object_listed.
        self.listings: list[tuple[str, Any]] = []
        #: Servers that store objects but do not apply listing updates.
        self.unlisted: set[str] = set()

    def session(self, address: str) -> Any:
        return FakeSession(self, address)


def put(ring: Ring, pool: FakeNodes) -> spb.ObjectMetadata:
    io = ReplicaIO(ring, pool, node_timeout=5)

    async def run() -> spb.ObjectMetadata:
        result = await io.put_small("acct", "cont", "obj", "1732712345.00000_0000", b"data")
        await io.drain()
        return result

    return asyncio.run(run())


def test_all_primaries_written_and_a_quorum_is_enough(ring: Ring) -> None:
    pool = FakeNodes({})
    assert put(ring, pool).size == 4
    part = ring.get_part("acct", "cont", "obj")
    assert sorted(pool.calls) == sorted((d.server, d.device) for d in ring.get_part_nodes(part))


def test_a_down_primary_is_replaced_by_a_handoff(ring: Ring) -> None:
    part = ring.get_part("acct", "cont", "obj")
    down = ring.get_part_nodes(part)[1].server
    pool = FakeNodes({down: errors.Unavailable("connection refused")})
    put(ring, pool)
    written = {(s, d) for s, d in pool.calls if s != down}
    assert len(written) == 3  # two primaries plus the first handoff not on the down server
    assert pool.suspect(down)


def test_a_client_fault_fails_at_once_and_is_not_retried(ring: Ring) -> None:
    part = ring.get_part("acct", "cont", "obj")
    bad = errors.InvalidArgument("checksum", reason="CHECKSUM_MISMATCH")
    pool = FakeNodes({d.server: bad for d in ring.get_part_nodes(part)})
    with pytest.raises(errors.InvalidArgument):
        put(ring, pool)
    assert len(pool.calls) == 3


def test_without_a_quorum_the_write_is_unavailable(ring: Ring) -> None:
    failures: dict[str, BaseException] = {
        f"127.0.0.1:{7000 + n}": errors.Unavailable("down") for n in range(4)
    }
    pool = FakeNodes(failures)
    with pytest.raises(errors.Unavailable) as refused:
        put(ring, pool)
    assert refused.value.reason == "QUORUM_NOT_REACHED"
    assert len(pool.calls) == 8  # every primary and every handoff was tried once


def test_replicas_on_one_server_are_not_a_quorum(ring: Ring) -> None:
    # Four servers of two devices: with all but one down, the handoffs land on the
    # survivor's two devices - two replicas, one server, so not durable on two nodes.
    survivor = "127.0.0.1:7000"
    failures: dict[str, BaseException] = {
        f"127.0.0.1:{7000 + n}": errors.Unavailable("down") for n in range(1, 4)
    }
    pool = FakeNodes(failures)
    with pytest.raises(errors.Unavailable) as refused:
        put(ring, pool)
    assert refused.value.reason == "QUORUM_NOT_REACHED"
    assert "only 1 server" in refused.value.message
    assert {d for s, d in pool.calls if s == survivor} == {"d1", "d2"}


def test_a_one_server_ring_still_takes_writes(tmp_path: Path) -> None:
    builder = RingBuilder(4, 3, min_part_hours=0)
    for device in ("d1", "d2", "d3"):
        builder.add_device(region=1, zone=1, ip="127.0.0.1", port=7000, device=device, weight=1)
    builder.rebalance()
    builder.write_ring(tmp_path / "one.ring")
    pool = FakeNodes({})
    assert put(Ring(tmp_path / "one.ring"), pool).size == 4
    assert sorted(d for _, d in pool.calls) == ["d1", "d2", "d3"]


VERSION = "1732712345.00000_0000"
BIG = bytes(range(256)) * 12_000  # ~3 MiB: too large for a session GET


class FakeStreamingNodes(FakeNodes):
    """Sessions answer HEAD and refuse GETs as too large; streams fail mid-way on ``broken``."""

    def __init__(self, broken: set[str]) -> None:
        super().__init__({})
        self.broken = broken
        self.opened: list[tuple[str, int]] = []

    def session(self, address: str) -> Any:
        class Session:
            async def get_object(self, location: Any, start: Any, end: Any) -> Any:
                raise errors.Conflict("too large", reason="USE_GET_OBJECT")

            async def head_object(
                self, location: Any, include_deleted: bool = False, timestamp_only: bool = False
            ) -> Any:
                return spb.HeadObjectResponse(
                    object=spb.ObjectMetadata(timestamp=VERSION, size=len(BIG))
                )

        return Session()

    def client(self, address: str) -> Any:
        nodes = self

        class Client:
            async def get_object(self, location: Any, start: Any, end: Any) -> Any:
                first = start or 0
                last = len(BIG) if end is None else end
                nodes.opened.append((address, first))
                header = spb.GetObjectHeader(
                    object=spb.ObjectMetadata(timestamp=VERSION, size=len(BIG)),
                    start=first,
                    end=last,
                )

                async def body() -> Any:
                    for at in range(first, last, 1 << 20):
                        if address in nodes.broken and at > first:
                            raise errors.Unavailable("connection reset")
                        yield BIG[at : min(at + (1 << 20), last)]

                return header, body()

        return Client()


def test_a_get_resumes_on_another_replica_when_its_node_fails(ring: Ring) -> None:
    part = ring.get_part("acct", "cont", "obj")
    first = ring.get_part_nodes(part)[0].server
    pool = FakeStreamingNodes({first})
    io = ReplicaIO(ring, pool, node_timeout=5)

    async def run() -> bytes:
        _header, body = await io.get("acct", "cont", "obj")
        return b"".join([piece async for piece in body])

    assert asyncio.run(run()) == BIG
    assert pool.opened[0] == (first, 0)
    assert pool.opened[-1][0] != first and pool.opened[-1][1] == 1 << 20  # resumed there


OLD, NEW = "1732712345.00000_0000", "1732712399.00000_0000"


class FakeVersionedNodes(NodePool):
    """Each device holds one version of the object: ``versions[device id]``."""

    def __init__(self, ring: Ring, versions: dict[int, str]) -> None:
        super().__init__("credential-0123456789abcdef")
        self.ring = ring
        self.versions = versions
        self.version_heads = 0
        #: The server of the call being answered (set right before each lookup).
        self._server = ""

    def _version(self, location: Any) -> str:
        for device in self.ring.devices:
            if device and device.device == location.device and device.server == self._server:
                return self.versions[device.id]
        raise AssertionError(location)

    def session(self, address: str) -> Any:
        nodes = self

        class Session:
            def _stamp(self, location: Any) -> str:
                nodes._server = address
                return nodes._version(location)

            async def get_object(self, location: Any, start: Any, end: Any) -> Any:
                stamp = self._stamp(location)
                return spb.GetObjectResponse(
                    header=spb.GetObjectHeader(
                        object=spb.ObjectMetadata(timestamp=stamp, size=len(stamp)), end=len(stamp)
                    ),
                    chunk=spb.ObjectChunk(data=stamp.encode()),
                )

            async def head_object(
                self, location: Any, include_deleted: bool = False, timestamp_only: bool = False
            ) -> Any:
                nodes.version_heads += timestamp_only
                stamp = self._stamp(location)
                return spb.HeadObjectResponse(object=spb.ObjectMetadata(timestamp=stamp))

        return Session()

    def client(self, address: str) -> Any:
        nodes = self

        class Client:
            async def get_object(self, location: Any, start: Any, end: Any) -> Any:
                nodes._server = address
                stamp = nodes._version(location)
                header = spb.GetObjectHeader(
                    object=spb.ObjectMetadata(timestamp=stamp, size=len(stamp)), end=len(stamp)
                )

                async def body() -> Any:
                    yield stamp.encode()

                return header, body()

        return Client()


@pytest.mark.parametrize("stale", [0, 1])
def test_a_get_never_serves_a_version_older_than_the_quorum_knows(ring: Ring, stale: int) -> None:
    """The first primary missed the newest write (it was down): the second primary's
    version (a timestamp-only HEAD) is newer, so the read goes on to the newest copy."""
    part = ring.get_part("acct", "cont", "obj")
    primaries = ring.get_part_nodes(part)
    versions = {device.id: NEW for device in ring.devices if device is not None}
    versions[primaries[stale].id] = OLD
    pool = FakeVersionedNodes(ring, versions)
    io = ReplicaIO(ring, pool, node_timeout=5)

    async def run() -> bytes:
        _header, body = await io.get("acct", "cont", "obj")
        return b"".join([piece async for piece in body])

    assert asyncio.run(run()) == NEW.encode()
    assert pool.version_heads == 1  # the fast path's check asked for the version only
