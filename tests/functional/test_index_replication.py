"""The listing-index replicator across three real object servers on 127.0.0.1.

Index rows go straight to chosen devices with ``UpdateIndex`` (no proxy), so each
test decides which replicas of a shard saw what; passes run through RunReplication,
which runs the index pass after the object pass on each device.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.containerserver.v1 import containerserver_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from storage.container.index import shard_file
from storage.ring.devices import Device
from storage.timestamp import Timestamp
from tests.helpers.replication import ReplicaCluster
from tests.helpers.servers import BackgroundLoop

ACCOUNT, CONTAINER, SHARD = "AUTH_idx", "photos", 0


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.close()


@pytest.fixture
def cluster(loop: BackgroundLoop, tmp_path: Path) -> Iterator[ReplicaCluster]:
    # Reclaim age one minute: tests write tombstones dated minutes ago to reclaim them.
    started = ReplicaCluster.start(loop, tmp_path, reclaim_age=60.0)
    yield started
    started.stop()


def stamp(offset_seconds: float = 0.0) -> str:
    return Timestamp.from_seconds(time.time() + offset_seconds).internal


def placement(cluster: ReplicaCluster) -> tuple[int, list[Device]]:
    assert cluster.ring is not None
    part = cluster.ring.get_part(ACCOUNT, CONTAINER, str(SHARD))
    return part, list(cluster.ring.get_part_nodes(part))


def ref(device: Device | str, part: int) -> ipb.ShardRef:
    name = device if isinstance(device, str) else device.device
    return ipb.ShardRef(
        device=name, partition=part, account=ACCOUNT, container=CONTAINER, shard=SHARD
    )


async def call(cluster: ReplicaCluster, node: int, method: str, request: Any) -> Any:
    async with cluster.client(node) as client:
        stub = containerserver_pb2_grpc.ContainerServerServiceStub(client.channel)
        try:
            return await getattr(stub, method)(request, metadata=client.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None


def update(cluster: ReplicaCluster, device: Device, part: int, rows: list[ipb.IndexRow]) -> None:
    request = ipb.UpdateIndexRequest(updates=[ipb.ShardUpdate(shard=ref(device, part), rows=rows)])
    response = cluster.run(call(cluster, cluster.node_of(device), "UpdateIndex", request))
    assert [r.code for r in response.results] == [0]


def listing(cluster: ReplicaCluster, device: Device, part: int) -> list[tuple[str, str, bool]]:
    request = ipb.ListIndexRequest(shards=[ref(device, part)], limit=10_000)
    response = cluster.run(call(cluster, cluster.node_of(device), "ListIndex", request))
    return [(r.name, r.timestamp, r.deleted) for r in response.rows]


def stats(cluster: ReplicaCluster, device: Device, part: int) -> tuple[bool, int, int]:
    request = ipb.GetIndexStatsRequest(shards=[ref(device, part)])
    response = cluster.run(call(cluster, cluster.node_of(device), "GetIndexStats", request))
    (one,) = response.stats
    return one.exists, one.object_count, one.bytes_used


def put_row(name: str, ts: str, size: int) -> ipb.IndexRow:
    return ipb.IndexRow(name=name, timestamp=ts, size=size, etag="0" * 32)


def delete_row(name: str, ts: str) -> ipb.IndexRow:
    return ipb.IndexRow(name=name, timestamp=ts, deleted=True)


def index_totals(passes: list[Any]) -> dict[str, int]:
    keys = ("rows_pushed", "rows_pulled", "handoffs_removed", "tombstones_reclaimed", "errors")
    return {k: sum(getattr(p.index, k) for p in passes) for k in keys}


def replicate_clean(cluster: ReplicaCluster, node: int) -> list[Any]:
    """A pass on ``node`` that reached every peer: a restarted node's peers (and this
    process's shared gRPC subchannels) may still be in reconnect backoff for a moment."""
    deadline = time.monotonic() + 15
    while True:
        try:
            passes = cluster.run(cluster.replicate(node))
            if all(p.errors == 0 and p.index.errors == 0 for p in passes):
                return passes
        except errors.Unavailable:
            pass
        assert time.monotonic() < deadline, "peers stayed unreachable"
        time.sleep(0.2)


def test_a_node_down_during_puts_and_deletes_heals_from_its_own_pass(
    cluster: ReplicaCluster,
) -> None:
    part, nodes = placement(cluster)
    t1, t2 = stamp(-20), stamp(-10)
    first = [put_row(f"obj-{i:03d}", t1, 100 + i) for i in range(40)]
    for device in nodes:
        update(cluster, device, part, first)
    down = cluster.node_of(nodes[2])
    cluster.stop_node(down)
    later = [put_row(f"new-{i:03d}", t2, 7) for i in range(25)]
    later += [delete_row(f"obj-{i:03d}", t2) for i in range(0, 40, 4)]
    later += [put_row("obj-001", t2, 5000)]  # an overwrite
    for device in nodes[:2]:
        update(cluster, device, part, later)
    cluster.start_node(down)

    passes = cluster.run(cluster.replicate(down))
    done = index_totals(passes)
    assert done["errors"] == 0, passes
    # Pulled from the first peer; the second had nothing newer.
    assert done["rows_pulled"] == len(later), passes
    expected = listing(cluster, nodes[0], part)
    assert listing(cluster, nodes[2], part) == expected
    live = {name: ts for name, ts, deleted in expected if not deleted}
    assert len(live) == 40 - 10 + 25
    size = sum(100 + i for i in range(40) if i % 4) - 101 + 5000 + 25 * 7
    for device in nodes:
        assert stats(cluster, device, part) == (True, len(live), size)

    # Every replica agrees; further passes only echo once, then move nothing.
    cluster.replicate_all()
    again = index_totals(cluster.replicate_all())
    assert again["rows_pushed"] == again["rows_pulled"] == again["errors"] == 0
    # Replaying an old update (a late proxy retry) changes nothing anywhere.
    update(cluster, nodes[2], part, [put_row("obj-000", t1, 100)])
    assert listing(cluster, nodes[2], part) == expected


def test_a_handoff_shard_moves_home_and_the_handoff_copy_is_removed(
    cluster: ReplicaCluster,
) -> None:
    part, nodes = placement(cluster)
    assert cluster.ring is not None
    handoff = cluster.ring.get_more_nodes(part)[0]
    t1 = stamp(-5)
    rows = [put_row(f"h-{i:03d}", t1, 10) for i in range(30)]
    update(cluster, handoff, part, rows)
    update(cluster, nodes[0], part, rows[:10])  # one primary saw a third of them
    path = Path(shard_file(str(cluster.disk(handoff).path), part, ACCOUNT, CONTAINER, SHARD))
    assert path.exists()

    passes = cluster.run(cluster.replicate(cluster.node_of(handoff)))
    done = index_totals(passes)
    assert done["errors"] == 0 and done["handoffs_removed"] == 1, passes
    # A new replica's rows all go to each primary (the node's other device may be a
    # primary too, and pushes what it just received: more than that is fine).
    assert done["rows_pushed"] >= 3 * 30
    assert not path.exists()
    for device in nodes:
        assert [n for n, _, _ in listing(cluster, device, part)] == [r.name for r in rows]
        assert stats(cluster, device, part) == (True, 30, 300)
    # The handoff no longer holds it; a write there later starts a fresh replica.
    assert stats(cluster, handoff, part)[0] is False


def test_a_reclaimed_tombstone_does_not_bring_an_old_row_back(cluster: ReplicaCluster) -> None:
    part, nodes = placement(cluster)
    a, b, c = nodes
    # c alone learns of the row; its pass spreads it (and the sync points record it).
    update(cluster, c, part, [put_row("doomed", stamp(-600), 42), put_row("kept", stamp(-600), 1)])
    cluster.run(cluster.replicate(cluster.node_of(c)))
    for device in (a, b):
        assert stats(cluster, device, part) == (True, 2, 43)
    # c is away while the row is deleted, long enough for the tombstone to be reclaimed.
    cluster.stop_node(cluster.node_of(c))
    for device in (a, b):
        update(cluster, device, part, [delete_row("doomed", stamp(-300))])
    reclaimed = 0
    for device in (a, b):
        reclaimed += index_totals(cluster.run(cluster.replicate(cluster.node_of(device))))[
            "tombstones_reclaimed"
        ]
    assert reclaimed == 2
    cluster.start_node(cluster.node_of(c))
    for _ in range(2):
        for device in (c, a, b):
            replicate_clean(cluster, cluster.node_of(device))
    # a and b already had c's row (their sync points say so): c never resends it.
    for device in (a, b):
        assert [n for n, _, _ in listing(cluster, device, part)] == ["kept"]
        assert stats(cluster, device, part) == (True, 1, 1)


def test_bad_input_to_the_sync_rpcs(cluster: ReplicaCluster) -> None:
    part, nodes = placement(cluster)
    node = cluster.node_of(nodes[0])
    with pytest.raises(errors.InvalidArgument, match="source_ids"):
        cluster.run(
            call(
                cluster,
                node,
                "GetIndexSyncPoints",
                ipb.GetIndexSyncPointsRequest(shards=[ref(nodes[0], part)]),
            )
        )
    with pytest.raises(errors.NotFound, match="not on this server"):
        cluster.run(
            call(
                cluster,
                node,
                "GetIndexSyncPoints",
                ipb.GetIndexSyncPointsRequest(shards=[ref("nope", part)], source_ids=["x"]),
            )
        )
    with pytest.raises(errors.InvalidArgument, match="limit"):
        cluster.run(
            call(
                cluster,
                node,
                "ListIndexChanges",
                ipb.ListIndexChangesRequest(shard=ref(nodes[0], part)),
            )
        )
    with pytest.raises(errors.NotFound, match="GetIndexSyncPoints"):
        cluster.run(
            call(
                cluster,
                node,
                "ListIndexChanges",
                ipb.ListIndexChangesRequest(shard=ref(nodes[0], part), limit=10),
            )
        )
    with pytest.raises(errors.InvalidArgument, match="source_id"):
        cluster.run(
            call(
                cluster,
                node,
                "SyncIndexRows",
                ipb.SyncIndexRowsRequest(
                    shard=ref(nodes[0], part), rows=[put_row("x", stamp(), 1)]
                ),
            )
        )
    with pytest.raises(errors.InvalidArgument, match="timestamp"):
        cluster.run(
            call(
                cluster,
                node,
                "SyncIndexRows",
                ipb.SyncIndexRowsRequest(
                    shard=ref(nodes[0], part), source_id="s", rows=[put_row("x", "yesterday", 1)]
                ),
            )
        )
