"""An asyncio client of one object server, for proxies, replicators, tests and benchmarks.

It adds the storage credential to every call, cuts uploads into chunk-sized
messages each carrying its XXH3 (so the server checks the bytes it received are
the bytes that were sent), and turns failed calls into ``cumulo.errors``.
:class:`ObjectServerSession` multiplexes small requests over one stream, which
costs the server several times less CPU per request than one call each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as pb
from cumulo.objectserver.v1 import objectserver_pb2_grpc
from cumulo.rpc.flow import BOUNDED_FLOW_CONTROL
from cumulo.rpc.linger import Linger
from cumulo.rpc.server import MAX_MESSAGE_BYTES
from cumulo.rpc.status import ERROR_OF, error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel
from storage.credential import CREDENTIAL_KEY
from storage.object.batching import (
    BATCH_KEY,
    BATCH_VALUE,
    announces_batches,
    pack_requests,
    unpack_responses,
)
from storage.object.store import DEFAULT_CHUNK_SIZE, xxh3_of


@dataclass(frozen=True)
class Location:
    """Where an object lives on one object server."""

    device: str
    partition: int
    account: str
    container: str
    object: str

    def message(self) -> pb.ObjectLocation:
        return pb.ObjectLocation(
            device=self.device,
            partition=self.partition,
            account=self.account,
            container=self.container,
            object=self.object,
        )


Body = bytes | Iterable[bytes] | AsyncIterable[bytes]


async def _pieces(body: Body, chunk_size: int) -> AsyncIterator[bytes]:
    if isinstance(body, bytes) and len(body) <= chunk_size:
        yield body
    elif isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
    elif isinstance(body, AsyncIterable):
        async for piece in body:
            yield piece
    else:
        for piece in body:
            yield piece


async def put_requests(
    location: Location,
    timestamp: str,
    body: Body,
    *,
    content_type: str = "",
    metadata: Mapping[str, str] | None = None,
    chunk_size: int = 0,
    compute_sha256: bool = False,
    expected_size: int | None = None,
    expected_md5: str = "",
    send_checksums: bool = True,
    commit: bool = True,
) -> AsyncIterator[pb.PutObjectRequest]:
    """The ``PutObject`` messages of an upload: the header, chunk-sized pieces each with
    its XXH3 (unless not ``send_checksums``), and the commit (unless not ``commit``).
    The header rides on the first chunk and the commit on the last one when the body
    is in memory, so a small object is a single message."""
    header = pb.PutObjectHeader(
        location=location.message(),
        timestamp=timestamp,
        content_type=content_type,
        metadata=dict(metadata or {}),
        chunk_size=chunk_size,
        compute_sha256=compute_sha256,
        expected_md5=expected_md5,
    )
    if expected_size is not None:
        header.expected_size = expected_size
    message = pb.PutObjectRequest(header=header)
    async for piece in _pieces(body, chunk_size or DEFAULT_CHUNK_SIZE):
        if message.HasField("chunk"):
            yield message
            message = pb.PutObjectRequest()
        message.chunk.data = piece
        if send_checksums and piece:
            message.chunk.xxh3 = xxh3_of(piece)
    if commit:
        message.commit.SetInParent()
    yield message


class ObjectServerClient:
    """Calls to one object server.  Close it (or ``async with``) when done."""

    def __init__(
        self,
        address: str,
        credential: str,
        options: Iterable[tuple[str, Any]] = (),
        tls: Tls = PLAINTEXT,
    ) -> None:
        """``options`` are extra channel options (the proxy shortens reconnect backoff);
        ``tls`` secures the channel (plaintext by default)."""
        self.address = address
        self.channel = aio_channel(
            address,
            tls,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                *BOUNDED_FLOW_CONTROL,
                *options,
            ],
        )
        self.stub = objectserver_pb2_grpc.ObjectServerServiceStub(self.channel)
        self.metadata = ((CREDENTIAL_KEY, credential),)

    async def __aenter__(self) -> ObjectServerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    def session(self) -> ObjectServerSession:
        """Open a session (call from a running event loop; close it when done)."""
        return ObjectServerSession(self)

    async def put_object(
        self, location: Location, timestamp: str, body: Body, **options: Any
    ) -> pb.ObjectMetadata:
        """Upload ``body`` (bytes or an iterable of pieces) and return the stored metadata.

        ``options`` are :func:`put_requests`'s (content type, metadata, expected size
        and MD5, ...); ``commit=False`` ends the stream without its commit message (for
        tests of what an interrupted upload leaves: nothing)."""
        requests = put_requests(location, timestamp, body, **options)
        try:
            response = await self.stub.PutObject(requests, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return response.object

    async def get_object(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> tuple[pb.GetObjectHeader, AsyncIterator[bytes]]:
        """Return the header and an iterator over the bytes (verified by the server)."""
        request = get_request(location, start, end)
        call = self.stub.GetObject(request, metadata=self.metadata)
        try:
            first = await call.read()
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        if first is aio.EOF or not first.HasField("header"):
            raise errors.InternalError("the object server sent no GetObject header")

        async def body() -> AsyncIterator[bytes]:
            try:
                if first.HasField("chunk"):
                    yield first.chunk.data
                while True:
                    message = await call.read()
                    if message is aio.EOF:
                        return
                    yield message.chunk.data
            except grpc.RpcError as exc:
                raise error_from_rpc(exc) from None
            finally:
                call.cancel()

        return first.header, body()

    async def read_object(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> bytes:
        """The object's bytes (or a range of them) in memory: for small objects and tests."""
        _header, body = await self.get_object(location, start, end)
        return b"".join([piece async for piece in body])

    async def head_object(
        self,
        location: Location,
        *,
        include_chunk_digests: bool = False,
        include_deleted: bool = False,
    ) -> pb.HeadObjectResponse:
        request = pb.HeadObjectRequest(
            location=location.message(),
            include_chunk_digests=include_chunk_digests,
            include_deleted=include_deleted,
        )
        try:
            return await self.stub.HeadObject(request, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    async def delete_object(self, location: Location, timestamp: str) -> pb.DeleteObjectResponse:
        request = pb.DeleteObjectRequest(location=location.message(), timestamp=timestamp)
        try:
            return await self.stub.DeleteObject(request, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    async def list_partition(self, device: str, partition: int) -> list[pb.PartitionEntry]:
        request = pb.ListPartitionRequest(device=device, partition=partition)
        entries: list[pb.PartitionEntry] = []
        try:
            async for page in self.stub.ListPartition(request, metadata=self.metadata):
                entries.extend(page.entries)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return entries

    async def get_device_stats(self, *devices: str) -> list[pb.DeviceStats]:
        request = pb.GetDeviceStatsRequest(devices=list(devices))
        try:
            response = await self.stub.GetDeviceStats(request, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return list(response.devices)


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _session_failure(error: pb.SessionError) -> errors.CumuloError:
    code = _CODES.get(error.code, grpc.StatusCode.UNKNOWN)
    cls = ERROR_OF.get(code, errors.InternalError)
    hint = error.detail.hint
    message = error.message
    if hint and message.endswith(f" ({hint})"):
        message = message[: -len(hint) - 3]
    return cls(
        message,
        field=error.detail.field,
        reason=error.detail.reason or code.name,
        hint=hint,
        request_id=error.detail.request_id,
    )


#: How long a failed write waits for the stream's real status before giving up on it.
STATUS_WAIT_SECONDS = 5.0


def get_request(
    location: Location, start: int | None = None, end: int | None = None
) -> pb.GetObjectRequest:
    """The ``GetObjectRequest`` for ``location``, of bytes ``[start, end)`` when given."""
    request = pb.GetObjectRequest(location=location.message())
    if start is not None or end is not None:
        request.range.start = start or 0
        if end is not None:
            request.range.end = end
    return request


class SessionCalls:
    """The small-object requests of a session, built once for every transport.

    Subclasses send a finished ``SessionRequest`` with :meth:`_request` and return its
    ``SessionResponse`` or raise the request's ``cumulo.errors`` failure:
    :class:`ObjectServerSession` over a ``RunSession`` stream,
    :class:`storage.object.local.LocalSession` by calling the servicer in-process.
    """

    async def _request(
        self, request: pb.SessionRequest | None = None, *, size: int = 0, **operation: Any
    ) -> pb.SessionResponse:
        """Send a request; ``size``: the object bytes it carries (batching.py)."""
        raise NotImplementedError

    async def put_object(
        self,
        location: Location,
        timestamp: str,
        data: bytes,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        compute_sha256: bool = False,
        expected_md5: str = "",
        trusted_md5: str = "",
        xxh3: int | None = None,
    ) -> pb.ObjectMetadata:
        """``trusted_md5``: the MD5 the caller computed (stored as the ETag, not
        recomputed by the server); ``xxh3``: the caller's XXH3 of ``data``, if known."""
        response = await self.put_object_listed(
            location,
            timestamp,
            data,
            content_type=content_type,
            metadata=metadata,
            compute_sha256=compute_sha256,
            expected_md5=expected_md5,
            trusted_md5=trusted_md5,
            xxh3=xxh3,
        )
        return response.object

    async def put_object_listed(
        self,
        location: Location,
        timestamp: str,
        data: bytes,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        compute_sha256: bool = False,
        expected_md5: str = "",
        trusted_md5: str = "",
        xxh3: int | None = None,
        then_list: pb.ListingUpdate | None = None,
    ) -> pb.PutObjectResponse:
        """:meth:`put_object`, with ``then_list`` (a listing update the node applies once
        the object is stored); the whole answer, ``listing`` included."""
        # Built in place inside the SessionRequest: wrapping a finished PutObjectRequest
        # would copy the data once more (1.1-1.3 ms per replica for 1 MiB).
        request = pb.SessionRequest()
        message = request.put
        header = message.header
        header.location.CopyFrom(location.message())
        header.timestamp = timestamp
        header.content_type = content_type
        if metadata:
            header.metadata.update(metadata)
        header.compute_sha256 = compute_sha256
        header.expected_md5 = expected_md5
        header.trusted_md5 = trusted_md5
        if then_list is not None:
            header.then_list.CopyFrom(then_list)
        message.commit.expected_size = len(data)
        if data:
            message.chunk.xxh3 = xxh3_of(data) if xxh3 is None else xxh3
        return await self._send_put(request, data)

    async def _send_put(self, request: pb.SessionRequest, data: bytes) -> pb.PutObjectResponse:
        """Send a whole PUT built without its data (``request.put.chunk`` carries the
        data's xxh3): here the data goes into the message; an in-process session
        hands it to the servicer as it is."""
        if data:
            request.put.chunk.data = data
        return (await self._request(request, size=len(data))).put

    async def get_object(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> pb.GetObjectResponse:
        request = get_request(location, start, end)
        return (await self._request(get=request)).get

    async def read_small(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> tuple[pb.GetObjectHeader, bytes]:
        """A small object (or range) whole: its header and bytes (what a proxy's GET
        serves; an in-process session skips building the message)."""
        got = await self.get_object(location, start, end)
        return got.header, got.chunk.data

    async def read_object(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> bytes:
        return (await self.get_object(location, start, end)).chunk.data

    async def head_object(
        self, location: Location, *, include_deleted: bool = False, timestamp_only: bool = False
    ) -> pb.HeadObjectResponse:
        """``timestamp_only``: only which version is current (name and timestamp set)."""
        request = pb.HeadObjectRequest(
            location=location.message(),
            include_deleted=include_deleted,
            timestamp_only=timestamp_only,
        )
        return (await self._request(head=request)).head

    async def delete_object(
        self, location: Location, timestamp: str, then_list: pb.ListingUpdate | None = None
    ) -> pb.DeleteObjectResponse:
        """Store a tombstone; ``then_list``: a listing update the node applies once it
        stored it (the answer's ``listing`` says whether it did)."""
        request = pb.DeleteObjectRequest(location=location.message(), timestamp=timestamp)
        if then_list is not None:
            request.then_list.CopyFrom(then_list)
        return (await self._request(delete=request)).delete


class ObjectServerSession(SessionCalls):
    """Small requests multiplexed over one ``RunSession`` stream (cheaper than one call each).

    Use from one event loop; any number of requests may be in flight at once.
    Objects (or ranges) larger than ``SESSION_MAX_BYTES`` need the single RPCs.
    """

    def __init__(self, client: ObjectServerClient) -> None:
        self._call = client.stub.RunSession(metadata=(*client.metadata, (BATCH_KEY, BATCH_VALUE)))
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[pb.SessionResponse]] = {}
        self._write_lock = asyncio.Lock()
        # Requests not yet written, each with the object bytes it carries, and the one
        # task writing them (see _flush).
        self._outbox: list[tuple[pb.SessionRequest, int]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Holds a batch back a moment while the stream is busy (cumulo/rpc/linger.py).
        self._linger = Linger()
        #: True once the server announced it takes batched requests (batching.py).
        self.batching = False
        self._reader = asyncio.ensure_future(self._read())

    async def __aenter__(self) -> ObjectServerSession:
        return self

    @property
    def ended(self) -> bool:
        """True once the stream has ended (failed or closed): open a new session."""
        return self._reader.done()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _read(self) -> None:
        failure: BaseException | None = None
        try:
            self.batching = announces_batches(await self._call.initial_metadata())
            while True:
                message = await self._call.read()
                if message is aio.EOF:
                    break
                for response in unpack_responses(message):
                    future = self._waiting.pop(response.id, None)
                    if future is not None and not future.done():
                        future.set_result(response)
        except grpc.RpcError as exc:
            failure = error_from_rpc(exc)
        except asyncio.CancelledError:
            failure = errors.Aborted("the session was closed")
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(failure or errors.Unavailable("the session ended"))
            self._waiting.clear()

    async def _request(
        self, request: pb.SessionRequest | None = None, *, size: int = 0, **operation: Any
    ) -> pb.SessionResponse:
        """Send ``request`` (built in place by the caller: no copy of its bytes; ``size``:
        the object bytes it carries) or a request made of ``operation``; its id is set
        here."""
        if self._reader.done():
            raise errors.Unavailable("the session has ended", hint="open a new session")
        request_id = next(self._ids)
        future: asyncio.Future[pb.SessionResponse] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        if request is None:
            request = pb.SessionRequest(**operation)
        request.id = request_id
        self._outbox.append((request, size))
        self._linger.queued(len(self._outbox))
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush())
        response = await future
        if response.HasField("error"):
            raise _session_failure(response.error)
        return response

    async def _flush(self) -> None:
        """Write the outbox until it is empty: what queued up while a message was being
        written goes out as one batch (when the server takes batches), so a burst of
        requests costs a few stream writes, not one each; while the stream is busy, a
        batch is held back a moment for more to join (:class:`Linger`).  A request's future gets its
        response from the reader, or here the error that stopped its write."""
        try:
            while self._outbox:
                if self.batching:  # more requests may join this batch
                    queued = len(self._outbox)
                    outstanding = min(len(self._waiting) - queued, 64)
                    await self._linger.hold(queued, outstanding, self._outbox[0][1])
                pending, self._outbox = self._outbox, []
                if self.batching:
                    messages = pack_requests(pending)
                else:
                    messages = [request for request, _ in pending]
                try:
                    async with self._write_lock:
                        for message in messages:
                            await self._call.write(message)
                except grpc.RpcError as exc:
                    # A write fails when the server has already ended the stream (a
                    # refused credential, say); grpcio then reports a generic core
                    # error here, while the server's real status reaches the reader,
                    # which fails every waiting request with it.  Wait for that; the
                    # write's own error is reported only if it never comes.
                    await asyncio.wait({self._reader}, timeout=STATUS_WAIT_SECONDS)
                    self._fail(error_from_rpc(exc), pending)
                except Exception as exc:  # e.g. a write after close(): never hang a caller
                    self._fail(errors.Unavailable(f"the session cannot send: {exc!r}"), pending)
        finally:
            self._flusher = None
            if self._outbox:  # only when this task was cancelled
                pending, self._outbox = self._outbox, []
                self._fail(errors.Unavailable("the session ended"), pending)

    def _fail(
        self, error: errors.CumuloError, requests: list[tuple[pb.SessionRequest, int]]
    ) -> None:
        for request, _ in requests:
            future = self._waiting.pop(request.id, None)
            if future is not None and not future.done():
                future.set_exception(error)

    def abort(self) -> None:
        """End the stream now; requests in flight fail (shutdown)."""
        if not self._reader.done():
            self._reader.cancel()
        self._call.cancel()

    async def close(self) -> None:
        """Finish the stream after the requests in flight were answered."""
        if self._flusher is not None:
            await asyncio.wait({self._flusher})
        with contextlib.suppress(grpc.RpcError):
            async with self._write_lock:
                await self._call.done_writing()
        await self._reader
