"""The object replicator of one device: one pass compares and repairs every partition.

For each partition stored on the device (see docs/replication.md):

* **Primary** (this device is one of the partition's ring devices): for each other
  primary, fetch its suffix hashes; for every suffix whose hash differs, exchange
  the (name hash, timestamp, kind) lists and move the newer side's version: push
  ours when it is newer or theirs is missing, pull theirs when it is newer or ours
  is missing.  Every version keeps its original timestamp, and each object server
  applies newest-wins, so a transfer can never replace a newer version, and a
  tombstone (also a version) keeps a missed delete from resurrecting data.
* **Handoff** (not a primary): list everything, push to every primary what its
  suffix hashes say it lacks, and remove exactly the local versions every primary
  confirmed (holds that version or newer).  One primary unreachable keeps the
  whole partition here until a later pass.

Tombstones older than the reclaim age are removed while hashing and never sent,
so replicas that reclaimed agree again and none brings a reclaimed tombstone back.
A node that was down for longer than the reclaim age may still hold data whose
tombstones were reclaimed elsewhere: wipe such a node's devices before it returns
(as with Swift).

:meth:`DeviceReplicator.run_pass` never raises for a peer's failure: it counts it
in :attr:`PassStats.errors` and the next pass retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cumulo import errors
from storage.object.diskfile import DiskDevice
from storage.object.server import DeviceSlot
from storage.object.store import PartitionEntry
from storage.object.suffixes import suffix_of
from storage.replication import partition as disk
from storage.replication.index_replicator import IndexPassStats
from storage.replication.peers import Peer, PeerPool, pull, push
from storage.replication.ringview import LocalRing
from storage.ring.devices import Device
from storage.timestamp import Timestamp

log = logging.getLogger("cumulo.storage.replication")

#: Every this many passes a device rehashes every partition from disk, so tombstones
#: in suffixes that did not change (cached hashes) are reclaimed too.
FULL_REHASH_EVERY = 10
#: Partitions per batched suffix-hash call to one peer device.
PREFETCH_BATCH = 256


@dataclass
class PassStats:
    """What one replication pass over one device did."""

    device: str
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    partitions: int = 0
    suffixes_synced: int = 0
    objects_pushed: int = 0
    objects_pulled: int = 0
    handoffs_removed: int = 0
    tombstones_reclaimed: int = 0
    errors: int = 0
    #: The listing-index pass that ran after this one (None: not run).
    index: IndexPassStats | None = None

    def summary(self) -> str:
        return (
            f"replication pass on {self.device}: {self.partitions} partitions checked, "
            f"{self.suffixes_synced} suffixes synced, {self.objects_pushed} objects pushed, "
            f"{self.objects_pulled} pulled, {self.handoffs_removed} handoffs removed, "
            f"{self.tombstones_reclaimed} tombstones reclaimed, {self.errors} errors, "
            f"{self.seconds:.2f}s"
        )


@dataclass(frozen=True)
class SyncPlan:
    """What to move between two replicas of some suffixes."""

    push: list[PartitionEntry]
    pull: list[PartitionEntry]
    #: Local versions the peer already holds, or holds something newer than.
    confirmed: list[PartitionEntry]


def plan_sync(
    local: Sequence[PartitionEntry], remote: Sequence[PartitionEntry], reclaim_before: Timestamp
) -> SyncPlan:
    """Compare two listings of the same suffixes; the newer version of each name wins.

    Tombstones older than ``reclaim_before`` are never moved (they are being
    reclaimed); a local one counts as confirmed, so a handoff may drop it.
    """
    theirs = {e.name_hash: e for e in remote}
    ours = {e.name_hash: e for e in local}
    plan = SyncPlan(push=[], pull=[], confirmed=[])
    for name_hash, mine in ours.items():
        other = theirs.get(name_hash)
        if mine.deleted and mine.timestamp < reclaim_before:
            plan.confirmed.append(mine)
        elif other is None or other.timestamp < mine.timestamp:
            plan.push.append(mine)
        else:
            plan.confirmed.append(mine)
    for name_hash, other in theirs.items():
        if other.deleted and other.timestamp < reclaim_before:
            continue
        mine_or_none = ours.get(name_hash)
        if mine_or_none is None or mine_or_none.timestamp < other.timestamp:
            plan.pull.append(other)
    return plan


class DeviceReplicator:
    """Replication passes over one device (one pass at a time; see the module docstring)."""

    def __init__(
        self,
        slot: DeviceSlot,
        ring: LocalRing,
        peers: PeerPool,
        *,
        reclaim_age: float,
        concurrency: int,
    ) -> None:
        if not isinstance(slot.device, DiskDevice):
            raise TypeError("replication needs an on-disk device")
        self.slot = slot
        self.device: DiskDevice = slot.device
        self.ring = ring
        self.peers = peers
        self.reclaim_age = reclaim_age
        self.concurrency = max(1, concurrency)
        self.passes = 0
        self.last: PassStats | None = None
        #: Peers' suffix hashes fetched in batches at the start of the running pass.
        self._prefetched: dict[tuple[str, str, int], dict[str, str]] = {}
        self.lock = asyncio.Lock()

    async def _disk(self, fn: Any, *args: Any) -> Any:
        return await asyncio.wrap_future(self.slot.submit(fn, *args))

    async def run_pass(self, *, include_empty: bool | None = None) -> PassStats:
        """One pass over every partition of the device; waits for a running one first.

        ``include_empty``: also visit partitions the ring assigns to this device that
        hold nothing here yet (so a new or wiped device fills itself by pulling);
        None (the background default) does so every ``FULL_REHASH_EVERY`` passes
        only, since each costs a call per peer even when there is nothing to do.
        Raises Conflict (RING_NOT_LOADED / RING_IP_REQUIRED) before doing anything if
        the ring cannot be used."""
        async with self.lock:
            self.ring.ring()
            stats = PassStats(self.device.name)
            begun = time.monotonic()
            full = self.passes % FULL_REHASH_EVERY == 0
            self.passes += 1
            on_disk = set(await self._disk(self.device.partitions))
            if include_empty is None:
                include_empty = full
            if include_empty:
                on_disk |= await self._held_by_peers(self.assigned_partitions() - on_disk, stats)
            self._prefetched = await self._prefetch_remote_hashes(on_disk)
            queue = sorted(on_disk, reverse=True)

            async def worker() -> None:
                while queue:
                    part = queue.pop()
                    try:
                        await self.replicate_partition(part, stats, full_rehash=full)
                    except Exception:
                        stats.errors += 1
                        log.exception(
                            "replicating partition %d of %s failed", part, self.device.name
                        )

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            self._prefetched = {}
            stats.seconds = time.monotonic() - begun
            self.last = stats
            log.info("%s", stats.summary())
            return stats

    async def _prefetch_remote_hashes(
        self, parts: set[int]
    ) -> dict[tuple[str, str, int], dict[str, str]]:
        """The peers' suffix hashes of the partitions this device is a primary of, in
        batches of :data:`PREFETCH_BATCH` per peer device (one call instead of one per
        partition).  What a batch call fails to bring is asked per partition later, so
        a failure here costs calls, not correctness; hashes that change during the pass
        at worst make a suffix look different (an entry exchange that moves nothing)."""
        ring = self.ring.ring()
        mine = self.ring.local_ids(self.device.name)
        wanted: dict[tuple[str, str], list[int]] = {}
        for part in sorted(parts):
            if part >= ring.parts:
                continue
            nodes = ring.get_part_nodes(part)
            if all(d.id not in mine for d in nodes):
                continue  # a handoff partition compares differently
            for peer in nodes:
                if peer.id not in mine:
                    wanted.setdefault((peer.server, peer.device), []).append(part)
        found: dict[tuple[str, str, int], dict[str, str]] = {}
        for (server, device), peer_parts in wanted.items():
            for start in range(0, len(peer_parts), PREFETCH_BATCH):
                chunk = peer_parts[start : start + PREFETCH_BATCH]
                try:
                    hashes = await self.peers.get(server).suffix_hashes_many(device, chunk)
                except errors.CumuloError as exc:
                    log.debug("batched suffix hashes from %s/%s: %s", server, device, exc)
                    continue
                for part in chunk:
                    found[(server, device, part)] = hashes.get(part, {})
        return found

    async def _held_by_peers(self, empty: set[int], stats: PassStats) -> set[int]:
        """Of the assigned partitions empty here, those some peer holds anything in.

        One ``ListPartitions`` call per peer device instead of a suffix-hash call
        per partition and peer (a fresh device of part power 10 has ~500 empty
        partitions).  A peer that cannot answer counts as holding all of its
        partitions, so nothing is skipped on a failure."""
        ring = self.ring.ring()
        mine = self.ring.local_ids(self.device.name)
        wanted: dict[tuple[str, str], set[int]] = {}
        for part in empty:
            for peer in ring.get_part_nodes(part):
                if peer.id not in mine:
                    wanted.setdefault((peer.server, peer.device), set()).add(part)
        keep: set[int] = set()
        for (server, device), parts in wanted.items():
            try:
                keep |= parts & await self.peers.get(server).partitions(device)
            except errors.CumuloError as exc:
                stats.errors += 1
                log.warning("%s/%s could not list its partitions: %s", server, device, exc)
                keep |= parts
        return keep

    def assigned_partitions(self) -> set[int]:
        """Partitions for which the ring makes this device a primary."""
        ring = self.ring.ring()
        mine = self.ring.local_ids(self.device.name)
        if not mine:
            return set()
        ids = ring.get_part_device_ids
        return {part for part in range(ring.parts) if not mine.isdisjoint(ids(part))}

    async def _hashes(self, part: int, stats: PassStats, full: bool = False) -> dict[str, str]:
        if full:
            # Not `stats.x += await ...`: that reads the counter before awaiting and
            # would drop what concurrent partitions added meanwhile.
            reclaimed = await self._disk(disk.reclaim_known, self.device, part, self.reclaim_age)
            stats.tombstones_reclaimed += reclaimed
        result = await self._disk(disk.suffix_hashes, self.device, part, self.reclaim_age)
        stats.tombstones_reclaimed += result.reclaimed
        return dict(result.hashes)

    async def replicate_partition(
        self, part: int, stats: PassStats, *, full_rehash: bool = False
    ) -> None:
        """Compare and repair one partition (primary or handoff, by the ring)."""
        ring = self.ring.ring()
        if part >= ring.parts:
            log.warning(
                "device %s holds partition %d, beyond the ring's %d partitions; left alone",
                self.device.name,
                part,
                ring.parts,
            )
            return
        stats.partitions += 1
        nodes: list[Device] = ring.get_part_nodes(part)
        mine = self.ring.local_ids(self.device.name)
        peers = [d for d in nodes if d.id not in mine]
        if len(peers) < len(nodes):
            await self._sync_primary(part, peers, stats, full_rehash)
        else:
            await self._sync_handoff(part, peers, stats)

    async def _sync_primary(
        self, part: int, peers: list[Device], stats: PassStats, full_rehash: bool
    ) -> None:
        local = await self._hashes(part, stats, full_rehash)
        for node in peers:
            peer = self.peers.get(node.server)
            try:
                remote = self._prefetched.pop((node.server, node.device, part), None)
                if remote is None:
                    remote = await peer.suffix_hashes(node.device, part)
            except errors.CumuloError as exc:
                stats.errors += 1
                log.warning(
                    "suffix hashes of %s/%s part %d: %s", node.server, node.device, part, exc
                )
                continue
            differ = sorted(
                s for s in local.keys() | remote.keys() if local.get(s) != remote.get(s)
            )
            if not differ:
                continue
            stats.suffixes_synced += len(differ)
            pulled = await self._sync_suffixes(part, differ, peer, node, stats, pull_too=True)
            if pulled:
                local = await self._hashes(part, stats)

    async def _sync_suffixes(
        self,
        part: int,
        suffixes: list[str],
        peer: Peer,
        node: Device,
        stats: PassStats,
        *,
        pull_too: bool,
        local_entries: list[PartitionEntry] | None = None,
    ) -> tuple[int, list[PartitionEntry]] | int:
        """Move versions both ways (or only push); return how many were pulled, or, for
        handoffs (``local_entries`` given), ``(-1 if anything failed else 0, confirmed)``."""
        try:
            remote = await peer.suffix_entries(node.device, part, suffixes)
        except errors.CumuloError as exc:
            stats.errors += 1
            log.warning("entries of %s/%s part %d: %s", node.server, node.device, part, exc)
            return (-1, []) if local_entries is not None else 0
        if local_entries is None:
            local = await self._disk(disk.suffix_entries, self.device, part, suffixes)
        else:
            wanted = set(suffixes)
            local = [e for e in local_entries if suffix_of(e.name_hash) in wanted]
        plan = plan_sync(local, remote, disk.reclaim_cutoff(self.reclaim_age))
        confirmed = list(plan.confirmed)
        failed = False
        for entry in plan.push:
            if await push(self.slot, part, entry, peer, node.device):
                stats.objects_pushed += 1
                confirmed.append(entry)
            else:
                stats.errors += 1
                failed = True
        if local_entries is not None:
            return (-1 if failed else 0), confirmed
        pulled = 0
        if pull_too:
            for entry in plan.pull:
                if await pull(self.slot, part, entry, peer, node.device):
                    pulled += 1
                else:
                    stats.errors += 1
            stats.objects_pulled += pulled
        return pulled

    async def _sync_handoff(self, part: int, primaries: list[Device], stats: PassStats) -> None:
        hashes = await self._hashes(part, stats)
        entries = await self._disk(disk.suffix_entries, self.device, part, sorted(hashes))
        cutoff = disk.reclaim_cutoff(self.reclaim_age)
        by_suffix: dict[str, list[PartitionEntry]] = {}
        for entry in entries:
            if not (entry.deleted and entry.timestamp < cutoff):
                by_suffix.setdefault(suffix_of(entry.name_hash), []).append(entry)
        # Hashes of exactly the versions listed: what is removed at the end is what
        # was compared, even if a write lands on this handoff meanwhile.
        listed = {s: disk.digest_entries(group) for s, group in by_suffix.items()}
        complete = True
        for node in primaries:
            peer = self.peers.get(node.server)
            try:
                remote = await peer.suffix_hashes(node.device, part)
            except errors.CumuloError as exc:
                stats.errors += 1
                complete = False
                log.warning(
                    "suffix hashes of %s/%s part %d: %s", node.server, node.device, part, exc
                )
                continue
            differ = sorted(s for s in listed if listed[s] != remote.get(s))
            if not differ:
                continue
            stats.suffixes_synced += len(differ)
            result = await self._sync_suffixes(
                part, differ, peer, node, stats, pull_too=False, local_entries=entries
            )
            assert isinstance(result, tuple)
            if result[0] < 0:
                complete = False
        if not complete:
            return
        confirmed = {e.name_hash: e.timestamp.internal for e in entries}
        if await self._disk(disk.remove_confirmed, self.device, part, confirmed):
            stats.handoffs_removed += 1
            log.info("handoff partition %d removed from %s", part, self.device.name)
