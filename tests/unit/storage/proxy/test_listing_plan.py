"""Small PUTs carry their listing update to the object servers (ListingPlan): the proxy
sends UpdateIndex only for the index replicas no object write applied, in the
foreground while a quorum is missing, in the background after the answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from cumulo.rpc.status import LocalCallError
from storage.container.index import Row
from storage.proxy.index import IndexClient, ShardId
from storage.proxy.placement import NodePool
from storage.proxy.replicas import ReplicaIO
from storage.ring import Ring, RingBuilder

SHARD = ShardId("acct", "cont", 0)
STAMP = "1732712345.00000_0000"


def make_ring(tmp_path: Path, servers: int) -> Ring:
    builder = RingBuilder(4, 3, min_part_hours=0)
    for node in range(servers):
        for device in ("d1", "d2"):
            builder.add_device(
                region=1, zone=node + 1, ip="127.0.0.1", port=7000 + node, device=device, weight=1
            )
    builder.rebalance()
    builder.write_ring(tmp_path / "r.ring")
    return Ring(tmp_path / "r.ring")


class Nodes(NodePool):
    """Fake object sessions and index stubs; per server: does it apply listing updates,
    does its object write fail."""

    def __init__(self) -> None:
        super().__init__("credential-0123456789abcdef")
        self.unlisted: set[str] = set()
        self.down: set[str] = set()
        #: (server, shard ref device) of each listing update carried by an object write.
        self.carried: list[tuple[str, str]] = []
        #: (server, shard ref device) of each UpdateIndex update.
        self.updated: list[tuple[str, str]] = []

    def session(self, address: str) -> Any:
        return Session(self, address)

    def index(self, address: str) -> Any:
        return Index(self, address)


class Session:
    def __init__(self, nodes: Nodes, server: str) -> None:
        self.nodes, self.server = nodes, server

    async def put_object_listed(self, location: Any, timestamp: str, data: bytes, **o: Any) -> Any:
        await asyncio.sleep(0)
        if self.server in self.nodes.down:
            raise errors.Unavailable("connection refused")
        stored = spb.ObjectMetadata(object=location.object, timestamp=timestamp, size=len(data))
        response = spb.PutObjectResponse(object=stored)
        then_list = o.get("then_list")
        if then_list is not None:
            self.nodes.carried.append((self.server, then_list.shard.device))
            assert then_list.row.name == location.object and then_list.row.etag
            if self.server not in self.nodes.unlisted:
                response.listing.applied = True
                old = ipb.IndexRow(name=location.object, timestamp="1.00000_0000", size=9)
                response.listing.replaced.append(old)
        return response


class Index:
    def __init__(self, nodes: Nodes, server: str) -> None:
        self.nodes, self.server = nodes, server

    async def UpdateIndex(self, request: Any, **_: Any) -> Any:
        if self.server in self.nodes.down:  # as a stub fails: a grpc.RpcError
            raise LocalCallError(errors.Unavailable("connection refused"))
        for update in request.updates:
            self.nodes.updated.append((self.server, update.shard.device))
        return ipb.UpdateIndexResponse(results=[ipb.ShardResult() for _ in request.updates])


def put_and_list(ring: Ring, nodes: Nodes) -> tuple[list[Row], list[tuple[str, str]]]:
    """A small PUT with its plan; (replaced rows, UpdateIndex calls made before the
    answer).  Background work is drained afterwards."""
    replicas = ReplicaIO(ring, nodes, node_timeout=5)
    index = IndexClient(ring, nodes, node_timeout=5)

    async def run() -> tuple[list[Row], list[tuple[str, str]]]:
        plan = index.plan(SHARD)
        meta = await replicas.put_small("acct", "cont", "obj", STAMP, b"data", listing=plan)
        row = Row("obj", meta.timestamp, False, meta.size, "etag")
        replaced = await index.update(SHARD, [row], plan)
        before_answer = list(nodes.updated)
        await replicas.drain()
        await index.drain()
        return replaced, before_answer

    return asyncio.run(run())


def shard_replicas(ring: Ring) -> set[tuple[str, str]]:
    part = ring.get_part(SHARD.account, SHARD.container, str(SHARD.shard))
    return {(d.server, d.device) for d in ring.get_part_nodes(part)}


def test_with_a_replica_on_every_node_a_put_makes_no_update_index_call(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, 3)
    nodes = Nodes()
    replaced, _ = put_and_list(ring, nodes)
    # Every object write carried the update for the shard replica on its own server.
    assert set(nodes.carried) == shard_replicas(ring)
    assert nodes.updated == []
    assert [(r.name, r.size) for r in replaced] == [("obj", 9)]


def test_a_replica_whose_node_did_not_list_is_updated_after_the_answer(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, 3)
    nodes = Nodes()
    lazy = sorted(shard_replicas(ring))[0]
    nodes.unlisted = {lazy[0]}
    _, before_answer = put_and_list(ring, nodes)
    assert before_answer == []  # two applied: a quorum, the answer went out at once
    assert nodes.updated == [lazy]  # then the proxy updated the third itself


def test_without_a_quorum_of_listed_writes_the_proxy_updates_before_answering(
    tmp_path: Path,
) -> None:
    ring = make_ring(tmp_path, 3)
    nodes = Nodes()
    replicas = sorted(shard_replicas(ring))
    nodes.unlisted = {replicas[0][0], replicas[1][0]}
    _, before_answer = put_and_list(ring, nodes)
    assert set(before_answer) >= {replicas[0], replicas[1]}
    assert replicas[2] not in nodes.updated  # it applied the row with its object


def test_a_down_node_gets_neither_and_the_answer_needs_the_other_two(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, 3)
    nodes = Nodes()
    down = sorted(shard_replicas(ring))[0][0]
    nodes.down = {down}
    replaced, _ = put_and_list(ring, nodes)
    assert [r.name for r in replaced] == ["obj"]
    assert all(server != down for server, _ in nodes.carried + nodes.updated)


@pytest.mark.parametrize("servers", [4, 5])
def test_in_a_bigger_cluster_the_uncovered_replicas_are_updated_by_the_proxy(
    tmp_path: Path, servers: int
) -> None:
    ring = make_ring(tmp_path, servers)
    nodes = Nodes()
    put_and_list(ring, nodes)
    covered = set(nodes.carried)
    # Every shard replica got the row exactly one way, by its node or by the proxy.
    assert covered | set(nodes.updated) == shard_replicas(ring)
    assert not covered & set(nodes.updated)


def test_a_delete_carries_its_tombstone_row_too(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, 3)
    nodes = Nodes()
    deleted: list[Any] = []

    async def delete_object(self: Session, location: Any, timestamp: str, then_list: Any) -> Any:
        await asyncio.sleep(0)
        deleted.append((self.server, then_list.row.deleted, then_list.row.timestamp))
        response = spb.DeleteObjectResponse(timestamp=timestamp)
        response.listing.applied = True
        return response

    Session.delete_object = delete_object  # type: ignore[attr-defined]
    try:
        replicas = ReplicaIO(ring, nodes, node_timeout=5)
        index = IndexClient(ring, nodes, node_timeout=5)

        async def run() -> None:
            plan = index.plan(SHARD)
            await replicas.delete("acct", "cont", "obj", STAMP, listing=plan)
            await index.update(SHARD, [Row("obj", STAMP, True)], plan)
            await replicas.drain()
            await index.drain()

        asyncio.run(run())
    finally:
        del Session.delete_object  # type: ignore[attr-defined]
    assert sorted(server for server, _, _ in deleted) == sorted(s for s, _ in shard_replicas(ring))
    assert all(is_deleted and stamp == STAMP for _, is_deleted, stamp in deleted)
    assert nodes.updated == []
