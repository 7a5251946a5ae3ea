# cython: language_level=3
"""Per-chunk xxh3 checksums, compiled.

Twin of ``_native/checksum_py.py`` (the reference); results must be identical.
XXH3-64 comes from xxhash.h compiled once per x86 vector extension and picked
at import (``csrc/xxh3_dispatch.h``).  The hashing loop of a buffer of at least
``NOGIL_MIN_BYTES`` runs without the GIL, so several threads can hash large
buffers in parallel; a smaller one (a 4 KiB object, an object name) is hashed
holding it.  Dropping the GIL costs little, but taking it back costs a wait and a
thread switch whenever another thread holds it, which in a busy object server or
proxy (an event loop and disk threads) is most of the time: far more than the
microsecond the hash itself takes.
"""

from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc


cdef extern from "csrc/xxh3_dispatch.h" nogil:
    ctypedef unsigned long long (*cumulo_xxh3_64_fn)(const void* data, size_t length)
    cumulo_xxh3_64_fn cumulo_xxh3_64_select()
    const char* cumulo_xxh3_64_variant()
    unsigned long long cumulo_xxh3_64_sse2(const void* data, size_t length)
    unsigned long long cumulo_xxh3_64_avx2(const void* data, size_t length)
    unsigned long long cumulo_xxh3_64_avx512(const void* data, size_t length)
    unsigned long long cumulo_xxh3_64_portable(const void* data, size_t length)


# Chosen once at import: the fastest XXH3 this CPU runs (all give identical digests).
cdef cumulo_xxh3_64_fn _xxh3 = cumulo_xxh3_64_select()

#: Which XXH3 build is in use: "avx512", "avx2", "sse2" or "portable".
XXH3_VARIANT = cumulo_xxh3_64_variant().decode()

#: Buffers at least this long are hashed without the GIL (about 6 us of work here).
NOGIL_MIN_BYTES = 64 * 1024


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
        out[index] = _xxh3(data + start, <size_t>size)
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
        if length >= NOGIL_MIN_BYTES:
            with nogil:
                _hash_chunks(&view[0], length, chunk_size, out)
        else:
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
    if count and length >= NOGIL_MIN_BYTES:
        with nogil:
            _hash_chunks(&view[0], length, chunk_size, <uint64_t*>&target[0])
    elif count:
        _hash_chunks(&view[0], length, chunk_size, <uint64_t*>&target[0])
    return count


def _variant_digest(str variant, data):
    """XXH3-64 of ``data`` with one named build (tests prove they all agree).

    Raises ValueError for a variant this CPU cannot run.
    """
    cdef const unsigned char[::1] view = memoryview(data).cast("B")
    cdef const void* start = &view[0] if view.shape[0] else NULL
    supported = {"portable", "sse2", "avx2", "avx512"}
    if variant not in supported:
        raise ValueError(f"unknown variant {variant!r}")
    order = ["portable", "sse2", "avx2", "avx512"]
    if order.index(variant) > order.index(XXH3_VARIANT):
        raise ValueError(f"this CPU cannot run the {variant} build")
    if variant == "avx512":
        return cumulo_xxh3_64_avx512(start, view.shape[0])
    if variant == "avx2":
        return cumulo_xxh3_64_avx2(start, view.shape[0])
    if variant == "sse2":
        return cumulo_xxh3_64_sse2(start, view.shape[0])
    return cumulo_xxh3_64_portable(start, view.shape[0])
