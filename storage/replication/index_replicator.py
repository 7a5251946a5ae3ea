"""The index replicator of one device: one pass syncs every listing-index database on it.

Index databases live at ``<device>/indexes/<partition>/<hash>.db`` (storage/container/
index.py), placed by the same ring as objects; the shard each file holds is read from
the file.  A pass, per partition (``concurrency`` at a time):

1. Reclaims tombstone rows older than the reclaim age in every local database
   (totals count live rows only, so they do not change).
2. **Primary** (this device is one of the partition's ring devices): for each other
   primary, one ``GetIndexSyncPoints`` call for all the partition's local databases,
   then per database push what the peer lacks and pull what we lack
   (:mod:`storage.replication.index_sync`), so a node that was down heals from its
   own pass.
3. **Handoff** (not a primary): push every database to every primary; a database is
   deleted only when every primary's sync point for it reached the counter it had
   before the push, and only if nothing was written to it since
   (:meth:`IndexShard.remove_if_unchanged`).  One primary unreachable keeps it.

Totals stay exact: they are maintained by :meth:`IndexShard.apply` in the same
transaction as the rows, and replication only ever applies rows.

A database a primary lacks altogether is created by the other primaries' pushes
(the sync point of a new file is 0 for every source).  As for objects, a node away
for longer than the reclaim age may hold live rows whose tombstones were reclaimed
elsewhere; its sync points keep it from pushing rows its peers already had, but a
node whose databases are older than the reclaim age must be wiped before it rejoins.

:meth:`IndexReplicator.run_pass` never raises for a peer's failure: it counts it in
:attr:`IndexPassStats.errors` and the next pass retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cumulo import errors
from storage.container.index import (
    IndexShard,
    ShardCache,
    local_databases,
    parse_shard_key,
)
from storage.object.diskfile import DiskDevice
from storage.object.server import DeviceSlot
from storage.replication.index_sync import (
    GrpcIndexPeer,
    IndexPeer,
    PeerPoint,
    ShardAddress,
    pull,
    push,
)
from storage.replication.peers import PeerPool
from storage.replication.ringview import LocalRing
from storage.ring.devices import Device
from storage.timestamp import Timestamp

log = logging.getLogger("cumulo.storage.replication")


@dataclass
class IndexPassStats:
    """What one index replication pass over one device did."""

    device: str
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    databases: int = 0
    rows_pushed: int = 0
    rows_pulled: int = 0
    handoffs_removed: int = 0
    tombstones_reclaimed: int = 0
    errors: int = 0

    def summary(self) -> str:
        return (
            f"index replication pass on {self.device}: {self.databases} databases checked, "
            f"{self.rows_pushed} rows pushed, {self.rows_pulled} pulled, "
            f"{self.handoffs_removed} handoffs removed, {self.tombstones_reclaimed} "
            f"tombstones reclaimed, {self.errors} errors, {self.seconds:.2f}s"
        )


@dataclass
class _Local:
    """One local database in a pass: its handle, its address, its counter at the start."""

    shard: IndexShard
    address: ShardAddress
    max_seq: int


def _at(address: ShardAddress, device: str) -> ShardAddress:
    """The same shard on another device."""
    a = address
    return ShardAddress(device, a.partition, a.account, a.container, a.shard)


class IndexReplicator:
    """Index replication passes over one device (one at a time; see the module docstring).

    ``peer_for(address, device)`` gives the :class:`IndexPeer` of a ring device (the
    real one by default; tests may substitute)."""

    def __init__(
        self,
        slot: DeviceSlot,
        name: str,
        shards: ShardCache,
        ring: LocalRing,
        peers: PeerPool,
        *,
        reclaim_age: float,
        concurrency: int,
        peer_for: Callable[[str], IndexPeer] | None = None,
    ) -> None:
        self.slot = slot
        self.name = name
        if not isinstance(slot.device, DiskDevice):
            raise TypeError("index replication needs an on-disk device")
        self.path = str(slot.device.path)
        self.shards = shards
        self.ring = ring
        self.peers = peers
        self.reclaim_age = reclaim_age
        self.concurrency = max(1, concurrency)
        self._peer_for = peer_for or (lambda address: GrpcIndexPeer(peers.get(address)))
        self._grpc_peers: dict[str, IndexPeer] = {}
        self.last: IndexPassStats | None = None
        self.lock = asyncio.Lock()

    async def _disk(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self.slot.submit(fn, *args))

    def _peer(self, address: str) -> IndexPeer:
        peer = self._grpc_peers.get(address)
        if peer is None:
            peer = self._grpc_peers[address] = self._peer_for(address)
        return peer

    def cutoff(self) -> str:
        """Tombstones older than this (internal timestamp text) are reclaimed, never sent."""
        return Timestamp.from_seconds(max(time.time() - self.reclaim_age, 1e-5)).internal

    async def run_pass(self) -> IndexPassStats:
        """One pass over every index database of the device; waits for a running one.
        Raises Conflict (RING_NOT_LOADED / RING_IP_REQUIRED) if the ring cannot be used."""
        async with self.lock:
            ring = self.ring.ring()
            stats = IndexPassStats(self.name)
            begun = time.monotonic()
            by_part: dict[int, list[str]] = {}
            for part, path in await self._disk(local_databases, self.path):
                by_part.setdefault(part, []).append(path)
            queue = sorted(by_part, reverse=True)

            async def worker() -> None:
                while queue:
                    part = queue.pop()
                    if part >= ring.parts:
                        log.warning(
                            "device %s holds index partition %d, beyond the ring's %d; left alone",
                            self.name,
                            part,
                            ring.parts,
                        )
                        continue
                    try:
                        await self.replicate_partition(part, by_part[part], stats)
                    except Exception:
                        stats.errors += 1
                        log.exception(
                            "index replication of partition %d of %s failed", part, self.name
                        )

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            stats.seconds = time.monotonic() - begun
            self.last = stats
            log.info("%s", stats.summary())
            return stats

    def _open_and_reclaim(
        self, part: int, paths: list[str], cutoff: str
    ) -> tuple[list[_Local], int]:
        """Blocking: open each database, reclaim its old tombstones, note its counter."""
        found: list[_Local] = []
        reclaimed = 0
        for path in paths:
            shard = self.shards.get(path, "", create=False)
            if shard is None:
                continue  # removed meanwhile
            try:
                account, container, number = parse_shard_key(shard.key)
                reclaimed += shard.reclaim(cutoff)
                state = shard.sync_state("")
            except ValueError:
                log.warning("index database %s has no valid shard key; left alone", path)
                continue
            except errors.Unavailable:
                continue  # handed off and removed meanwhile
            address = ShardAddress(self.name, part, account, container, number)
            found.append(_Local(shard, address, state.max_seq))
        return found, reclaimed

    async def replicate_partition(self, part: int, paths: list[str], stats: IndexPassStats) -> None:
        """Reclaim, compare and repair the databases of one partition."""
        cutoff = self.cutoff()
        local, reclaimed = await self._disk(self._open_and_reclaim, part, paths, cutoff)
        stats.tombstones_reclaimed += reclaimed
        stats.databases += len(local)
        if not local:
            return
        nodes: list[Device] = self.ring.ring().get_part_nodes(part)
        mine = self.ring.local_ids(self.name)
        others = [d for d in nodes if d.id not in mine]
        primary = len(others) < len(nodes)
        confirmed = {id(db): 0 for db in local}
        for node in others:
            peer = self._peer(node.server)
            try:
                points = await peer.sync_points(
                    [_at(db.address, node.device) for db in local],
                    [db.shard.replica_id for db in local],
                )
            except errors.CumuloError as exc:
                stats.errors += 1
                log.warning(
                    "index sync points of %s/%s part %d: %s", node.server, node.device, part, exc
                )
                continue
            for db, theirs in zip(local, points, strict=True):
                try:
                    if await self._sync_one(db, node, peer, theirs, primary, cutoff, stats):
                        confirmed[id(db)] += 1
                except errors.CumuloError as exc:
                    stats.errors += 1
                    log.warning(
                        "index sync of %s with %s/%s: %s",
                        db.shard.key,
                        node.server,
                        node.device,
                        exc,
                    )
        if not primary:
            for db in local:
                if confirmed[id(db)] == len(others):
                    await self._remove_handoff(db, stats)

    async def _sync_one(
        self,
        db: _Local,
        node: Device,
        peer: IndexPeer,
        theirs: PeerPoint,
        primary: bool,
        cutoff: str,
        stats: IndexPassStats,
    ) -> bool:
        """Push to (and, as a primary, pull from) one peer replica of ``db``; True when
        the peer confirmed every row ``db`` had at the start of the pass."""
        there = _at(db.address, node.device)
        point = theirs.point if theirs.exists else 0
        if point < db.max_seq:
            sent, point = await push(self._disk, db.shard, peer, there, point, db.max_seq, cutoff)
            stats.rows_pushed += sent
        if primary and theirs.exists:
            state = await self._disk(db.shard.sync_state, theirs.replica_id)
            if state.point < theirs.max_seq:
                pulled = await pull(
                    self._disk, db.shard, peer, there, state.point, theirs.max_seq, cutoff
                )
                # Not `stats.x += await ...`: concurrent partitions add meanwhile.
                stats.rows_pulled += pulled
        return point >= db.max_seq

    async def _remove_handoff(self, db: _Local, stats: IndexPassStats) -> None:
        if await self._disk(db.shard.remove_if_unchanged, db.max_seq):
            self.shards.forget(db.shard)
            stats.handoffs_removed += 1
            log.info(
                "handoff index %s (partition %d) removed from %s",
                db.shard.key,
                db.address.partition,
                self.name,
            )
