"""The per-device cache of suffix hashes, and what a suffix is.

A *suffix* is the last three hex digits of an object's name hash: the directory
between a partition and the object's own directory (see :mod:`storage.object.diskfile`).
The replicator compares partitions suffix by suffix: each suffix has a hash over the
(name hash, timestamp, kind) of every current version in it, computed by
:func:`storage.replication.partition.suffix_hashes`, and cached here.

Contract of :class:`SuffixCache`:

* :meth:`~SuffixCache.invalidate` is called *after* a change in a suffix directory
  is visible (a rename into place, a quarantine, a reclaim).  A result computed
  while a change happened is never kept: :meth:`~SuffixCache.commit` keeps it only
  if the partition's generation is still the one :meth:`~SuffixCache.snapshot`
  returned before computing.  (The caller may still use that result once.)
* A partition is either unknown (never fully listed: compute every suffix) or
  known, with a set of dirty suffixes to recompute.  A new suffix directory made
  by a write is dirty, so it is never missed.
* The cache lives in memory only.  After a restart every partition is recomputed
  on its first pass (directory listings, no file reads), so a crash can never leave
  a stale hash behind.  Memory: one int per partition touched, plus one short
  string pair per non-empty suffix of hashed partitions.
* Thread-safe; every method is O(1) except :meth:`~SuffixCache.snapshot`, which
  copies one partition's entries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: Hex digits of a name hash that name its suffix directory.
SUFFIX_LENGTH = 3
#: Suffix directories a partition can have (16 ** 3).
MAX_SUFFIXES = 16**SUFFIX_LENGTH
_HEX = frozenset("0123456789abcdef")


def suffix_of(name_hash: str) -> str:
    """The suffix directory of a name hash."""
    return name_hash[-SUFFIX_LENGTH:]


def is_suffix(text: str) -> bool:
    """True for three lower-case hex digits."""
    return len(text) == SUFFIX_LENGTH and set(text) <= _HEX


@dataclass(frozen=True)
class Snapshot:
    """What the cache knows of one partition at one generation."""

    #: Suffix -> digest of the clean suffixes, or None if the partition is unknown.
    known: dict[str, str] | None
    #: Suffixes changed since they were hashed (meaningful when ``known`` is set).
    dirty: frozenset[str]
    generation: int


class SuffixCache:
    """Suffix hashes per partition, each dropped when its suffix changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[int, dict[str, str]] = {}
        self._dirty: dict[int, set[str]] = {}
        self._generation: dict[int, int] = {}

    def invalidate(self, partition: int, suffix: str) -> None:
        """Mark ``suffix`` of ``partition`` changed."""
        with self._lock:
            self._generation[partition] = self._generation.get(partition, 0) + 1
            known = self._known.get(partition)
            if known is not None:
                known.pop(suffix, None)
                self._dirty[partition].add(suffix)

    def invalidate_partition(self, partition: int) -> None:
        """Forget ``partition`` entirely (it was removed, or must be listed anew)."""
        with self._lock:
            self._generation[partition] = self._generation.get(partition, 0) + 1
            self._known.pop(partition, None)
            self._dirty.pop(partition, None)

    def snapshot(self, partition: int) -> Snapshot:
        """The clean hashes, the dirty suffixes and the generation of ``partition``."""
        with self._lock:
            known = self._known.get(partition)
            return Snapshot(
                known=dict(known) if known is not None else None,
                dirty=frozenset(self._dirty.get(partition, ())),
                generation=self._generation.get(partition, 0),
            )

    def commit(
        self, partition: int, generation: int, hashes: dict[str, str | None], *, full: bool
    ) -> bool:
        """Keep freshly computed ``hashes`` (``None``: the suffix is now empty) unless
        the partition changed since ``generation``.  ``full``: ``hashes`` covers every
        suffix of the partition (it becomes known); else it updates a known one."""
        with self._lock:
            if self._generation.get(partition, 0) != generation:
                return False
            if full:
                self._known[partition] = {s: d for s, d in hashes.items() if d}
                self._dirty[partition] = set()
                return True
            known = self._known.get(partition)
            if known is None:
                return False
            dirty = self._dirty[partition]
            for suffix, digest in hashes.items():
                dirty.discard(suffix)
                if digest:
                    known[suffix] = digest
                else:
                    known.pop(suffix, None)
            return True
