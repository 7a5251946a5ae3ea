"""Pipelined small-object operations: the SDK's side of ``ObjectService/ObjectSession``.

:class:`AsyncObjectSession` keeps one ``ObjectSession`` stream open on a grpc.aio
channel.  Any number of asyncio tasks call :meth:`~AsyncObjectSession.put`,
:meth:`~AsyncObjectSession.get`, :meth:`~AsyncObjectSession.head` and
:meth:`~AsyncObjectSession.delete` on it at once; each call queues one operation and
waits for its own result.  Operations queued while the previous request message is
being written go out together in the next one, so a busy session sends few, full
messages, and an idle one sends each operation at once (no timer, no added latency)::

    async with AsyncObjectSession(channel, token) as session:
        await asyncio.gather(*(session.put("photos", f"p{i}", data) for i in range(1000)))
        body = (await session.get("photos", "p1")).data

Each operation has the checks and errors of its unary call (``PutSmallObject``,
``GetSmallObject``, ``HeadObject``, ``DeleteObject``; objects of at most 1 MiB): a
failed one raises the same :mod:`cumulo.errors` class, and the others go on.  If the
stream itself ends (the proxy went away, the token was refused at the start), every
operation waiting raises that error, and so does every later call; open a new
session to go on.  One session is one stream to one server: to spread load over
several proxies (an address listing several), open several sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from cumulo.rpc.linger import LINGER_SECONDS, Linger
from cumulo.rpc.status import ERROR_OF, error_from_rpc
from cumulo.services import object_wire as wire

_METHOD = "/cumulo.object.v1.ObjectService/ObjectSession"
#: The most ``put`` takes: the unary PutSmallObject's limit.
SMALL_OBJECT_LIMIT = 1 << 20
#: Operations per request message at most (the proxy accepts any number).
MAX_BATCH = 64
#: Bytes per request message at most; an operation is never split, so a message
#: passes it by at most one operation (about 1 MiB) and stays under gRPC's default
#: 4 MiB limit, whatever the server's settings.
MAX_BATCH_BYTES = 3 << 20


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _identity(data: bytes) -> bytes:
    return data


def error_of(result: pb.SessionError) -> errors.CumuloError:
    """The :mod:`cumulo.errors` exception a failed operation stands for."""
    code = _STATUS_CODES.get(result.code, grpc.StatusCode.UNKNOWN)
    cls = ERROR_OF.get(code, errors.InternalError)
    detail = result.detail
    message = result.message
    if detail.hint and message.endswith(f" ({detail.hint})"):
        message = message[: -len(detail.hint) - 3]
    return cls(
        message,
        field=detail.field,
        reason=detail.reason or code.name,
        hint=detail.hint,
        request_id=detail.request_id,
    )


class AsyncObjectSession:
    """One ``ObjectSession`` stream shared by any number of tasks; see the module docstring.

    ``channel``: a grpc.aio channel to the object API; ``token``: the bearer token;
    ``linger_seconds``: the longest a message is held back for more operations while
    the session is busy (:mod:`cumulo.rpc.linger`; 0: never).
    The stream opens on first use (or :meth:`open`) inside the running loop;
    :meth:`close` ends it after the operations in progress have their results.
    """

    def __init__(
        self,
        channel: aio.Channel,
        token: str,
        *,
        project_id: str = "",
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._call_factory = channel.stream_stream(
            _METHOD,
            request_serializer=_identity,
            response_deserializer=pb.ObjectSessionResponse.FromString,
        )
        self._metadata = (("authorization", f"Bearer {token}"),)
        self.project_id = project_id
        self._ids = itertools.count(1)
        #: Encoded operations not sent yet, with their sizes.
        self._queued: list[tuple[list[wire.Buffer], int]] = []
        self._waiting: dict[int, asyncio.Future[pb.SessionResult]] = {}
        self._call: Any = None
        self._wake = asyncio.Event()
        #: Holds a message back a moment while the stream is busy (more operations join it).
        self._linger = Linger(linger_seconds)
        self._closing = False
        self._failure: errors.CumuloError | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Open the stream now (calls open it on first use anyway)."""
        if self._call is None:
            self._call = self._call_factory(metadata=self._metadata)
            self._tasks = [
                asyncio.create_task(self._write_loop()),
                asyncio.create_task(self._read_loop()),
            ]

    async def close(self) -> None:
        """Wait for the operations in progress, then end the stream."""
        self._closing = True
        self._wake.set()
        if self._call is None:
            return
        writer, reader = self._tasks
        with contextlib.suppress(Exception):
            await writer
        with contextlib.suppress(Exception):
            await reader
        self._call.cancel()

    async def __aenter__(self) -> AsyncObjectSession:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def in_progress(self) -> int:
        """Operations queued or sent whose result has not arrived yet."""
        return len(self._waiting)

    # -- operations ------------------------------------------------------------------

    async def put(
        self,
        container: str,
        name: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        expected_md5: str = "",
        if_none_match: str = "",
    ) -> pb.ObjectInfo:
        """Store an object of at most 1 MiB (as PutSmallObject); its metadata."""
        size = memoryview(data).nbytes
        if size > SMALL_OBJECT_LIMIT:
            raise errors.InvalidArgument(
                f"a session stores objects of at most {SMALL_OBJECT_LIMIT} bytes, not {size}",
                field="data",
                reason="OBJECT_TOO_LARGE",
                hint="upload bigger objects with ObjectsClient.put_object (a PutObject stream)",
            )
        header = pb.PutObjectHeader(
            container=container,
            name=name,
            size=size,
            content_type=content_type,
            metadata=dict(metadata or {}),
            expected_md5=expected_md5,
            if_none_match=if_none_match,
            project_id=self.project_id,
        )
        request = wire.put_small_parts(header.SerializeToString(), data)
        result = await self._submit("put", request)
        return result.put.object

    async def get(
        self,
        container: str,
        name: str,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str = "",
        if_none_match: str = "",
    ) -> pb.GetSmallObjectResponse:
        """An object of at most 1 MiB or a range of it (as GetSmallObject): header and data."""
        request = pb.GetObjectRequest(
            container=container,
            name=name,
            if_match=if_match,
            if_none_match=if_none_match,
            project_id=self.project_id,
        )
        if range is not None:
            request.range.start = range[0]
            if range[1] is not None:
                request.range.end = range[1]
        result = await self._submit("get", [request.SerializeToString()])
        return result.get

    async def head(self, container: str, name: str) -> pb.ObjectInfo:
        """An object's metadata (as HeadObject)."""
        request = pb.HeadObjectRequest(container=container, name=name, project_id=self.project_id)
        result = await self._submit("head", [request.SerializeToString()])
        return result.head.object

    async def delete(self, container: str, name: str) -> str:
        """Delete an object (as DeleteObject); the tombstone's version."""
        request = pb.DeleteObjectRequest(container=container, name=name, project_id=self.project_id)
        result = await self._submit("delete", [request.SerializeToString()])
        return result.delete.version

    # -- the stream ------------------------------------------------------------------

    async def _submit(self, kind: str, request: list[wire.Buffer]) -> pb.SessionResult:
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise errors.Conflict(
                "this session is closed", reason="SESSION_CLOSED", hint="open a new session"
            )
        await self.open()
        op_id = next(self._ids)
        future: asyncio.Future[pb.SessionResult] = asyncio.get_running_loop().create_future()
        self._waiting[op_id] = future
        operation = wire.session_operation(op_id, kind, request)
        self._queued.append((operation, wire.size_of(operation)))
        self._wake.set()
        self._linger.queued(len(self._queued))
        result = await future
        if result.WhichOneof("result") == "error":
            raise error_of(result.error)
        return result

    async def _write_loop(self) -> None:
        try:
            while self._failure is None:
                if not self._queued:
                    if self._closing:
                        await self._call.done_writing()
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                # While the stream is busy, wait a moment for more operations to join
                # this message (cumulo/rpc/linger.py); a full batch never waits.
                queued = len(self._queued)
                outstanding = min(len(self._waiting) - queued, MAX_BATCH)
                await self._linger.hold(queued, outstanding, self._queued[0][1])
                if self._failure is None and self._queued:
                    await self._call.write(wire.session_request(self._next_batch()))
        except grpc.RpcError as exc:
            self._fail(error_from_rpc(exc))
        except asyncio.InvalidStateError:
            pass  # the read side failed the call first; it reports why

    def _next_batch(self) -> list[list[wire.Buffer]]:
        """Take the operations for the next message (at least one)."""
        taken = 0
        size = 0
        for _, length in self._queued:
            if taken and (taken == MAX_BATCH or size + length > MAX_BATCH_BYTES):
                break
            taken += 1
            size += length
        batch = [operation for operation, _ in self._queued[:taken]]
        del self._queued[:taken]
        return batch

    async def _read_loop(self) -> None:
        try:
            async for response in self._call:
                for result in response.results:
                    future = self._waiting.pop(result.id, None)
                    if future is not None and not future.done():
                        future.set_result(result)
            if self._waiting:
                self._fail(
                    errors.Unavailable(
                        "the session ended before every operation had its result",
                        hint="retry the operations in a new session",
                    )
                )
        except grpc.RpcError as exc:
            self._fail(error_from_rpc(exc))

    def _fail(self, error: errors.CumuloError) -> None:
        """End the session: every waiting operation and every later call raises ``error``."""
        if self._failure is None:
            self._failure = error
        self._closing = True
        self._wake.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(self._failure)
        self._waiting.clear()
        self._queued.clear()
