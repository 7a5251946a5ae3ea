"""The ``cumulo.objectserver.v1`` servicer: thin glue between gRPC streams and device stores.

Each method validates the request, runs the blocking store work on the device's
own thread pool (so a slow disk stalls only its own requests, never the event
loop or the other devices) and maps results to messages; errors are
``cumulo.errors`` raised by the store and mapped by the ApiInterceptor.

Per-request overhead matters (thousands of small PUTs per second are the goal),
so work is batched into as few thread hops as possible: a PUT of an object
smaller than one chunk is one hop (write, fsync, rename, fsync at commit), a GET
of one chunk is one hop (open, read, verify), and large objects take one hop per
stored chunk.  A request that ends early - client cancelled, stream closed
before its commit message - aborts its writer once any in-flight disk work has
finished, so a file descriptor is never closed under a running thread.

``RunSession`` serves small PUTs, GETs, HEADs and DELETEs multiplexed over one
stream, each as its own task, through the same code as the single RPCs: a gRPC
call costs the server several times the CPU of a message on an open stream
(see docs/object-server.md, "Measured"), and small objects are all overhead.
What is waiting goes out as one message both ways when both ends announced
batches (``batching.py``).  A session PUT is not one thread hop of its own: the
PUTs waiting for a device are written and committed together by one pool thread
(:func:`_small_puts`, ``ObjectDevice.commit_many``), which then wakes the loop
once for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2
from grpc import aio

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.objectserver.v1 import objectserver_pb2 as pb
from cumulo.objectserver.v1 import objectserver_pb2_grpc
from cumulo.rpc.interceptors import REQUEST_ID
from cumulo.rpc.linger import Linger
from cumulo.rpc.status import code_for
from cumulo.types.v1 import types_pb2
from storage.object.batching import (
    BATCH_KEY,
    BATCH_VALUE,
    announces_batches,
    pack_responses,
    unpack_requests,
)
from storage.object.groupsync import LoopBatcher
from storage.object.store import (
    ObjectDevice,
    ObjectMetadata,
    ObjectName,
    ObjectNotFound,
    ObjectReader,
    ObjectWriter,
    PendingPut,
    ReadLater,
    Version,
    check_range,
)
from storage.timestamp import TICKS_PER_SECOND, Timestamp

log = logging.getLogger("cumulo.storage.object.server")

SERVICE_NAME = "cumulo.objectserver.v1.ObjectServerService"
#: Largest object (or range) a session PUT or GET carries in its one message.
SESSION_MAX_BYTES = 1 << 20
#: Session PUTs up to this size are committed in batches by one thread
#: (:func:`_small_puts`); larger ones take a thread each, so they hash in parallel.
BATCHED_PUT_MAX_BYTES = 64 << 10
#: Requests of one session served at once; reading pauses beyond this.
SESSION_MAX_IN_FLIGHT = 256
_NANOS_PER_TICK = 1_000_000_000 // TICKS_PER_SECOND
#: Entries per ListPartition message.
LIST_PAGE = 1000

T = TypeVar("T")

#: Applies one index shard update on this node; the replaced live rows (as messages).
ListingApplier = Callable[[ipb.ShardUpdate], Awaitable[list[ipb.IndexRow]]]


@dataclass
class DeviceSlot:
    """A device and the threads that do its disk I/O."""

    device: ObjectDevice
    executor: ThreadPoolExecutor

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self.executor.submit(fn, *args)


def _pb_time(stamp: Timestamp | None) -> timestamp_pb2.Timestamp:
    if stamp is None:
        return timestamp_pb2.Timestamp()
    seconds, ticks = divmod(stamp.ticks, TICKS_PER_SECOND)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=ticks * _NANOS_PER_TICK)


def _same_version(one: str, other: str) -> bool:
    try:
        return Timestamp.parse(one) == Timestamp.parse(other)
    except errors.CumuloError:
        return False


def metadata_message(meta: ObjectMetadata, *, digests: bool = False) -> pb.ObjectMetadata:
    return pb.ObjectMetadata(
        account=meta.name.account,
        container=meta.name.container,
        object=meta.name.object,
        timestamp=meta.timestamp.internal,
        size=meta.size,
        content_type=meta.content_type,
        metadata=dict(meta.metadata),
        etag=meta.etag,
        sha256=meta.sha256,
        chunk_size=meta.chunk_size,
        chunk_xxh3=list(meta.chunk_xxh3) if digests else [],
        created_at=_pb_time(meta.created_at),
        modified_at=_pb_time(meta.modified_at),
    )


def _name(location: pb.ObjectLocation) -> ObjectName:
    return ObjectName(location.account, location.container, location.object)


def _version_response(name: ObjectName, version: Version) -> pb.HeadObjectResponse:
    """A ``timestamp_only`` HEAD's answer: the name, the timestamp, tombstone or not."""
    return pb.HeadObjectResponse(
        object=pb.ObjectMetadata(
            account=name.account,
            container=name.container,
            object=name.object,
            timestamp=version.timestamp,
        ),
        deleted=version.deleted,
    )


def _write_pending(writer: ObjectWriter, pending: list[tuple[bytes, int | None]]) -> None:
    for data, xxh3 in pending:
        writer.write(data, xxh3)


def _write_and_commit(
    writer: ObjectWriter,
    pending: list[tuple[bytes, int | None]],
    expected_size: int | None,
    expected_md5: str,
    expected_sha256: str,
) -> ObjectMetadata:
    _write_pending(writer, pending)
    return writer.commit(
        expected_size=expected_size, expected_md5=expected_md5, expected_sha256=expected_sha256
    )


def _after(inflight: Future[Any] | None, cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` now, or when the disk work still running for this request ends."""
    if inflight is None or inflight.done():
        cleanup()
    else:
        inflight.add_done_callback(lambda _future: cleanup())


class _PieceStream:
    """The pieces of ``[start, end)`` of an open object, one per call of :meth:`next`.

    The call that returns the piece reaching ``end`` also runs the reader's final
    checks in the same thread hop, so no hop is spent just to learn that the stream
    ended - for a one-chunk object, that halves the hops.
    """

    def __init__(self, pieces: Iterator[tuple[bytes, int]], start: int, end: int) -> None:
        self._pieces = pieces
        self.start = start
        self.end = end
        self.position = start

    @property
    def finished(self) -> bool:
        return self.position >= self.end

    def next(self) -> tuple[bytes, int] | None:
        piece = next(self._pieces, None)
        if piece is not None:
            self.position += len(piece[0])
        if self.finished:
            for _rest in self._pieces:  # nothing is left but the final checks
                raise AssertionError("the reader returned bytes past the range")
        return piece


def _expected_size(header: pb.PutObjectHeader, commit: pb.PutObjectCommit) -> int | None:
    announced = [
        message.expected_size for message in (header, commit) if message.HasField("expected_size")
    ]
    if len(set(announced)) > 1:
        raise errors.InvalidArgument(
            f"the header announced {announced[0]} bytes but the commit {announced[1]}",
            field="commit.expected_size",
        )
    return announced[0] if announced else None


class ObjectServerServicer(objectserver_pb2_grpc.ObjectServerServiceServicer):
    """Serves the devices it is given, by name."""

    def __init__(
        self, devices: Mapping[str, DeviceSlot], listings: ListingApplier | None = None
    ) -> None:
        self._devices = dict(devices)
        #: This node's index shards, for the listing updates that follow session PUTs
        #: (header.then_list); None where the node serves no index (they are refused).
        self._listings = listings

    def _slot(self, device: str, field: str = "location.device") -> DeviceSlot:
        slot = self._devices.get(device)
        if slot is None:
            raise errors.NotFound(
                f"device {device!r} is not served by this object server",
                field=field,
                reason="DEVICE_NOT_FOUND",
                hint=f"devices here: {', '.join(sorted(self._devices)) or 'none'}",
            )
        return slot

    async def PutObject(
        self, request_iterator: AsyncIterator[pb.PutObjectRequest], context: aio.ServicerContext
    ) -> pb.PutObjectResponse:
        stream = aiter(request_iterator)
        message = await anext(stream, None)
        if message is None or not message.HasField("header"):
            raise errors.InvalidArgument(
                "the first PutObject message must carry the header", field="header"
            )
        header = message.header
        slot = self._slot(header.location.device)
        writer = slot.device.create_writer(
            header.location.partition,
            _name(header.location),
            Timestamp.parse(header.timestamp, field="header.timestamp"),
            content_type=header.content_type,
            metadata=header.metadata,
            chunk_size=header.chunk_size,
            want_sha256=header.compute_sha256,
            trusted_md5=header.trusted_md5,
        )
        # Group small messages so each thread hop writes at least one stored chunk.
        flush_at = header.chunk_size or slot.device.chunk_size
        pending: list[tuple[bytes, int | None]] = []
        pending_bytes = 0
        received = 0
        announced = header.expected_size if header.HasField("expected_size") else None
        inflight: Future[Any] | None = None
        try:
            while message is not None:
                if message.HasField("chunk"):
                    chunk = message.chunk
                    data = chunk.data  # read once: each read of a bytes field copies it
                    pending.append((data, chunk.xxh3 if chunk.HasField("xxh3") else None))
                    pending_bytes += len(data)
                    received += len(data)
                    if announced is not None and received > announced:
                        raise errors.InvalidArgument(
                            f"more than the announced {announced} bytes arrived; "
                            "nothing was stored",
                            field="header.expected_size",
                            reason="SIZE_MISMATCH",
                        )
                if message.HasField("commit"):
                    commit = message.commit
                    md5s = {m.lower() for m in (header.expected_md5, commit.expected_md5) if m}
                    if len(md5s) > 1:
                        raise errors.InvalidArgument(
                            "the header and the commit expect different MD5s",
                            field="commit.expected_md5",
                        )
                    # The rest of the bytes, fsync, rename, fsync: one thread hop.
                    inflight = slot.submit(
                        _write_and_commit,
                        writer,
                        pending,
                        _expected_size(header, commit),
                        md5s.pop() if md5s else "",
                        commit.expected_sha256,
                    )
                    meta = await asyncio.wrap_future(inflight)
                    return pb.PutObjectResponse(object=metadata_message(meta))
                if pending_bytes >= flush_at:
                    inflight = slot.submit(_write_pending, writer, pending)
                    await asyncio.wrap_future(inflight)
                    pending, pending_bytes = [], 0
                message = await anext(stream, None)
                if message is not None and message.HasField("header"):
                    raise errors.InvalidArgument(
                        "only the first PutObject message may carry the header", field="header"
                    )
            raise errors.InvalidArgument(
                f"the stream ended after {writer.bytes_written + pending_bytes} bytes without "
                "its commit; nothing was stored",
                field="commit",
                reason="INCOMPLETE_UPLOAD",
                hint="end every PutObject stream with a commit",
            )
        finally:
            # A no-op after a commit; otherwise the temporary file goes.
            _after(inflight, writer.abort)

    async def GetObject(
        self, request: pb.GetObjectRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.GetObjectResponse]:
        slot = self._slot(request.location.device)
        name = _name(request.location)
        wanted: tuple[int, int | None] | None = None
        if request.HasField("range"):
            wanted = (
                request.range.start,
                request.range.end if request.range.HasField("end") else None,
            )

        def open_and_read_first() -> tuple[ObjectReader, _PieceStream, tuple[bytes, int] | None]:
            reader = slot.device.open(request.location.partition, name)
            try:
                size = reader.metadata.size
                start, end = check_range(size, *wanted) if wanted else (0, size)
                stream = _PieceStream(reader.iter_range(start, end), start, end)
                return reader, stream, stream.next()
            except BaseException:
                reader.close()
                raise

        inflight: Future[Any] = slot.submit(open_and_read_first)
        reader, stream, piece = await asyncio.wrap_future(inflight)
        try:
            # The header travels with the first chunk: a small object is one message.
            response = pb.GetObjectResponse(
                header=pb.GetObjectHeader(
                    object=metadata_message(reader.metadata), start=stream.start, end=stream.end
                )
            )
            while piece is not None:
                data, digest = piece
                response.chunk.data = data
                if digest:
                    response.chunk.xxh3 = digest
                yield response
                if stream.finished:
                    return
                response = pb.GetObjectResponse()
                inflight = slot.submit(stream.next)
                piece = await asyncio.wrap_future(inflight)
            if response.HasField("header"):
                yield response  # an empty object or range: the header alone
        finally:
            _after(inflight, reader.close)

    async def HeadObject(
        self, request: pb.HeadObjectRequest, context: aio.ServicerContext
    ) -> pb.HeadObjectResponse:
        return await self._head(request)

    async def _head_version(
        self, slot: DeviceSlot, request: pb.HeadObjectRequest, name: ObjectName
    ) -> pb.HeadObjectResponse:
        """A HEAD with ``timestamp_only``: from the device's memory of recent
        installs when it has one (no thread hop: the common case of a read soon
        after its write), else one directory listing on the device's threads."""
        device = slot.device
        partition = request.location.partition
        version = device.recent_version(partition, name)
        if version is None:
            version = await asyncio.wrap_future(slot.submit(device.version, partition, name))
        if version is None:
            raise ObjectNotFound(name)
        if version.deleted and not request.include_deleted:
            raise ObjectNotFound(name, Timestamp.parse(version.timestamp))
        return _version_response(name, version)

    def _answer_at_once(self, request: pb.SessionRequest) -> pb.SessionResponse | None:
        """The answer to a session request that needs no I/O and no task, or None.

        Only a ``timestamp_only`` HEAD whose version the device remembers (the read
        path's quorum check, right after the write it checks): answering it in the
        session's reading loop spares a task, a semaphore slot and a queue hop per
        check.  Anything else - including every error - goes the normal way."""
        if request.WhichOneof("operation") != "head" or not request.head.timestamp_only:
            return None
        head = request.head
        slot = self._devices.get(head.location.device)
        if slot is None:
            return None
        name = _name(head.location)
        version = slot.device.recent_version(head.location.partition, name)
        if version is None or (version.deleted and not head.include_deleted):
            return None
        return pb.SessionResponse(id=request.id, head=_version_response(name, version))

    async def _head(self, request: pb.HeadObjectRequest) -> pb.HeadObjectResponse:
        slot = self._slot(request.location.device)
        name = _name(request.location)
        if request.timestamp_only:
            return await self._head_version(slot, request, name)
        partition = request.location.partition
        try:
            # As in read_small: a version installed lately is answered from the page
            # cache on the loop (only its footer is read, so any size will do).
            cached = slot.device.open_cached(partition, name, max_bytes=None)
            if cached is not None:
                with cached:
                    meta = cached.metadata
            else:
                meta = await asyncio.wrap_future(slot.submit(slot.device.head, partition, name))
        except ObjectNotFound as exc:
            if exc.tombstone is None or not request.include_deleted:
                raise
            return pb.HeadObjectResponse(
                object=pb.ObjectMetadata(
                    account=name.account,
                    container=name.container,
                    object=name.object,
                    timestamp=exc.tombstone.internal,
                    created_at=_pb_time(exc.tombstone),
                    modified_at=_pb_time(exc.tombstone),
                ),
                deleted=True,
            )
        return pb.HeadObjectResponse(
            object=metadata_message(meta, digests=request.include_chunk_digests)
        )

    async def DeleteObject(
        self, request: pb.DeleteObjectRequest, context: aio.ServicerContext
    ) -> pb.DeleteObjectResponse:
        return await self._delete(request)

    async def _delete(self, request: pb.DeleteObjectRequest) -> pb.DeleteObjectResponse:
        slot = self._slot(request.location.device)
        name = _name(request.location)
        stamp = Timestamp.parse(request.timestamp)
        result = await asyncio.wrap_future(
            slot.submit(slot.device.delete, request.location.partition, name, stamp)
        )
        response = pb.DeleteObjectResponse(
            timestamp=result.timestamp.internal,
            previous_timestamp=result.previous.internal if result.previous else "",
            existed=result.existed,
        )
        if request.HasField("then_list"):
            stored = (request.location.object, response.timestamp, True)
            await self._apply_listing(request.then_list, stored, response.listing)
        return response

    async def ListPartition(
        self, request: pb.ListPartitionRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.ListPartitionResponse]:
        slot = self._slot(request.device, field="device")
        entries = slot.device.list_partition(request.partition)

        def page() -> list[pb.PartitionEntry]:
            return [
                pb.PartitionEntry(
                    name_hash=e.name_hash,
                    account=e.name.account,
                    container=e.name.container,
                    object=e.name.object,
                    timestamp=e.timestamp.internal,
                    deleted=e.deleted,
                    size=e.size,
                )
                for e in itertools.islice(entries, LIST_PAGE)
            ]

        while True:
            batch = await asyncio.wrap_future(slot.submit(page))
            if not batch:
                return
            yield pb.ListPartitionResponse(entries=batch)

    async def GetDeviceStats(
        self, request: pb.GetDeviceStatsRequest, context: aio.ServicerContext
    ) -> pb.GetDeviceStatsResponse:
        wanted = list(request.devices) or sorted(self._devices)
        response = pb.GetDeviceStatsResponse()
        for device in wanted:
            slot = self._slot(device, field="devices")
            stats = await asyncio.wrap_future(slot.submit(slot.device.stats))
            response.devices.append(
                pb.DeviceStats(
                    device=stats.name,
                    total_bytes=stats.total_bytes,
                    free_bytes=stats.free_bytes,
                    partitions=stats.partitions,
                    quarantined=stats.quarantined,
                    pending_writes=stats.pending_writes,
                )
            )
        return response

    # -- sessions: many small requests over one stream ---------------------------------

    async def RunSession(
        self, request_iterator: AsyncIterator[pb.SessionRequest], context: aio.ServicerContext
    ) -> AsyncIterator[pb.SessionResponse]:
        # Batches (see batching.py): announce them; send them if the caller did.
        batches = announces_batches(context.invocation_metadata())
        await context.send_initial_metadata(((BATCH_KEY, BATCH_VALUE),))
        # Each response with the object bytes it carries (batching.py).
        responses: asyncio.Queue[tuple[pb.SessionResponse, int] | None] = asyncio.Queue()
        # Back-pressure: stop reading requests while this many are being served.
        slots = asyncio.Semaphore(SESSION_MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        # While requests are being served, a batch of responses is held back a moment
        # for more to join it (cumulo/rpc/linger.py); +1: the one the writer holds.
        linger = Linger()
        serving = 0  # requests handed to serve() and not answered yet

        def answer(response: pb.SessionResponse, size: int = 0) -> None:
            responses.put_nowait((response, size))
            linger.queued(responses.qsize() + 1)

        async def serve(request: pb.SessionRequest) -> None:
            nonlocal serving
            size = 0
            try:
                response, size = await self._session_answer(request)
            except errors.CumuloError as exc:
                response = pb.SessionResponse(id=request.id, error=_session_error(exc))
            except Exception as exc:
                log.exception("session request %d failed", request.id, exc_info=exc)
                response = pb.SessionResponse(
                    id=request.id,
                    error=_session_error(
                        errors.InternalError(
                            f"internal error (request id {REQUEST_ID.get()})",
                            hint="this is a server fault; the operator's log has details",
                        )
                    ),
                )
            finally:
                slots.release()
                serving -= 1
            answer(response, size)

        async def read_requests() -> None:
            nonlocal serving
            try:
                async for message in request_iterator:
                    for request in unpack_requests(message):
                        at_once = self._answer_at_once(request)
                        if at_once is not None:
                            answer(at_once)
                            continue
                        await slots.acquire()
                        serving += 1
                        task = asyncio.create_task(serve(request))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.wait(set(tasks))
            finally:
                responses.put_nowait(None)

        reader = asyncio.create_task(read_requests())
        try:
            ended = False
            while not ended and (item := await responses.get()) is not None:
                if batches:
                    await linger.hold(responses.qsize() + 1, serving, item[1])
                if not batches or responses.empty():
                    yield item[0]
                    continue
                # Everything answered while the last message was being sent goes out
                # in one message.
                ready = [item]
                while not responses.empty():
                    more = responses.get_nowait()
                    if more is None:
                        ended = True
                        break
                    ready.append(more)
                for message in pack_responses(ready):
                    yield message
            await reader  # a malformed message ends the session with its error
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()

    async def session_operation(self, request: pb.SessionRequest) -> pb.SessionResponse:
        """Serve one session request (a whole small PUT, GET, HEAD or DELETE); failures
        raise ``cumulo.errors`` (``RunSession`` and in-process callers encode them)."""
        return (await self._session_answer(request))[0]

    async def _session_answer(self, request: pb.SessionRequest) -> tuple[pb.SessionResponse, int]:
        """:meth:`session_operation`'s answer and the object bytes it carries (counted
        where they are known: sizing a message later would serialize it)."""
        kind = request.WhichOneof("operation")
        if kind == "get":
            header, data = await self.read_small(request.get)
            response = pb.SessionResponse(id=request.id)
            # Filled in place: a finished message passed to the constructor would be
            # copied (serialized and parsed) once more, its data with it.
            response.get.header.CopyFrom(header)
            if data:
                response.get.chunk.data = data
            return response, len(data)
        return await self._session_answer_small(request, kind), 0

    async def _session_answer_small(
        self, request: pb.SessionRequest, kind: str | None
    ) -> pb.SessionResponse:
        if kind == "put":
            return pb.SessionResponse(id=request.id, put=await self.put_whole(request.put))
        if kind == "head":
            return pb.SessionResponse(id=request.id, head=await self._head(request.head))
        if kind == "delete":
            return pb.SessionResponse(id=request.id, delete=await self._delete(request.delete))
        raise errors.InvalidArgument("the session request names no operation", field="operation")

    async def put_whole(
        self, message: pb.PutObjectRequest, data: bytes | None = None
    ) -> pb.PutObjectResponse:
        """A PutObject that fits one message.  Up to :data:`BATCHED_PUT_MAX_BYTES`
        it is committed with the other such PUTs waiting for the same device: one
        thread job and one event-loop wake-up per batch of them (:func:`_small_puts`),
        not per PUT; a larger one is one thread hop of its own.

        ``data``: the object's bytes when an in-process caller passes them beside a
        message that carries none (its ``chunk.xxh3`` is still checked against them)."""
        if not (message.HasField("header") and message.HasField("commit")):
            raise errors.InvalidArgument(
                "a session PUT is one message with header, chunk and commit",
                field="put",
                hint="send larger objects with PutObject",
            )
        if data is None:
            data = message.chunk.data  # read once: each read of a bytes field copies it
        if len(data) > SESSION_MAX_BYTES:
            raise errors.InvalidArgument(
                f"a session PUT carries at most {SESSION_MAX_BYTES} bytes",
                field="put.chunk.data",
                hint="send larger objects with PutObject",
            )
        header, chunk, commit = message.header, message.chunk, message.commit
        slot = self._slot(header.location.device)
        writer = slot.device.create_writer(
            header.location.partition,
            _name(header.location),
            Timestamp.parse(header.timestamp, field="header.timestamp"),
            content_type=header.content_type,
            metadata=header.metadata,
            chunk_size=header.chunk_size,
            want_sha256=header.compute_sha256,
            trusted_md5=header.trusted_md5,
        )
        try:
            md5s = {m.lower() for m in (header.expected_md5, commit.expected_md5) if m}
            if len(md5s) > 1:
                raise errors.InvalidArgument(
                    "the header and the commit expect different MD5s", field="commit.expected_md5"
                )
            put = PendingPut(
                writer,
                [(data, chunk.xxh3 if chunk.HasField("xxh3") else None)] if data else [],
                _expected_size(header, commit),
                md5s.pop() if md5s else "",
                commit.expected_sha256,
            )
            batcher = _small_puts(slot) if len(data) <= BATCHED_PUT_MAX_BYTES else None
        except BaseException:
            writer.abort()  # nothing was written yet
            raise
        if batcher is not None:
            # From here the batcher owns the writer: it commits it, or aborts it if
            # this request is cancelled before its batch starts.
            meta = await batcher.submit(put)
            answer = pb.PutObjectResponse(object=metadata_message(meta))
            return await self._then_list(header, answer)
        # Larger objects (hashing and copying dominate): one thread hop each, so
        # several hash in parallel; they still share the group commit.
        inflight: Future[Any] | None = None
        try:
            inflight = slot.submit(
                _write_and_commit,
                writer,
                put.pieces,
                put.expected_size,
                put.expected_md5,
                put.expected_sha256,
            )
            meta = await asyncio.wrap_future(inflight)
        finally:
            _after(inflight, writer.abort)
        return await self._then_list(header, pb.PutObjectResponse(object=metadata_message(meta)))

    async def _then_list(
        self, header: pb.PutObjectHeader, response: pb.PutObjectResponse
    ) -> pb.PutObjectResponse:
        """Apply ``header.then_list`` (if any) now that the object is stored, and report
        the outcome in ``response.listing``; the PUT's own answer stands either way."""
        if header.HasField("then_list"):
            stored = (response.object.object, response.object.timestamp, False)
            await self._apply_listing(header.then_list, stored, response.listing)
        return response

    async def _apply_listing(
        self, update: pb.ListingUpdate, stored: tuple[str, str, bool], listing: pb.ListingResult
    ) -> None:
        """Apply ``update`` if its row is the version just stored (name, timestamp,
        deleted or not) and fill ``listing``; failures are reported there, not raised:
        the proxy then updates that replica itself."""
        name, timestamp, deleted = stored
        row = update.row
        same = row.name == name and row.deleted == deleted
        if not (same and _same_version(row.timestamp, timestamp)):
            listing.error = "the listing row does not describe the stored version"
            return
        if self._listings is None:
            listing.error = "this node serves no listing index"
            return
        try:
            replaced = await self._listings(ipb.ShardUpdate(shard=update.shard, rows=[row]))
        except Exception as exc:
            listing.error = str(exc)
            return
        listing.applied = True
        listing.replaced.extend(replaced)

    async def read_small(self, request: pb.GetObjectRequest) -> tuple[pb.GetObjectHeader, bytes]:
        """A GetObject answered whole (small objects only): the header and the bytes
        (in-process callers take them as they are; a session answer copies them
        into its message once).

        A small object installed lately whose bytes are in the page cache is read
        right here on the event loop (``open_cached``): two thread switches cost more
        than the read.  Anything else, or anything that would wait for the disk
        (ReadLater), is read on one of the device's threads.
        """
        slot = self._slot(request.location.device)
        partition = request.location.partition
        name = _name(request.location)
        wanted = (
            (request.range.start, request.range.end if request.range.HasField("end") else None)
            if request.HasField("range")
            else None
        )

        def read(reader: ObjectReader) -> tuple[ObjectMetadata, int, int, bytes]:
            with reader:
                size = reader.metadata.size
                start, end = check_range(size, *wanted) if wanted else (0, size)
                if end - start > SESSION_MAX_BYTES:
                    raise errors.Conflict(
                        f"{end - start} bytes are more than a session answer carries "
                        f"({SESSION_MAX_BYTES})",
                        reason="USE_GET_OBJECT",
                        hint="read this object with GetObject",
                    )
                data = b"".join(piece for piece, _ in reader.iter_range(start, end))
                return reader.metadata, start, end, data

        def read_on_thread() -> tuple[ObjectMetadata, int, int, bytes]:
            return read(slot.device.open(partition, name))

        answer = None
        cached = slot.device.open_cached(partition, name)
        if cached is not None:
            with contextlib.suppress(ReadLater):
                answer = read(cached)
        if answer is None:
            answer = await asyncio.wrap_future(slot.submit(read_on_thread))
        meta, start, end, data = answer
        return pb.GetObjectHeader(object=metadata_message(meta), start=start, end=end), data


#: The batcher of whole small PUTs of each device (see :func:`_small_puts`).
_SMALL_PUTS: weakref.WeakKeyDictionary[
    ObjectDevice, tuple[ThreadPoolExecutor, LoopBatcher[PendingPut, ObjectMetadata]]
] = weakref.WeakKeyDictionary()


def _small_puts(slot: DeviceSlot) -> LoopBatcher[PendingPut, ObjectMetadata]:
    """The device's batcher of whole small PUTs, on the device's own threads.

    A session PUT handed to a pool thread on its own costs several thread switches
    (loop to worker, follower to group-commit leader and back, worker to loop) and
    GIL contention between the workers.  The batcher queues it instead and one
    pool thread writes and commits everything queued with one group commit
    (:meth:`ObjectDevice.commit_many`), then wakes the loop once for all of them.
    """
    known = _SMALL_PUTS.get(slot.device)
    if known is not None and known[0] is slot.executor:
        return known[1]
    device = slot.device
    batcher: LoopBatcher[PendingPut, ObjectMetadata] = LoopBatcher(
        slot.executor, device.commit_many, discard=lambda put: put.writer.abort()
    )
    _SMALL_PUTS[device] = (slot.executor, batcher)
    return batcher


def _session_error(error: errors.CumuloError) -> pb.SessionError:
    return pb.SessionError(
        code=code_for(error).value[0],
        message=str(error),
        detail=types_pb2.ErrorDetail(
            reason=error.reason, field=error.field, hint=error.hint, request_id=REQUEST_ID.get()
        ),
    )
