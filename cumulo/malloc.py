"""glibc malloc settings: capped arenas for the storage processes, and large
buffers kept in the heap for the load generator.

glibc gives each thread that allocates under contention its own arena, up to
eight per core, and an arena keeps the pages of the large buffers it served.
The object server moves 1 MiB chunks through a thread pool per device, so with
the default every pool thread ends up holding a few MiB it never returns: a
64 MiB PUT plus GET grew the server's peak RSS by 30-57 MiB, against 17 MiB with
two arenas (measured with the bounded-memory integration test).  Swift's
operators set ``MALLOC_ARENA_MAX`` for the same reason; the servers do it
themselves so nobody has to remember.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` options (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: Arenas the storage processes keep: one for the event loop, one shared by the workers.
STORAGE_ARENAS = 2


def cap_malloc_arenas(arenas: int = STORAGE_ARENAS) -> bool:
    """Limit glibc to ``arenas`` malloc arenas; return whether the cap was applied.

    Call it first thing in a process's ``main``, before threads start (arenas
    made earlier stay).  ``MALLOC_ARENA_MAX`` in the environment wins, so an
    operator can still choose; on a libc without ``mallopt`` (musl, macOS) this
    does nothing and returns False.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    applied = mallopt(_M_ARENA_MAX, arenas) == 1
    if not applied:
        log.debug("mallopt(M_ARENA_MAX, %d) was refused", arenas)
    return applied


#: Buffers up to this size come from the heap, not a fresh mmap each (load generator).
LARGE_BUFFER_BYTES = 8 << 20
#: Freed heap the load generator keeps instead of returning it to the kernel.
KEEP_FREED_BYTES = 256 << 20


def keep_large_buffers_in_heap() -> bool:
    """Serve allocations up to :data:`LARGE_BUFFER_BYTES` from the heap and keep up
    to :data:`KEEP_FREED_BYTES` of freed heap; return whether both were applied.

    For the load generator, which allocates and frees several 1 MiB buffers per
    operation (the bodies and their messages).  glibc's own thresholds adapt to
    the sizes it has seen, so whether those buffers are fresh mmaps (256 page
    faults per MiB, each a VM exit here) depended on the order of sizes a run
    happened to allocate: the same 1 MiB GETs cost the client 1.4 or 2.4 ms of
    CPU depending on how the PUTs before them were built.  Fixed thresholds make
    the cost stable and low (1.2 ms; docs/loadtest.md).  ``MALLOC_MMAP_THRESHOLD_``
    or ``MALLOC_TRIM_THRESHOLD_`` in the environment win.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mmap_set = mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES) == 1
    trim_set = mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES) == 1
    return mmap_set and trim_set


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None on a libc without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        function = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]
