"""``ObjectSession``: small-object operations pipelined over one stream (the proxy's side).

A client with many small objects in flight pays gRPC's cost per *call* (headers,
a stream, several completion events on both ends) once per object with the unary
calls.  In a session it pays it once per *message*, and a message carries as many
operations (or results) as were ready when it was sent.  Nothing else changes: each
operation runs the unary call's own code (:class:`Operations`), so names, metadata,
quota, quorum writes, listings and errors are exactly those of ``PutSmallObject``,
``GetSmallObject``, ``HeadObject`` and ``DeleteObject``.

Contract of :func:`run_session`:

* every operation gets exactly one :class:`~pb.SessionResult` under its id, with
  the answer or a :class:`~pb.SessionError` (the status the unary call would have
  ended with); a failed operation never ends the stream;
* each operation is authorised on its own (``OPERATION_CHECK``: the stream's token,
  re-validated from the proxy's cache, against the unary method's policy row);
* requests may come parsed (``ObjectSessionRequest``) or as :class:`SizedRequest`
  (the message with its operations' encoded sizes, :func:`parse_request`: how the
  proxy's server hands them over, so a put is sized without serializing it again);
  responses are yielded as wire bytes of ``ObjectSessionResponse``
  (:func:`encode_response` of the server's codec passes them through);
* results are sent in the order operations finish, batched: while one response
  message is being written, the results that finish meanwhile wait and go out
  together in the next one (at most about :data:`MAX_RESPONSE_BYTES` of encoded
  results per message, so a client with gRPC's default 4 MiB receive limit can read every
  message);
* at most :attr:`SessionLimits.operations` operations and
  :attr:`SessionLimits.put_bytes` bytes of put data are in progress; past that the
  session stops reading, so gRPC's flow control holds the client back;
* a request the stream cannot go on after (an operation without a kind, an id that
  is already in progress) ends the stream with ``INVALID_ARGUMENT``, after
  cancelling what is in progress;
* when the client ends its request stream, the operations in progress finish, their
  results are sent, then the response stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from cumulo.rpc.interceptors import REQUEST_ID
from cumulo.rpc.linger import Linger
from cumulo.rpc.status import code_for
from cumulo.services import object_wire as wire
from cumulo.types.v1 import types_pb2
from storage.proxy.auth import CALLER, OPERATION_CHECK

log = logging.getLogger("cumulo.object.session")

_OBJECT = "/cumulo.object.v1.ObjectService/"

#: Encoded results per response message at most; one result is never split, so a message
#: passes it by at most one object (1 MiB) and stays under gRPC's default 4 MiB.
MAX_RESPONSE_BYTES = 3 << 20

Handler = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class SmallObject:
    """A ``GetSmallObjectResponse`` not built yet: its header and its bytes.

    Building the message would copy ``data`` into it, and every later step
    (copying it into a result, sizing it, serializing it) would copy it again;
    :meth:`wire` writes the message's encoding with one copy."""

    header: pb.GetObjectHeader
    data: bytes

    def wire_parts(self) -> list[wire.Buffer]:
        """The encoding as pieces to join (``data`` is one of them, not copied)."""
        return wire.get_small_parts(self.header.SerializeToString(), self.data)

    def wire(self) -> bytes:
        """The serialized ``GetSmallObjectResponse``."""
        return b"".join(self.wire_parts())

    def message(self) -> pb.GetSmallObjectResponse:
        """The message itself (copies ``data``)."""
        return pb.GetSmallObjectResponse(header=self.header, data=self.data)


@dataclass(frozen=True)
class SizedRequest:
    """An ``ObjectSessionRequest`` with the encoded size of each of its operations."""

    message: pb.ObjectSessionRequest
    sizes: list[int]


def parse_request(raw: bytes) -> SizedRequest:
    """The proxy server's deserializer for ``ObjectSession`` requests."""
    return SizedRequest(pb.ObjectSessionRequest.FromString(raw), wire.operation_sizes(raw))


def encode_response(response: bytes | pb.ObjectSessionResponse) -> bytes:
    """The proxy server's serializer for ``ObjectSession`` responses (and
    ``GetSmallObject``'s): wire bytes pass through, messages are serialized."""
    if isinstance(response, bytes):
        return response
    return response.SerializeToString()


@dataclass(frozen=True)
class Operations:
    """The unary calls' code, one coroutine function per kind of operation.

    Each takes the unary call's request message and returns its response message
    (``get`` may return a :class:`SmallObject` instead), raising
    :class:`cumulo.errors.CumuloError` as the unary call would."""

    put: Handler
    get: Handler
    head: Handler
    delete: Handler


#: Operation kind (the ``SessionOperation.operation`` field) -> the unary method whose
#: policy row authorises it (and whose name failures are logged under).
METHOD_OF = {
    "put": _OBJECT + "PutSmallObject",
    "get": _OBJECT + "GetSmallObject",
    "head": _OBJECT + "HeadObject",
    "delete": _OBJECT + "DeleteObject",
}


@dataclass(frozen=True)
class SessionLimits:
    """How much one session may have in progress (see the module docstring)."""

    operations: int = 128
    put_bytes: int = 32 << 20


class _Budget:
    """Operations and put bytes in progress; ``take`` waits while over the limits.

    One operation is always admitted when nothing is in progress, whatever its size,
    so a put larger than the byte budget cannot stall the session."""

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self.operations = 0
        self.put_bytes = 0
        self._changed = asyncio.Event()

    def _fits(self, size: int) -> bool:
        if self.operations == 0:
            return True
        return (
            self.operations < self.limits.operations
            and self.put_bytes + size <= self.limits.put_bytes
        )

    async def take(self, size: int) -> None:
        while not self._fits(size):
            self._changed.clear()
            await self._changed.wait()
        self.operations += 1
        self.put_bytes += size

    def give(self, size: int) -> None:
        self.operations -= 1
        self.put_bytes -= size
        self._changed.set()


def session_error(error: errors.CumuloError, request_id: str) -> pb.SessionError:
    """The per-operation form of the status a unary call would end with."""
    return pb.SessionError(
        code=code_for(error).value[0],
        message=str(error),
        detail=types_pb2.ErrorDetail(
            reason=error.reason, field=error.field, hint=error.hint, request_id=request_id
        ),
    )


class _Session:
    """One stream's bookkeeping; :func:`run_session` drives it."""

    def __init__(self, operations: Operations, limits: SessionLimits) -> None:
        self.handlers: dict[str, Handler] = {
            "put": operations.put,
            "get": operations.get,
            "head": operations.head,
            "delete": operations.delete,
        }
        self.budget = _Budget(limits)
        self.stream_id = REQUEST_ID.get() or "session"
        #: id -> task of each operation in progress.
        self.running: dict[int, asyncio.Task[None]] = {}
        #: Finished results not sent yet: their wire form (pieces to join), its size,
        #: and the put bytes each one holds in the budget.
        self.ready: list[tuple[list[wire.Buffer], int, int]] = []
        self.wake = asyncio.Event()
        #: Holds a response back a moment while operations are running (more results
        #: join it; cumulo/rpc/linger.py).
        self.linger = Linger()
        self.reading_done = False
        self.failure: BaseException | None = None

    async def read(self, requests: AsyncIterator[pb.ObjectSessionRequest | SizedRequest]) -> None:
        """Admit every operation of every request message (the reader task)."""
        try:
            async for item in requests:
                if isinstance(item, SizedRequest):
                    for operation, size in zip(item.message.operations, item.sizes, strict=True):
                        await self._admit(operation, size)
                else:  # a parsed message (in-process callers): size the puts here
                    for operation in item.operations:
                        await self._admit(operation, operation.ByteSize())
        except BaseException as exc:  # the writer re-raises it to end the call
            self.failure = exc
        finally:
            self.reading_done = True
            self.wake.set()

    async def _admit(self, operation: pb.SessionOperation, encoded_size: int) -> None:
        kind = operation.WhichOneof("operation")
        if kind is None:
            raise errors.InvalidArgument(
                f"operation {operation.id} names no operation (put, get, head or delete)",
                field="operations.operation",
            )
        if operation.id in self.running:
            raise errors.InvalidArgument(
                f"operation id {operation.id} is already in progress in this session",
                field="operations.id",
                hint="give every operation in progress an id of its own",
            )
        # Only put data counts against the byte budget.
        size = encoded_size if kind == "put" else 0
        await self.budget.take(size)
        request = getattr(operation, kind)
        task = asyncio.create_task(self._run(operation.id, kind, request, size))
        self.running[operation.id] = task

    async def _run(self, op_id: int, kind: str, request: Any, size: int) -> None:
        request_id = f"{self.stream_id}.{op_id}"
        REQUEST_ID.set(request_id)  # this task's own context: the stream's is untouched
        answer_kind = kind
        answer: list[wire.Buffer]
        try:
            check = OPERATION_CHECK.get()
            if check is None:
                raise errors.Unauthenticated("this session has no token", reason="NO_TOKEN")
            CALLER.set(await check(METHOD_OF[kind]))
            value = await self.handlers[kind](request)
            answer = (
                value.wire_parts()
                if isinstance(value, SmallObject)
                else [value.SerializeToString()]
            )
        except errors.CumuloError as exc:
            log.info("%s %s request=%s", METHOD_OF[kind], code_for(exc).name, request_id)
            answer_kind = "error"
            answer = [session_error(exc, request_id).SerializeToString()]
        except Exception:
            log.exception("unhandled error in session operation [request %s]", request_id)
            error = errors.InternalError(
                f"internal error in operation {op_id} (request id {request_id})",
                hint="this is a server fault, not your request; the operator's log has details",
            )
            answer_kind = "error"
            answer = [session_error(error, request_id).SerializeToString()]
        finally:
            self.running.pop(op_id, None)
        result = wire.session_result(op_id, answer_kind, answer)
        self.ready.append((result, wire.size_of(result), size))
        self.wake.set()
        self.linger.queued(len(self.ready))

    async def results(self) -> AsyncIterator[bytes]:
        """Batches of finished results until everything admitted has been answered."""
        while True:
            if not self.ready:
                if self.failure is not None:
                    raise self.failure
                if self.reading_done and not self.running:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            _, first_bytes, _ = self.ready[0]
            await self.linger.hold(len(self.ready), len(self.running), first_bytes)
            batch = self._next_batch()
            yield wire.session_response([result for result, _, _ in batch])
            for _, _, size in batch:
                self.budget.give(size)

    def _next_batch(self) -> list[tuple[list[wire.Buffer], int, int]]:
        """Take the results for the next message (at least one)."""
        taken = 0
        data = 0
        for _, size, _ in self.ready:
            if taken and data + size > MAX_RESPONSE_BYTES:
                break
            taken += 1
            data += size
        batch = self.ready[:taken]
        del self.ready[:taken]
        return batch

    async def cancel(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def run_session(
    requests: AsyncIterator[pb.ObjectSessionRequest | SizedRequest],
    operations: Operations,
    limits: SessionLimits | None = None,
) -> AsyncIterator[bytes]:
    """Serve one ``ObjectSession`` stream; see the module docstring for the contract."""
    session = _Session(operations, limits or SessionLimits())
    reader = asyncio.create_task(session.read(requests))
    try:
        async for response in session.results():
            yield response
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        await session.cancel()
