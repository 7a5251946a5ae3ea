"""The ``cumulo.containerserver.v1`` servicer: index shards on this node's devices.

Served by the object-server process next to ``ObjectServerService`` (same devices,
same storage credential, same thread pools), so a storage node is still one
process.  Thin: each method checks the shard references, runs the SQLite work on
the device's thread pool and maps results; see ``index.py`` for the storage
contract and ``merge.py`` for how shards and replicas are merged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

import grpc
from grpc import aio

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as pb
from cumulo.containerserver.v1 import containerserver_pb2_grpc
from cumulo.rpc.status import code_for
from storage.container.index import IndexShard, Row, ShardCache, Stats, shard_file, shard_key
from storage.container.merge import list_grouped, merge_listings
from storage.names import validate_account, validate_container, validate_object
from storage.object.groupsync import syncfs, syncfs_available
from storage.timestamp import Timestamp

log = logging.getLogger("cumulo.storage.container")

SERVICE_NAME = "cumulo.containerserver.v1.ContainerServerService"
MAX_LIST = 10_000
MAX_SHARDS = 4096
#: Most rows one SyncIndexRows may carry, and most one ListIndexChanges may scan.
MAX_SYNC_ROWS = 10_000

T = TypeVar("T")


@dataclass
class IndexDevice:
    """Where one device keeps its index shards, and the threads that touch them."""

    path: str
    executor: Executor


#: One pending shard update: (database path, shard key, rows, the caller's future).
_Pending = tuple[str, str, list[Row], "asyncio.Future[list[Row]]"]


class _IndexCommitter:
    """Group commit of one device's index updates (leader/follower on the event loop).

    Updates that arrive while a batch is being applied wait for the next one; a batch
    takes ONE thread hop for the whole device and applies all rows of one shard in ONE
    transaction, however many calls and proxies they came from: three proxies writing
    to a node cost it no more transactions than one proxy does.  The transactions
    commit without syncing their logs, and ONE ``syncfs`` of the device's file system
    then makes the whole batch durable before any caller hears of it (where syncfs
    exists; elsewhere each transaction syncs its own log).  A caller gets the live
    rows replaced in its shard by the merged rows (every name in the batch; callers
    keep their own names), or the error of its shard's transaction, or Unavailable
    (``INDEX_SYNC_FAILED``) for every shard of a batch whose sync failed.
    """

    def __init__(self, device: IndexDevice, open_shard: Callable[[str, str], IndexShard]) -> None:
        self._device = device
        self._open = open_shard
        self._pending: list[_Pending] = []
        self._drainer: asyncio.Task[None] | None = None

    def submit(self, path: str, key: str, rows: list[Row]) -> asyncio.Future[list[Row]]:
        """Queue ``rows`` for the shard at ``path``; the future has its outcome."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Row]] = loop.create_future()
        self._pending.append((path, key, rows, future))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    outcomes = await loop.run_in_executor(self._device.executor, self._work, batch)
                except BaseException as exc:  # the executor is gone (shutdown)
                    outcomes = {path: exc for path, _, _, _ in batch}
                for path, _, _, future in batch:
                    if future.done():
                        continue
                    outcome = outcomes[path]
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._drainer = None

    def _work(self, batch: list[_Pending]) -> dict[str, list[Row] | BaseException]:
        shards: dict[str, tuple[str, list[Row]]] = {}
        for path, key, rows, _ in batch:
            shards.setdefault(path, (key, []))[1].extend(rows)
        outcomes: dict[str, list[Row] | BaseException] = {}
        # One syncfs for the whole batch instead of one WAL sync per shard touched
        # (a batch under load touches several of a container's shards).
        deferred = syncfs_available()
        for path, (key, rows) in shards.items():
            try:
                replaced: list[Row] = []
                self._open(path, key).apply(rows, replaced=replaced, durable=not deferred)
                outcomes[path] = replaced
            except Exception as exc:
                if not isinstance(exc, errors.CumuloError):
                    log.exception("index update on %s failed", path)
                outcomes[path] = exc
        if deferred and any(not isinstance(o, BaseException) for o in outcomes.values()):
            try:
                syncfs(self._device.path)
            except OSError as exc:
                log.error("syncing the index device %s failed: %s", self._device.path, exc)
                failure = errors.Unavailable(
                    f"index device {self._device.path} could not be synced ({exc}); retry",
                    reason="INDEX_SYNC_FAILED",
                )
                outcomes = {path: failure for path in outcomes}
        return outcomes


def row_message(row: Row) -> pb.IndexRow:
    return pb.IndexRow(
        name=row.name,
        timestamp=row.timestamp,
        deleted=row.deleted,
        size=row.size,
        etag=row.etag,
        content_type=row.content_type,
        extra=row.extra,
    )


def row_from(message: pb.IndexRow) -> Row:
    return Row(
        message.name,
        message.timestamp,
        message.deleted,
        message.size,
        message.etag,
        message.content_type,
        message.extra,
    )


class ContainerServerServicer(containerserver_pb2_grpc.ContainerServerServiceServicer):
    """Index shards of one node's devices."""

    def __init__(self, devices: Mapping[str, IndexDevice]) -> None:
        self._devices = dict(devices)
        self._shards = ShardCache()
        self._committers = {
            name: _IndexCommitter(device, self._open_for_update)
            for name, device in self._devices.items()
        }

    @property
    def shards(self) -> ShardCache:
        """The open databases; the index replicator shares them (one handle per file)."""
        return self._shards

    def close(self) -> None:
        self._shards.close()

    def _locate(self, ref: pb.ShardRef) -> tuple[IndexDevice, str, str]:
        device = self._devices.get(ref.device)
        if device is None:
            raise errors.NotFound(f"device {ref.device!r} is not on this server", field="device")
        validate_account(ref.account, "shard.account")
        if ref.container:
            validate_container(ref.container, "shard.container")
        if ref.shard >= MAX_SHARDS:
            raise errors.InvalidArgument(f"shard must be below {MAX_SHARDS}", field="shard.shard")
        path = shard_file(device.path, ref.partition, ref.account, ref.container, ref.shard)
        return device, path, shard_key(ref.account, ref.container, ref.shard)

    async def _run(self, device: IndexDevice, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(device.executor, fn, *args)

    def _open(self, path: str, key: str, create: bool) -> IndexShard | None:
        return self._shards.get(path, key, create=create)

    def _open_for_update(self, path: str, key: str) -> IndexShard:
        shard = self._shards.get(path, key, create=True)
        assert shard is not None  # create=True always opens one
        return shard

    def _prepare(self, update: pb.ShardUpdate) -> tuple[IndexDevice, str, str, list[Row]]:
        device, path, key = self._locate(update.shard)
        rows = []
        for message in update.rows:
            # Account lists hold container names, container shards object names.
            if update.shard.container:
                validate_object(message.name, "rows.name")
            else:
                validate_container(message.name, "rows.name")
            rows.append(row_from(message))
        return device, path, key, rows

    @staticmethod
    def _failed(exc: BaseException) -> pb.ShardResult:
        if isinstance(exc, errors.CumuloError):
            return pb.ShardResult(code=code_for(exc).value[0], message=str(exc))
        # A failing disk: the proxy tries another replica.
        return pb.ShardResult(code=grpc.StatusCode.UNAVAILABLE.value[0], message=str(exc))

    async def apply_update(self, update: pb.ShardUpdate) -> list[Row]:
        """Apply one shard update durably, in-process (the node's object server calls it
        for the listing updates that follow its own writes); the live rows it replaced.
        Shares the device's group commit with UpdateIndex; raises CumuloError."""
        _device, path, key, rows = self._prepare(update)
        return await self._committers[update.shard.device].submit(path, key, rows)

    async def UpdateIndex(
        self, request: pb.UpdateIndexRequest, context: aio.ServicerContext
    ) -> pb.UpdateIndexResponse:
        """Each update is applied durably before the answer; concurrent updates of one
        device share thread hops and transactions (:class:`_IndexCommitter`)."""
        results: list[pb.ShardResult] = [pb.ShardResult(code=0) for _ in request.updates]
        waits: list[tuple[int, asyncio.Future[list[Row]]]] = []
        for i, update in enumerate(request.updates):
            try:
                _device, path, key, rows = self._prepare(update)
            except errors.CumuloError as exc:
                results[i] = self._failed(exc)
                continue
            committer = self._committers[update.shard.device]
            waits.append((i, committer.submit(path, key, rows)))
        for i, waiting in waits:
            try:
                replaced = await waiting
            except Exception as exc:
                results[i] = self._failed(exc)
                continue
            results[i].replaced.extend(row_message(r) for r in replaced)
        return pb.UpdateIndexResponse(results=results)

    async def ListIndex(
        self, request: pb.ListIndexRequest, context: aio.ServicerContext
    ) -> pb.ListIndexResponse:
        if not 1 <= request.limit <= MAX_LIST:
            raise errors.InvalidArgument(f"limit must be 1-{MAX_LIST}", field="limit")
        limit = request.limit
        if request.delimiter:
            located = [self._locate(ref) for ref in request.shards]
            if not located:
                return pb.ListIndexResponse()

            def grouped() -> tuple[list[Row], bool]:
                shards = [self._open(path, key, False) for _, path, key in located]
                return list_grouped(
                    shards, request.prefix, request.marker, request.delimiter, limit
                )

            rows, truncated = await self._run(located[0][0], grouped)
            return pb.ListIndexResponse(rows=[row_message(r) for r in rows], truncated=truncated)

        async def one(ref: pb.ShardRef) -> tuple[list[Row], bool]:
            device, path, key = self._locate(ref)

            def work() -> list[Row]:
                shard = self._open(path, key, False)
                return [] if shard is None else shard.list(request.prefix, request.marker, limit)

            rows = await self._run(device, work)
            return rows, len(rows) >= limit

        lists = await asyncio.gather(*(one(ref) for ref in request.shards))
        rows, truncated = merge_listings(lists, limit)
        return pb.ListIndexResponse(rows=[row_message(r) for r in rows], truncated=truncated)

    async def GetIndexStats(
        self, request: pb.GetIndexStatsRequest, context: aio.ServicerContext
    ) -> pb.GetIndexStatsResponse:
        async def one(ref: pb.ShardRef) -> pb.ShardStats:
            device, path, key = self._locate(ref)

            def work() -> Stats:
                shard = self._open(path, key, False)
                return Stats(False, 0, 0, "") if shard is None else shard.stats()

            stats = await self._run(device, work)
            return pb.ShardStats(
                exists=stats.exists,
                object_count=stats.object_count,
                bytes_used=stats.bytes_used,
                max_timestamp=stats.max_timestamp,
            )

        return pb.GetIndexStatsResponse(
            stats=await asyncio.gather(*(one(r) for r in request.shards))
        )

    async def GetIndexSyncPoints(
        self, request: pb.GetIndexSyncPointsRequest, context: aio.ServicerContext
    ) -> pb.GetIndexSyncPointsResponse:
        if len(request.shards) > MAX_SHARDS:
            raise errors.InvalidArgument(
                f"{len(request.shards)} shards asked for; at most {MAX_SHARDS} per call",
                field="shards",
            )
        if len(request.source_ids) != len(request.shards) or not all(request.source_ids):
            raise errors.InvalidArgument(
                "source_ids must hold one non-empty replica id per shard",
                field="source_ids",
                hint="send the asking database's replica id for each shard, in order",
            )
        located = [self._locate(ref) for ref in request.shards]
        if not located:
            return pb.GetIndexSyncPointsResponse()

        def work() -> list[pb.IndexSyncPoint]:
            points = []
            for (_, path, key), source in zip(located, request.source_ids, strict=True):
                shard = self._open(path, key, False)
                if shard is None:
                    points.append(pb.IndexSyncPoint(exists=False))
                    continue
                state = shard.sync_state(source)
                points.append(
                    pb.IndexSyncPoint(
                        exists=True,
                        replica_id=state.replica_id,
                        max_seq=state.max_seq,
                        point=state.point,
                    )
                )
            return points

        # One thread hop: the shards of one request share a partition, so a device.
        return pb.GetIndexSyncPointsResponse(points=await self._run(located[0][0], work))

    async def ListIndexChanges(
        self, request: pb.ListIndexChangesRequest, context: aio.ServicerContext
    ) -> pb.ListIndexChangesResponse:
        if not 1 <= request.limit <= MAX_SYNC_ROWS:
            raise errors.InvalidArgument(f"limit must be 1-{MAX_SYNC_ROWS}", field="limit")
        cutoff = request.skip_tombstones_before
        if cutoff:
            cutoff = Timestamp.parse(cutoff, "skip_tombstones_before").internal
        device, path, key = self._locate(request.shard)
        ref = request.shard

        def work() -> pb.ListIndexChangesResponse:
            shard = self._open(path, key, False)
            if shard is None:
                raise errors.NotFound(
                    f"shard {key} (partition {ref.partition}) is not on device {ref.device}",
                    field="shard",
                    reason="SHARD_NOT_FOUND",
                    hint="GetIndexSyncPoints tells which shards a device holds",
                )
            changes = shard.changes(request.after_seq, request.limit, cutoff)
            return pb.ListIndexChangesResponse(
                replica_id=shard.replica_id,
                rows=[row_message(r) for r in changes.rows],
                up_to_seq=changes.up_to,
                more=changes.more,
            )

        return await self._run(device, work)

    async def SyncIndexRows(
        self, request: pb.SyncIndexRowsRequest, context: aio.ServicerContext
    ) -> pb.SyncIndexRowsResponse:
        if not request.source_id:
            raise errors.InvalidArgument(
                "source_id is required", field="source_id", hint="the sender's replica id"
            )
        if len(request.rows) > MAX_SYNC_ROWS:
            raise errors.InvalidArgument(
                f"{len(request.rows)} rows; at most {MAX_SYNC_ROWS} per call", field="rows"
            )
        device, path, key, rows = self._prepare(
            pb.ShardUpdate(shard=request.shard, rows=request.rows)
        )
        for row in rows:
            Timestamp.parse(row.timestamp, "rows.timestamp")

        def work() -> pb.SyncIndexRowsResponse:
            shard = self._open(path, key, True)
            assert shard is not None
            applied = shard.apply(rows, source=request.source_id, up_to=request.up_to_seq)
            return pb.SyncIndexRowsResponse(
                applied=applied, point=shard.sync_state(request.source_id).point
            )

        return await self._run(device, work)
