"""Hand-made protobuf wire bytes for the object API's hottest messages.

A 1 MiB ``PutSmallObjectRequest`` built as a message is copied three times on its
way out (bytes from the caller's buffer, into the message, serialized).  The load
generator and the SDK's sessions write the wire form themselves instead: one copy.
A session's request is the concatenation of its operations' encodings, so each
operation is encoded once, when it is queued, and a batch costs one ``join``.  Every
function follows the protobuf encoding exactly; the tests check each against the
generated classes, byte for byte.
(Reading a ``GetSmallObjectResponse``'s data length straight from its wire form was
tried too: no change above the noise in client CPU per 1 MiB GET, not kept.)
"""

from __future__ import annotations

from typing import TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview

# Field keys: (field number << 3) | wire type 2 (length-delimited).
_PUT_HEADER_KEY = b"\x0a"  # PutSmallObjectRequest.header = 1
_PUT_DATA_KEY = b"\x12"  # PutSmallObjectRequest.data = 2
_OPERATIONS_KEY = b"\x0a"  # ObjectSessionRequest.operations = 1
_OPERATION_ID_KEY = b"\x08"  # SessionOperation.id = 1 (varint)
#: SessionOperation's oneof fields (2 put, 3 get, 4 head, 5 delete), length-delimited.
OPERATION_KEYS = {"put": b"\x12", "get": b"\x1a", "head": b"\x22", "delete": b"\x2a"}


def varint(value: int) -> bytes:
    """``value`` (>= 0) as a protobuf base-128 varint."""
    if value < 0:
        raise ValueError("varints here are never negative")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def put_small_parts(header: bytes, data: Buffer) -> list[Buffer]:
    """The wire form of ``PutSmallObjectRequest(header=<parsed header>, data=data)`` as
    pieces to join (``data`` itself is one of them, not copied), with ``header``
    already serialized."""
    size = memoryview(data).nbytes
    parts: list[Buffer] = [_PUT_HEADER_KEY, varint(len(header)), header]
    if size:  # proto3 leaves an empty bytes field out
        parts += [_PUT_DATA_KEY, varint(size), data]
    return parts


def put_small_request(header: bytes, data: Buffer) -> bytes:
    """:func:`put_small_parts` joined: ``data`` is copied once."""
    return b"".join(put_small_parts(header, data))


def size_of(parts: list[Buffer]) -> int:
    """Bytes in ``parts`` together."""
    return sum(memoryview(part).nbytes for part in parts)


def session_operation(op_id: int, kind: str, request: list[Buffer]) -> list[Buffer]:
    """The wire form of one ``SessionOperation`` as pieces to join: ``id`` and the
    serialized unary request of ``kind`` (put, get, head or delete), itself given as
    pieces (a put's data is not copied here)."""
    parts: list[Buffer] = [_OPERATION_ID_KEY, varint(op_id)] if op_id else []
    parts += [OPERATION_KEYS[kind], varint(size_of(request)), *request]
    return parts


def session_request(operations: list[list[Buffer]]) -> bytes:
    """The wire form of an ``ObjectSessionRequest`` carrying ``operations`` (each the
    output of :func:`session_operation`), in order; every byte is copied once."""
    parts: list[Buffer] = []
    for operation in operations:
        parts += [_OPERATIONS_KEY, varint(size_of(operation)), *operation]
    return b"".join(parts)
