"""Per-chunk xxh3 checksums: the pure-Python reference implementation.

A buffer is cut into consecutive chunks of ``chunk_size`` bytes (the last one may
be shorter) and each chunk gets its XXH3-64 digest (seed 0).  An empty buffer has
no chunks.  ``_native/checksum.pyx`` must give identical results.
"""

from __future__ import annotations

from array import array

import xxhash

#: Anything exposing the buffer protocol; ``collections.abc.Buffer`` needs Python 3.12.
Buffer = bytes | bytearray | memoryview


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size}")


def chunk_digests(data: Buffer, chunk_size: int) -> list[int]:
    """Return the XXH3-64 digest of every ``chunk_size`` chunk of ``data``."""
    _check_chunk_size(chunk_size)
    view = memoryview(data).cast("B")
    hash_chunk = xxhash.xxh3_64_intdigest
    return [
        hash_chunk(view[start : start + chunk_size]) for start in range(0, len(view), chunk_size)
    ]


def chunk_digests_into(data: Buffer, chunk_size: int, out: array) -> int:
    """Write the digests of ``data``'s chunks into ``out`` (an ``array('Q')``).

    ``out`` must hold at least ``ceil(len(data) / chunk_size)`` items.  Returns the
    number of digests written.  This form allocates nothing per call, which is what
    streaming readers and the benchmark want.
    """
    _check_chunk_size(chunk_size)
    view = memoryview(data).cast("B")
    count = (len(view) + chunk_size - 1) // chunk_size
    if out.typecode != "Q" or len(out) < count:
        raise ValueError(f"out must be an array('Q') of at least {count} items")
    hash_chunk = xxhash.xxh3_64_intdigest
    for index in range(count):
        start = index * chunk_size
        out[index] = hash_chunk(view[start : start + chunk_size])
    return count
