"""Hand-made protobuf wire bytes for the load generator's hottest message.

A 1 MiB ``PutSmallObjectRequest`` built as a message is copied three times on its
way out (bytes from the load's buffer, into the message, serialized).  The load
generator writes the request's wire form itself instead: one copy.  It follows the
protobuf encoding exactly; the tests check it against the generated class.
(Reading a ``GetSmallObjectResponse``'s data length straight from its wire form was
tried too: no change above the noise in client CPU per 1 MiB GET, not kept.)
"""

from __future__ import annotations

from typing import TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview

# Field keys: (field number << 3) | wire type 2 (length-delimited).
_PUT_HEADER_KEY = b"\x0a"  # PutSmallObjectRequest.header = 1
_PUT_DATA_KEY = b"\x12"  # PutSmallObjectRequest.data = 2


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


def put_small_request(header: bytes, data: Buffer) -> bytes:
    """The wire form of ``PutSmallObjectRequest(header=<parsed header>, data=data)``,
    with ``header`` already serialized; ``data`` is copied once."""
    size = memoryview(data).nbytes
    parts: list[Buffer] = [_PUT_HEADER_KEY, varint(len(header)), header]
    if size:  # proto3 leaves an empty bytes field out
        parts += [_PUT_DATA_KEY, varint(size), data]
    return b"".join(parts)
