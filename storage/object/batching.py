"""Several session requests or responses in one stream message (``RunSession`` batches).

A message on an open gRPC stream costs each end tens of microseconds of CPU in
grpcio's machinery whatever its size, and a busy proxy has several small requests
for one object server waiting at the same moment.  So both ends send what is
waiting as one message whose ``batch`` field holds the requests (or responses).

Contract:

* Each end sends batches only to a peer that said it understands them: the caller
  puts ``x-cumulo-session-batches: 1`` in its call metadata (the server may then
  batch responses); the server puts the same pair in its initial metadata (the
  caller may then batch requests).  Either side talking to an older peer sends one
  message per request, as before.
* A batched item is served and answered exactly as if it had come alone; a batch
  never nests, and the container message's own id and operation are unset.
* Items whose bytes exceed :data:`MAX_BATCHED_BYTES` travel alone: putting them in
  a batch would copy their data once more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from cumulo.objectserver.v1 import objectserver_pb2 as pb

T = TypeVar("T")

#: The metadata pair both ends use to announce they understand batches.
BATCH_KEY = "x-cumulo-session-batches"
BATCH_VALUE = "1"
#: Requests or responses carrying more data bytes than this are sent alone.
MAX_BATCHED_BYTES = 64 * 1024


def announces_batches(metadata: Iterable[tuple[str, str | bytes]] | None) -> bool:
    """True if ``metadata`` (call or initial metadata) holds the batch announcement."""
    return any(key == BATCH_KEY and value == BATCH_VALUE for key, value in metadata or ())


# Each request or response travels with the object bytes it carries, counted by
# whoever built it: reading a bytes field of a message copies it, and ByteSize()
# serializes the whole message (45 us for 1 MiB).
Sized = tuple[T, int]


def _pack(items: Sequence[Sized[T]], batch: Callable[[list[T]], T]) -> list[T]:
    if len(items) == 1:
        return [items[0][0]]
    small = [message for message, size in items if size <= MAX_BATCHED_BYTES]
    alone = [message for message, size in items if size > MAX_BATCHED_BYTES]
    if len(small) > 1:
        return [batch(small), *alone]
    return small + alone


def pack_requests(requests: Sequence[Sized[pb.SessionRequest]]) -> list[pb.SessionRequest]:
    """The messages that carry ``requests`` (each with the bytes it carries): small
    ones in one batch, big ones alone."""
    return _pack(requests, lambda batch: pb.SessionRequest(batch=batch))


def pack_responses(responses: Sequence[Sized[pb.SessionResponse]]) -> list[pb.SessionResponse]:
    """As :func:`pack_requests`, for responses."""
    return _pack(responses, lambda batch: pb.SessionResponse(batch=batch))


def unpack_requests(message: pb.SessionRequest) -> Iterator[pb.SessionRequest]:
    """The requests a received message carries (itself, or its batch)."""
    if len(message.batch):
        yield from message.batch
    else:
        yield message


def unpack_responses(message: pb.SessionResponse) -> Iterator[pb.SessionResponse]:
    """The responses a received message carries (itself, or its batch)."""
    if len(message.batch):
        yield from message.batch
    else:
        yield message


__all__ = [
    "BATCH_KEY",
    "BATCH_VALUE",
    "MAX_BATCHED_BYTES",
    "announces_batches",
    "pack_requests",
    "pack_responses",
    "unpack_requests",
    "unpack_responses",
]
