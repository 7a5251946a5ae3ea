"""Cap glibc's malloc arenas in the storage processes.

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

log = logging.getLogger(__name__)

#: glibc's ``M_ARENA_MAX`` option for ``mallopt`` (malloc.h).
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
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = mallopt(_M_ARENA_MAX, arenas) == 1
    if not applied:
        log.debug("mallopt(M_ARENA_MAX, %d) was refused", arenas)
    return applied
