"""Bringing one index database and one peer replica into agreement (Swift's sync points).

Every row of an index database carries a sequence number from the database's own
counter, which only grows (a replaced row gets a new number, so the rows with
numbers above ``p`` are exactly the rows changed since the counter was ``p``).
Each database file has a random replica id, and remembers per source replica the
highest sequence it has applied from it: its *sync point*.  So for a local
database ``L`` and a peer replica ``R`` of the same shard:

* **push**: ``R``'s point for ``L`` is below ``L``'s counter -> send ``L``'s rows
  above that point, in sequence order and bounded batches; each batch is applied
  on ``R`` (newest wins) together with the new point, in one transaction.
* **pull**: ``L``'s point for ``R`` is below ``R``'s counter -> fetch ``R``'s
  rows above it with ``ListIndexChanges`` and apply them here with the new point.

Comparing costs one ``GetIndexSyncPoints`` call per partition and peer for all the
partition's databases; replicas in agreement exchange nothing else.  Replay is
safe: a row only replaces an older one, so sending a row twice changes nothing.
Tombstones older than the reclaim cut-off are never sent (they are being
reclaimed; a replica that reclaimed one must not get it back), but the points move
past them.

:class:`IndexPeer` is what the algorithm needs from a peer; :class:`GrpcIndexPeer`
is the real one (``ContainerServerService`` on another object server), and tests
use an in-process one over local files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.containerserver.v1 import containerserver_pb2_grpc
from storage.container.index import Changes, IndexShard, Row
from storage.container.server import row_from, row_message
from storage.replication.peers import Peer

T = TypeVar("T")

#: Rows per SyncIndexRows / ListIndexChanges call: large enough that a call's fixed cost
#: is small beside its rows, small enough that a batch is a few hundred kilobytes.
SYNC_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ShardAddress:
    """One shard database on one device (what ``ShardRef`` carries)."""

    device: str
    partition: int
    account: str
    container: str
    shard: int


@dataclass(frozen=True, slots=True)
class PeerPoint:
    """A peer's answer about one shard: its replica id and counter, and its sync point
    for the asking replica (``exists`` False: the peer holds no such database)."""

    exists: bool
    replica_id: str = ""
    max_seq: int = 0
    point: int = 0


@dataclass(frozen=True, slots=True)
class PeerChanges:
    """Rows a peer changed after a sequence number, and its replica id."""

    replica_id: str
    changes: Changes


class IndexPeer(Protocol):
    """The three calls the sync needs from a peer replica's node.  Each raises
    ``CumuloError`` when the peer fails (the caller counts it and retries next pass)."""

    async def sync_points(
        self, shards: Sequence[ShardAddress], sources: Sequence[str]
    ) -> list[PeerPoint]:
        """Per shard, the peer's :class:`PeerPoint` for the source replica id."""
        ...

    async def changes(
        self, shard: ShardAddress, after: int, limit: int, skip_tombstones_before: str
    ) -> PeerChanges:
        """The peer's rows with a sequence above ``after`` (see IndexShard.changes)."""
        ...

    async def send(self, shard: ShardAddress, source: str, up_to: int, rows: list[Row]) -> int:
        """Apply ``rows`` there and raise its point for ``source`` to ``up_to``; the new point."""
        ...


Runner = Callable[..., Any]


async def push(
    run: Runner,
    local: IndexShard,
    peer: IndexPeer,
    shard: ShardAddress,
    point: int,
    until: int,
    cutoff: str,
    batch: int = SYNC_BATCH,
) -> tuple[int, int]:
    """Send ``local``'s rows with sequence in ``(point, until]`` (and any newer ones met on
    the way) to ``peer``; return ``(rows sent, the peer's point afterwards)``.

    ``run(fn, *args)`` runs blocking work off the event loop.  Raises the peer's
    CumuloError; the rows already sent stay applied with their point."""
    sent = 0
    while point < until:
        found: Changes = await run(local.changes, point, batch, cutoff)
        if found.up_to <= point:
            break
        point = await peer.send(shard, local.replica_id, found.up_to, found.rows)
        sent += len(found.rows)
        if not found.more:
            break
    return sent, point


async def pull(
    run: Runner,
    local: IndexShard,
    peer: IndexPeer,
    shard: ShardAddress,
    point: int,
    until: int,
    cutoff: str,
    batch: int = SYNC_BATCH,
) -> int:
    """Fetch the peer's rows with sequence above ``point`` (at least up to ``until``) and
    apply them to ``local`` with the new sync point; return how many were stored."""
    applied = 0
    while point < until:
        got = await peer.changes(shard, point, batch, cutoff)
        if got.changes.up_to <= point:
            break
        point = got.changes.up_to
        applied += await run(
            lambda g=got, p=point: local.apply(g.changes.rows, source=g.replica_id, up_to=p)
        )
        if not got.changes.more:
            break
    return applied


def _ref(shard: ShardAddress) -> ipb.ShardRef:
    return ipb.ShardRef(
        device=shard.device,
        partition=shard.partition,
        account=shard.account,
        container=shard.container,
        shard=shard.shard,
    )


class GrpcIndexPeer:
    """:class:`IndexPeer` over another object server's ``ContainerServerService``."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.stub = containerserver_pb2_grpc.ContainerServerServiceStub(peer.objects.channel)

    async def sync_points(
        self, shards: Sequence[ShardAddress], sources: Sequence[str]
    ) -> list[PeerPoint]:
        request = ipb.GetIndexSyncPointsRequest(
            shards=[_ref(s) for s in shards], source_ids=list(sources)
        )
        response = await self.peer.call(self.stub.GetIndexSyncPoints, request)
        return [PeerPoint(p.exists, p.replica_id, p.max_seq, p.point) for p in response.points]

    async def changes(
        self, shard: ShardAddress, after: int, limit: int, skip_tombstones_before: str
    ) -> PeerChanges:
        request = ipb.ListIndexChangesRequest(
            shard=_ref(shard),
            after_seq=after,
            limit=limit,
            skip_tombstones_before=skip_tombstones_before,
        )
        response = await self.peer.call(self.stub.ListIndexChanges, request)
        rows = [row_from(r) for r in response.rows]
        return PeerChanges(response.replica_id, Changes(rows, response.up_to_seq, response.more))

    async def send(self, shard: ShardAddress, source: str, up_to: int, rows: list[Row]) -> int:
        request = ipb.SyncIndexRowsRequest(
            shard=_ref(shard),
            source_id=source,
            up_to_seq=up_to,
            rows=[row_message(r) for r in rows],
        )
        response = await self.peer.call(self.stub.SyncIndexRows, request)
        return int(response.point)


async def run_in(executor: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ``fn`` on ``executor`` (a device's thread pool)."""
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
