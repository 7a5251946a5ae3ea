"""Many small objects through one ``ObjectSession`` stream, for synchronous code.

The synchronous SDK's :meth:`~cumulo.services.objects.ObjectsClient.put_many` and
:meth:`~cumulo.services.objects.ObjectsClient.get_many` use :func:`pipeline`: gRPC
sends the request messages from its own thread while the caller's thread reads the
results, with at most ``window`` operations in progress.  Operations are packed into
messages of up to 64 operations or 3 MiB, sent as soon as the window is full, the
batch is, or the input ends, so a fast input goes out in few, full messages.

(:class:`~cumulo.services.object_session.AsyncObjectSession` is the asyncio twin,
for many tasks sharing one stream.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import grpc

from cumulo.object.v1 import object_pb2 as pb
from cumulo.services import object_wire as wire
from cumulo.services.object_session import MAX_BATCH, MAX_BATCH_BYTES, error_of

_METHOD = "/cumulo.object.v1.ObjectService/ObjectSession"
#: Operations in progress at most, by default (the proxy's own limit is 128).
DEFAULT_WINDOW = 64

K = TypeVar("K")
V = TypeVar("V")


class Operation(Generic[K]):
    """One operation to send: the caller's ``key`` for it (returned with its result),
    its ``kind`` (put, get, head, delete) and its unary request as wire pieces."""

    __slots__ = ("key", "kind", "request")

    def __init__(self, key: K, kind: str, request: list[wire.Buffer]) -> None:
        self.key = key
        self.kind = kind
        self.request = request


def pipeline(
    channel: grpc.Channel,
    metadata: Sequence[tuple[str, str]],
    operations: Iterable[Operation[K]],
    *,
    window: int = DEFAULT_WINDOW,
    timeout: float | None = None,
) -> Iterator[tuple[K, pb.SessionResult]]:
    """Send ``operations`` over one stream; yield ``(key, result)`` as results arrive
    (in the order operations finish).  A failed stream raises ``grpc.RpcError`` (the
    caller translates it); an operation's own failure is in its result."""
    if window < 1:
        raise ValueError("window must be at least 1")
    free = threading.Semaphore(window)
    keys: dict[int, K] = {}
    stopped = threading.Event()

    def acquire() -> bool:
        while not free.acquire(timeout=0.2):
            if stopped.is_set():
                return False
        return True

    def requests() -> Iterator[bytes]:
        batch: list[list[wire.Buffer]] = []
        size = 0
        for op_id, operation in enumerate(operations, start=1):
            if not free.acquire(blocking=False):
                if batch:  # the window is full: send what waits, then wait for room
                    yield wire.session_request(batch)
                    batch, size = [], 0
                if not acquire():
                    return
            keys[op_id] = operation.key
            encoded = wire.session_operation(op_id, operation.kind, operation.request)
            batch.append(encoded)
            size += wire.size_of(encoded)
            if len(batch) >= MAX_BATCH or size >= MAX_BATCH_BYTES:
                yield wire.session_request(batch)
                batch, size = [], 0
        if batch:
            yield wire.session_request(batch)

    call = channel.stream_stream(
        _METHOD, request_serializer=None, response_deserializer=pb.ObjectSessionResponse.FromString
    )
    responses = call(requests(), metadata=metadata, timeout=timeout)
    try:
        for response in responses:
            for result in response.results:
                free.release()
                yield keys.pop(result.id), result
    finally:
        stopped.set()
        responses.cancel()


def result_error(result: pb.SessionResult) -> Exception | None:
    """The :mod:`cumulo.errors` exception of a failed result, else None."""
    if result.WhichOneof("result") != "error":
        return None
    return error_of(result.error)


class Outcome(Generic[V]):
    """What happened to one item of a batch: its name and its value or its error."""

    __slots__ = ("error", "key", "value")

    def __init__(self, key: str, value: V | None = None, error: Exception | None = None) -> None:
        self.key = key
        self.value = value
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        state = f"error={self.error!r}" if self.error is not None else "ok"
        return f"Outcome({self.key!r}, {state})"
