"""Hand-made protobuf wire bytes for the object API's hottest messages.

A 1 MiB ``PutSmallObjectRequest`` built as a message is copied three times on its
way out (bytes from the caller's buffer, into the message, serialized).  The load
generator and the SDK's sessions write the wire form themselves instead: one copy.
A session's request is the concatenation of its operations' encodings, so each
operation is encoded once, when it is queued, and a batch costs one ``join``.  The
proxy does the same with the answers it sends (``GetSmallObjectResponse`` and
``ObjectSessionResponse``), and sizes the operations it receives from the request's
wire bytes (:func:`operation_sizes`).  Every function follows the protobuf encoding
exactly; the tests check each against the generated classes, byte for byte.

Why hand-made: protobuf's Python objects (upb) copy a bytes field on every read and
on every assignment, ``CopyFrom`` and a message passed to a constructor copy it
again, and ``ByteSize()`` serializes the whole message to count it (45 us for
1 MiB here, twice a plain copy).
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
# The answers mirror the requests field for field: GetSmallObjectResponse is
# header = 1, data = 2 like PutSmallObjectRequest; SessionResult is id = 1, then
# put/get/head/delete = 2-5 like SessionOperation, and error = 6; and
# ObjectSessionResponse.results = 1 like ObjectSessionRequest.operations.
#: SessionResult's oneof fields, length-delimited.
RESULT_KEYS = {**OPERATION_KEYS, "error": b"\x32"}


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


def get_small_parts(header: bytes, data: Buffer) -> list[Buffer]:
    """The wire form of ``GetSmallObjectResponse(header=<parsed header>, data=data)``
    as pieces to join (``data`` not copied), with ``header`` already serialized."""
    return put_small_parts(header, data)  # the same field numbers and types


def session_operation(op_id: int, kind: str, request: list[Buffer]) -> list[Buffer]:
    """The wire form of one ``SessionOperation`` as pieces to join: ``id`` and the
    serialized unary request of ``kind`` (put, get, head or delete), itself given as
    pieces (a put's data is not copied here)."""
    parts: list[Buffer] = [_OPERATION_ID_KEY, varint(op_id)] if op_id else []
    parts += [OPERATION_KEYS[kind], varint(size_of(request)), *request]
    return parts


def session_result(op_id: int, kind: str, answer: list[Buffer]) -> list[Buffer]:
    """The wire form of one ``SessionResult`` as pieces to join: ``id`` and the
    serialized answer of ``kind`` (put, get, head, delete or error), itself given as
    pieces (a get's data is not copied here)."""
    parts: list[Buffer] = [_OPERATION_ID_KEY, varint(op_id)] if op_id else []
    parts += [RESULT_KEYS[kind], varint(size_of(answer)), *answer]
    return parts


def session_response(results: list[list[Buffer]]) -> bytes:
    """The wire form of an ``ObjectSessionResponse`` carrying ``results`` (each the
    output of :func:`session_result`), in order; every byte is copied once."""
    return session_request(results)  # results = 1, as operations = 1


def _read_varint(raw: Buffer, at: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if at >= len(raw) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def operation_sizes(raw: Buffer) -> list[int]:
    """The encoded size of each ``operations`` entry of a serialized
    ``ObjectSessionRequest``, in order, without parsing (or copying) them: one
    varint key and length per field.  Other fields are skipped; ``ValueError`` if
    ``raw`` is not well-formed at that level."""
    view = memoryview(raw)
    sizes: list[int] = []
    at = 0
    end = len(view)
    while at < end:
        key, at = _read_varint(view, at)
        wire_type = key & 7
        if wire_type == 0:
            _, at = _read_varint(view, at)
        elif wire_type == 1:
            at += 8
        elif wire_type == 5:
            at += 4
        elif wire_type == 2:
            length, at = _read_varint(view, at)
            if key >> 3 == 1:
                sizes.append(length)
            at += length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        if at > end:
            raise ValueError("a field runs past the end of the message")
    return sizes


def session_request(operations: list[list[Buffer]]) -> bytes:
    """The wire form of an ``ObjectSessionRequest`` carrying ``operations`` (each the
    output of :func:`session_operation`), in order; every byte is copied once."""
    parts: list[Buffer] = []
    for operation in operations:
        parts += [_OPERATIONS_KEY, varint(size_of(operation)), *operation]
    return b"".join(parts)
