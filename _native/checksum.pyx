# cython: language_level=3
"""Per-chunk xxh3 checksums, compiled.

Twin of ``_native/checksum_py.py`` (the reference); results must be identical.
XXH3-64 comes from xxhash.h compiled inline (``XXH_INLINE_ALL``), and the hashing
loop runs without the GIL so several threads can hash chunks in parallel.
"""

from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc


cdef extern from "xxhash.h" nogil:
    ctypedef unsigned long long XXH64_hash_t
    XXH64_hash_t XXH3_64bits(const void* data, size_t length)


cdef inline void _check_chunk_size(Py_ssize_t chunk_size) except *:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size}")


cdef void _hash_chunks(const unsigned char* data, Py_ssize_t length, Py_ssize_t chunk_size,
                       uint64_t* out) noexcept nogil:
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t index = 0
    cdef Py_ssize_t size
    while start < length:
        size = chunk_size if length - start > chunk_size else length - start
        out[index] = XXH3_64bits(data + start, <size_t>size)
        start += size
        index += 1


def chunk_digests(data, Py_ssize_t chunk_size):
    """Return the XXH3-64 digest of every ``chunk_size`` chunk of ``data``."""
    _check_chunk_size(chunk_size)
    cdef const unsigned char[::1] view = memoryview(data).cast("B")
    cdef Py_ssize_t length = view.shape[0]
    cdef Py_ssize_t count = (length + chunk_size - 1) // chunk_size
    if count == 0:
        return []
    cdef uint64_t* out = <uint64_t*>malloc(count * sizeof(uint64_t))
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            _hash_chunks(&view[0], length, chunk_size, out)
        return [out[i] for i in range(count)]
    finally:
        free(out)


def chunk_digests_into(data, Py_ssize_t chunk_size, out):
    """Write the digests of ``data``'s chunks into ``out`` (an ``array('Q')``).

    Returns the number of digests written; see the pure twin for the contract.
    """
    _check_chunk_size(chunk_size)
    cdef const unsigned char[::1] view = memoryview(data).cast("B")
    cdef Py_ssize_t length = view.shape[0]
    cdef Py_ssize_t count = (length + chunk_size - 1) // chunk_size
    if getattr(out, "typecode", None) != "Q" or len(out) < count:
        raise ValueError(f"out must be an array('Q') of at least {count} items")
    cdef unsigned long long[::1] target = out
    if count:
        with nogil:
            _hash_chunks(&view[0], length, chunk_size, <uint64_t*>&target[0])
    return count
