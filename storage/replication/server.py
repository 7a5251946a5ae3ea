"""The ``cumulo.objectserver.v1.ReplicationService`` servicer: thin glue over the daemons.

Validates each request, runs blocking disk work on the device's own thread pool,
and maps results to messages; errors are ``cumulo.errors`` (mapped by the
ApiInterceptor).  Served by every object server behind the storage credential.
"""

from __future__ import annotations

import asyncio

from google.protobuf import timestamp_pb2
from grpc import aio

from cumulo import errors
from cumulo.objectserver.v1 import replication_pb2 as pb
from cumulo.objectserver.v1 import replication_pb2_grpc
from storage.object.suffixes import MAX_SUFFIXES, is_suffix
from storage.replication import partition as disk
from storage.replication.auditor import AuditStats
from storage.replication.daemons import Daemons, DeviceDaemons
from storage.replication.reaper import ReapStats
from storage.replication.replicator import PassStats

SERVICE_NAME = "cumulo.objectserver.v1.ReplicationService"
#: Partitions one GetSuffixHashesBatch call may ask for.
MAX_BATCH_PARTITIONS = 1024


def _stamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def pass_message(stats: PassStats) -> pb.ReplicationPass:
    message = _object_pass_message(stats)
    if stats.index is not None:
        index = stats.index
        message.index.CopyFrom(
            pb.IndexReplicationPass(
                seconds=index.seconds,
                databases=index.databases,
                rows_pushed=index.rows_pushed,
                rows_pulled=index.rows_pulled,
                handoffs_removed=index.handoffs_removed,
                tombstones_reclaimed=index.tombstones_reclaimed,
                errors=index.errors,
            )
        )
    return message


def _object_pass_message(stats: PassStats) -> pb.ReplicationPass:
    return pb.ReplicationPass(
        device=stats.device,
        started_at=_stamp(stats.started_at),
        seconds=stats.seconds,
        partitions=stats.partitions,
        suffixes_synced=stats.suffixes_synced,
        objects_pushed=stats.objects_pushed,
        objects_pulled=stats.objects_pulled,
        handoffs_removed=stats.handoffs_removed,
        tombstones_reclaimed=stats.tombstones_reclaimed,
        errors=stats.errors,
    )


def audit_message(stats: AuditStats) -> pb.AuditPass:
    return pb.AuditPass(
        device=stats.device,
        started_at=_stamp(stats.started_at),
        seconds=stats.seconds,
        files=stats.files,
        bytes=stats.bytes,
        quarantined=stats.quarantined,
    )


def reap_message(stats: ReapStats) -> pb.SegmentReapPass:
    return pb.SegmentReapPass(
        started_at=_stamp(stats.started_at),
        seconds=stats.seconds,
        partitions=stats.partitions,
        segments_examined=stats.segments_examined,
        groups_examined=stats.groups_examined,
        groups_too_young=stats.groups_too_young,
        groups_referenced=stats.groups_referenced,
        groups_orphaned=stats.groups_orphaned,
        groups_unmarked=stats.groups_unmarked,
        groups_unverified=stats.groups_unverified,
        segments_deleted=stats.segments_deleted,
        bytes_freed=stats.bytes_freed,
        errors=stats.errors,
    )


class ReplicationServicer(replication_pb2_grpc.ReplicationServiceServicer):
    """See proto/cumulo/objectserver/v1/replication.proto for each RPC's contract."""

    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    def _device(self, name: str) -> DeviceDaemons:
        if not name:
            raise errors.InvalidArgument(
                "device is required", field="device", hint="name a device, e.g. d1"
            )
        return self.daemons.select([name])[0]

    async def GetSuffixHashes(
        self, request: pb.GetSuffixHashesRequest, context: aio.ServicerContext
    ) -> pb.GetSuffixHashesResponse:
        replicator = self._device(request.device).replicator
        result = await asyncio.wrap_future(
            replicator.slot.submit(
                disk.suffix_hashes, replicator.device, request.partition, replicator.reclaim_age
            )
        )
        return pb.GetSuffixHashesResponse(hashes=result.hashes)

    async def GetSuffixHashesBatch(
        self, request: pb.GetSuffixHashesBatchRequest, context: aio.ServicerContext
    ) -> pb.GetSuffixHashesBatchResponse:
        replicator = self._device(request.device).replicator
        if len(request.partitions) > MAX_BATCH_PARTITIONS:
            raise errors.InvalidArgument(
                f"{len(request.partitions)} partitions asked for; at most "
                f"{MAX_BATCH_PARTITIONS} per call",
                field="partitions",
                hint="split the request",
            )
        parts = list(dict.fromkeys(request.partitions))

        def work() -> dict[int, dict[str, str]]:
            return {
                part: disk.suffix_hashes(replicator.device, part, replicator.reclaim_age).hashes
                for part in parts
            }

        hashes = await asyncio.wrap_future(replicator.slot.submit(work))
        return pb.GetSuffixHashesBatchResponse(
            partitions={
                part: pb.PartitionSuffixHashes(hashes=found) for part, found in hashes.items()
            }
        )

    async def ListPartitions(
        self, request: pb.ListPartitionsRequest, context: aio.ServicerContext
    ) -> pb.ListPartitionsResponse:
        replicator = self._device(request.device).replicator
        held = await asyncio.wrap_future(replicator.slot.submit(replicator.device.partitions))
        return pb.ListPartitionsResponse(partitions=sorted(held))

    async def ListSuffixEntries(
        self, request: pb.ListSuffixEntriesRequest, context: aio.ServicerContext
    ) -> pb.ListSuffixEntriesResponse:
        replicator = self._device(request.device).replicator
        if len(request.suffixes) > MAX_SUFFIXES:
            raise errors.InvalidArgument(
                f"{len(request.suffixes)} suffixes asked for; a partition has at most "
                f"{MAX_SUFFIXES}",
                field="suffixes",
            )
        for suffix in request.suffixes:
            if not is_suffix(suffix):
                raise errors.InvalidArgument(
                    f"suffix {suffix[:20]!r} is not three lower-case hex digits",
                    field="suffixes",
                    hint="use the keys GetSuffixHashes returned, e.g. 'a3f'",
                )
        entries = await asyncio.wrap_future(
            replicator.slot.submit(
                disk.suffix_entries, replicator.device, request.partition, list(request.suffixes)
            )
        )
        return pb.ListSuffixEntriesResponse(
            entries=[
                pb.SuffixEntry(
                    name_hash=e.name_hash,
                    account=e.name.account,
                    container=e.name.container,
                    object=e.name.object,
                    timestamp=e.timestamp.internal,
                    deleted=e.deleted,
                )
                for e in entries
            ]
        )

    async def RunReplication(
        self, request: pb.RunReplicationRequest, context: aio.ServicerContext
    ) -> pb.RunReplicationResponse:
        passes = await self.daemons.replicate_now(list(request.devices))
        return pb.RunReplicationResponse(passes=[pass_message(p) for p in passes])

    async def RunAudit(
        self, request: pb.RunAuditRequest, context: aio.ServicerContext
    ) -> pb.RunAuditResponse:
        passes = await self.daemons.audit_now(list(request.devices))
        return pb.RunAuditResponse(passes=[audit_message(p) for p in passes])

    async def RunSegmentReap(
        self, request: pb.RunSegmentReapRequest, context: aio.ServicerContext
    ) -> pb.RunSegmentReapResponse:
        return pb.RunSegmentReapResponse(reap=reap_message(await self.daemons.reap_now()))

    async def GetReplicationStatus(
        self, request: pb.GetReplicationStatusRequest, context: aio.ServicerContext
    ) -> pb.GetReplicationStatusResponse:
        daemons = self.daemons
        settings = daemons.settings
        response = pb.GetReplicationStatusResponse(
            replication_enabled=settings.replication_enabled,
            audit_enabled=settings.audit_enabled,
            replication_interval=settings.replication_interval,
            reclaim_age=settings.reclaim_age,
            ring_file=str(settings.ring_file),
            ring_version=daemons.ring.version,
            segment_reap_enabled=settings.segment_reap_enabled,
            segment_reap_age=settings.segment_reap_age,
            reaping=daemons.reaper.lock.locked(),
        )
        if daemons.reaper.last is not None:
            response.last_segment_reap.CopyFrom(reap_message(daemons.reaper.last))
        for name, device in daemons.devices.items():
            status = response.devices.add(
                device=name,
                replicating=device.replicator.lock.locked(),
                auditing=device.audit_lock.locked(),
            )
            if device.replicator.last is not None:
                status.last_replication.CopyFrom(pass_message(device.replicator.last))
            if device.last_audit is not None:
                status.last_audit.CopyFrom(audit_message(device.last_audit))
        return response
