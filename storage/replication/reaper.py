"""The segment reaper: deletes large-object segments that no manifest references.

Segments become orphans when a proxy dies between a large upload's first segment and
its manifest, or before its best-effort deletion of a replaced or deleted large
object's segments ran (storage/proxy/large.py).  Nothing else ever removes them.

Contract of one pass (:meth:`SegmentReaper.run_pass`, docs/object-store.md,
"Orphaned segments"):

* **Who looks at what.**  Each node walks only the partitions of its own devices for
  which the ring makes that device the FIRST primary, and looks only at live objects
  of the hidden container ``.cumulo-segments``.  Every segment replica set has
  exactly one first primary, so every segment is judged by exactly one node, which
  holds a replica locally (no walking of other nodes' disks).
* **Groups.**  The segments of one upload share ``<digest>/<version>``; a group is
  judged once per pass, from the version in its name and its owner marks
  (:func:`storage.segments.owner_of`: the object's container and name).
* **Too young.**  A group whose version is less than ``reap_age`` old is left alone:
  its upload may still be running.  Proxies refuse to write a segment or a manifest
  for a version older than half of ``reap_age`` (``UPLOAD_TOO_SLOW``), so by the time
  a group is old enough to be judged, no manifest for it can still be written.
* **Referenced.**  Otherwise every primary of the object's partition is asked for its
  current version (tombstones included).  If any holds the group's version, the
  group is referenced (it is that manifest's) and kept.  If all answer and none
  does, no manifest can reference the group - a manifest references only segments
  of its own version, and none of this version exists or can still be written - and
  its segments here are deleted (quorum deletes with a new timestamp, like the
  proxy's).  A primary that does not answer: the group is skipped (``unverified``)
  and judged again next pass.
* **Unmarked.**  A segment without complete owner marks (written before they
  existed) cannot be tied to its object: it is never deleted, only counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.object.diskfile import DiskDevice
from storage.object.server import DeviceSlot
from storage.object.store import ObjectName, PartitionEntry
from storage.proxy.placement import NodePool
from storage.proxy.replicas import ReplicaIO
from storage.replication.ringview import LocalRing
from storage.segments import SEGMENTS, SegmentName, owner_of
from storage.timestamp import TICKS_PER_SECOND, Timestamp

log = logging.getLogger("cumulo.storage.reaper")

#: How a limited pass waits between partitions (a seam for tests).
_pause = asyncio.sleep


class Verdict(Enum):
    """What a pass decided about one group of segments."""

    TOO_YOUNG = "too_young"
    UNMARKED = "unmarked"
    UNVERIFIED = "unverified"
    REFERENCED = "referenced"
    ORPHAN = "orphan"


@dataclass
class ReapStats:
    """What one reaper pass over one node did."""

    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    #: Partitions walked (those whose first primary is one of this node's devices).
    partitions: int = 0
    #: Objects whose footers were read to find the segments (every object there).
    objects_read: int = 0
    #: Live segments found in them.
    segments_examined: int = 0
    #: Distinct groups (uploads) those segments belong to, and how each was judged.
    groups_examined: int = 0
    groups_too_young: int = 0
    groups_referenced: int = 0
    groups_unmarked: int = 0
    groups_unverified: int = 0
    groups_orphaned: int = 0
    segments_deleted: int = 0
    #: Bytes of the deleted segments (one copy; every replica is deleted).
    bytes_freed: int = 0
    #: Reads or deletes that failed (retried next pass).
    errors: int = 0

    def count(self, verdict: Verdict) -> None:
        self.groups_examined += 1
        name = f"groups_{'orphaned' if verdict is Verdict.ORPHAN else verdict.value}"
        setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> str:
        return (
            f"segment reaper pass: {self.partitions} partitions, {self.objects_read} objects "
            f"read, {self.segments_examined} "
            f"segments in {self.groups_examined} groups ({self.groups_too_young} too young, "
            f"{self.groups_referenced} referenced, {self.groups_orphaned} orphaned, "
            f"{self.groups_unmarked} unmarked, {self.groups_unverified} unverified), "
            f"{self.segments_deleted} segments deleted, {self.bytes_freed} bytes freed, "
            f"{self.errors} errors, {self.seconds:.2f}s"
        )


def referenced(version: str, answers: list[spb.HeadObjectResponse | None]) -> bool:
    """Whether a manifest of ``version`` is among every primary's current version."""
    wanted = Timestamp.parse(version)
    return any(
        answer is not None and Timestamp.parse(answer.object.timestamp) == wanted
        for answer in answers
    )


def _segments(device: DiskDevice, partition: int) -> tuple[list[PartitionEntry], int]:
    """The live segments of one partition and how many objects were read to find
    them (blocking: the device's thread pool)."""
    found: list[PartitionEntry] = []
    walked = 0
    for entry in device.list_partition(partition):
        walked += 1
        if entry.name.container == SEGMENTS and not entry.deleted:
            found.append(entry)
    return found, walked


class _Clock:
    """Delete timestamps that strictly increase within this reaper."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        ticks = max(time.time_ns() // (1_000_000_000 // TICKS_PER_SECOND), self._last + 1)
        self._last = ticks
        return Timestamp(ticks).internal


class SegmentReaper:
    """One node's segment reaper; see the module docstring."""

    def __init__(
        self,
        devices: Mapping[str, DeviceSlot],
        ring: LocalRing,
        credential: str,
        *,
        reap_age: float,
        node_timeout: float,
        files_per_second: float = 0.0,
        tls: Tls = PLAINTEXT,
        now: Callable[[], float] = time.time,
    ) -> None:
        if reap_age <= 0:
            raise errors.InvalidArgument(
                f"segment_reap_age must be positive, not {reap_age}",
                field="storage.segment_reap_age",
            )
        self.devices = {
            name: slot for name, slot in devices.items() if isinstance(slot.device, DiskDevice)
        }
        self.ring = ring
        self.reap_age = reap_age
        #: Objects read per second by a limited pass (0: no limit).
        self.files_per_second = files_per_second
        self.node_timeout = node_timeout
        self.pool = NodePool(credential, tls=tls)
        self.now = now
        self.clock = _Clock()
        self.lock = asyncio.Lock()
        self.last: ReapStats | None = None

    async def close(self) -> None:
        await self.pool.close()

    async def run_pass(self, *, limited: bool = False) -> ReapStats:
        """Judge every segment group this node is responsible for; delete the orphans.

        A ``limited`` pass (the background one) reads at most ``files_per_second``
        objects per second on average, pausing after each partition, so the walk
        does not compete with clients for the disks.  Waits for a running pass first.
        Raises Conflict (RING_NOT_LOADED / RING_IP_REQUIRED) before doing anything if
        the ring cannot be used."""
        async with self.lock:
            ring = self.ring.ring()
            replicas = ReplicaIO(ring, self.pool, self.node_timeout)
            stats = ReapStats()
            begun = time.monotonic()
            verdicts: dict[tuple[str, str], Verdict] = {}
            for name, slot in sorted(self.devices.items()):
                mine = self.ring.local_ids(name)
                device = slot.device
                assert isinstance(device, DiskDevice)
                for part in await asyncio.wrap_future(slot.submit(device.partitions)):
                    if part >= ring.parts or ring.get_part_device_ids(part)[0] not in mine:
                        continue  # another node's (or a handoff copy: replication moves it)
                    stats.partitions += 1
                    try:
                        found, walked = await asyncio.wrap_future(
                            slot.submit(_segments, device, part)
                        )
                    except Exception as exc:
                        stats.errors += 1
                        log.warning("reaper: partition %d of %s unreadable: %s", part, name, exc)
                        continue
                    stats.objects_read += walked
                    for entry in found:
                        await self._segment(slot, part, entry, replicas, verdicts, stats)
                    if limited and self.files_per_second > 0:
                        await _pause(walked / self.files_per_second)
            stats.seconds = time.monotonic() - begun
            self.last = stats
            log.info("%s", stats.summary())
            return stats

    async def _segment(
        self,
        slot: DeviceSlot,
        part: int,
        entry: PartitionEntry,
        replicas: ReplicaIO,
        verdicts: dict[tuple[str, str], Verdict],
        stats: ReapStats,
    ) -> None:
        segment = SegmentName.parse(entry.name.object)
        if segment is None:
            return  # not a segment name: not the proxy's, not ours to judge
        stats.segments_examined += 1
        key = (entry.name.account, segment.group)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = await self._judge(slot, part, entry.name, segment, replicas, stats)
            verdicts[key] = verdict
            stats.count(verdict)
        if verdict is not Verdict.ORPHAN:
            return
        try:
            await replicas.delete(
                entry.name.account, SEGMENTS, entry.name.object, self.clock.next()
            )
        except errors.CumuloError as exc:
            stats.errors += 1
            log.warning("reaper: could not delete segment %s: %s", entry.name.path, exc)
            return
        stats.segments_deleted += 1
        stats.bytes_freed += entry.size

    async def _judge(
        self,
        slot: DeviceSlot,
        part: int,
        name: ObjectName,
        segment: SegmentName,
        replicas: ReplicaIO,
        stats: ReapStats,
    ) -> Verdict:
        if self.now() - Timestamp.parse(segment.version).seconds < self.reap_age:
            return Verdict.TOO_YOUNG
        device = slot.device
        assert isinstance(device, DiskDevice)
        try:
            meta = await asyncio.wrap_future(slot.submit(device.head, part, name))
        except errors.CumuloError as exc:  # deleted or quarantined meanwhile
            log.info("reaper: segment %s unreadable: %s", name.path, exc)
            return Verdict.UNVERIFIED
        owner = owner_of(meta.metadata, segment.digest)
        if owner is None:
            return Verdict.UNMARKED
        container, obj = owner
        try:
            answers = await replicas.every_primary(name.account, container, obj)
        except errors.CumuloError as exc:
            stats.errors += 1
            log.warning("reaper: %s/%s not verified: %s", container, obj, exc)
            return Verdict.UNVERIFIED
        if referenced(segment.version, answers):
            return Verdict.REFERENCED
        log.info(
            "reaper: segments %s/%s of %s/%s/%s are referenced by no manifest; deleting",
            name.account,
            segment.group,
            name.account,
            container,
            obj,
        )
        return Verdict.ORPHAN
