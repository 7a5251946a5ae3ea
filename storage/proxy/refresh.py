"""A per-key cache that reloads its entries before they expire, one load at a time.

The proxy caches what it would otherwise ask for on every request: who a token is
(auth.py), a container's record (containers.py), a project's quota and usage
(quota.py), each for a few seconds.  Expiring such an entry the plain way stalls
every request in flight at that moment: they all miss together and wait for the
controller or the index (and, without single flight, each asks on its own).  Under a
steady load of small PUTs that happened every few seconds on every proxy and made
up most of the PUT latency's tail (docs/object-store.md, "Performance").

:class:`RefreshAhead` keeps the staleness bound of a plain TTL cache - no value is
served more than ``ttl`` seconds after it was loaded - while a busy key never
expires: once an entry has used ``1 - ahead`` of its life, the next request starts
one reload in the background and is answered from the entry.  Contract:

* a miss (or an expired entry) loads once per key at a time; concurrent callers
  share that load and its outcome, error included;
* a failed load is not cached; a failed background reload leaves the entry to
  expire, so the next miss tries again (and reports the error);
* :meth:`put` and :meth:`drop` change an entry at once (a write the proxy made
  itself: a container created or deleted here).  A background reload that started
  before a :meth:`drop` does not bring the dropped value back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("cumulo.storage.proxy.refresh")

K = TypeVar("K")
V = TypeVar("V")


class RefreshAhead(Generic[K, V]):
    """See the module docstring.  ``load(key)`` fetches a value; ``ttl`` seconds is the
    most a value is served after it was loaded (0 disables caching, every call loads);
    ``ahead`` is the last fraction of that life in which a hit starts a reload."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        ttl: float,
        *,
        ahead: float = 0.25,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_value = load
        self.ttl = ttl
        self.ahead = ahead
        self.capacity = capacity
        self._clock = clock
        #: key -> (expires at, value).
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        #: Bumped by put/drop per key, so a reload that began before does not overwrite.
        self._generation: dict[K, int] = {}

    async def get(self, key: K) -> V:
        hit = self._entries.get(key)
        if hit is not None:
            expires, value = hit
            now = self._clock()
            if now < expires:
                if now >= expires - self.ttl * self.ahead and key not in self._loading:
                    self._start(key).add_done_callback(_retrieve)
                return value
        pending = self._loading.get(key) or self._start(key)
        return await asyncio.shield(pending)

    def peek(self, key: K) -> V | None:
        """The cached value if it has not expired, without loading anything."""
        hit = self._entries.get(key)
        if hit is None or self._clock() >= hit[0]:
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1
        self._store(key, value)

    def drop(self, key: K) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1
        self._entries.pop(key, None)

    def _store(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.capacity:
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.capacity:
                self._entries.clear()
                self._generation.clear()
        self._entries[key] = (self._clock() + self.ttl, value)

    def _start(self, key: K) -> asyncio.Task[V]:
        generation = self._generation.get(key, 0)

        async def load() -> V:
            try:
                value = await self._load_value(key)
            finally:
                self._loading.pop(key, None)
            if self._generation.get(key, 0) == generation:
                self._store(key, value)
            return value

        task = asyncio.ensure_future(load())
        self._loading[key] = task
        return task


def _retrieve(task: asyncio.Task[object]) -> None:
    """A background reload's failure is logged, not left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.info("background reload failed: %s", task.exception())
