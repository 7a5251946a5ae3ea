"""Group commit of small writes on one device: two file-system syncs per batch.

A small PUT or DELETE alone costs three syncs: ``fdatasync`` of its temporary
file, ``fsync`` of the directory it had to create, ``fsync`` of the directory it was
renamed into - about 0.85 ms of kernel CPU per replica here, a quarter of a storage
node's CPU per 4 KiB PUT.  Writes that arrive together share the work instead
(:class:`GroupCommitter`, leader/follower, no thread of its own):

1. each writer writes and closes its temporary file, unsynced, and queues a ticket;
2. the first writer to find no batch running becomes the leader and takes every
   queued ticket (up to ``max_batch``);
3. ``syncfs`` of the device's file system: every temporary file of the batch is now
   durable - the promise ``fdatasync`` made, for all of them at once;
4. each ticket's install runs: directories made, the file renamed into place (the
   newest-wins check under the name's lock, as before);
5. ``syncfs`` again: the renames and new directories are durable - the promise of
   the directory ``fsync``\\ s;
6. every writer of the batch returns (or raises its own install's error) and only
   then removes the versions its new one replaced.

So the order the object server relies on is unchanged - a file's bytes are durable
before it is renamed into place, and the rename is durable before the write is
acknowledged - only the syncs are shared.  Measured on this machine (ext4,
``python bench/groupsync.py``): 640 files of 4 KiB one at a time 0.82-0.91 ms of CPU
each, in batches of 32 0.09-0.17 ms.

Why ``syncfs`` and not one ``fsync`` per file: the point is one flush for many
files.  It flushes the whole file system the device lives on, which on a real node
is that one disk.  Objects larger than :data:`GROUP_COMMIT_MAX_BYTES` do not join
a batch (their own data dominates, and a big flush must not delay small writes).
Without ``syncfs`` (not Linux, or no libc) writes sync one at a time as before.

:meth:`GroupCommitter.commit_many` queues several files of one caller at once;
:class:`LoopBatcher` is how the object server uses it for session PUTs: instead
of one pool thread per write (each waking, waiting for the leader, being woken,
waking the event loop - about 25 voluntary context switches per PUT measured),
the loop queues the PUTs of a device and one pool thread writes and commits
whatever queued, then hands all outcomes back in one loop wake-up (about 1.5-2
context switches per PUT).

Tried and not kept: per-caller wake-up events instead of the shared Condition's
``notify_all`` (followers woken once instead of at every batch) made no difference
above the noise for single-RPC PUTs (1.32-1.61 vs 1.35-1.52 ms CPU per PUT).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger("cumulo.storage.groupsync")

#: Objects up to this size (the proxy's session objects) share syncs.
GROUP_COMMIT_MAX_BYTES = 1 << 20
#: Tickets one leader takes at most (bounds the latency of the batch's last writer).
MAX_BATCH = 128


def _load_syncfs() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        function = ctypes.CDLL(name, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_SYNCFS = _load_syncfs()


def syncfs_available() -> bool:
    return _SYNCFS is not None


def syncfs(path: str) -> None:
    """Flush the file system holding ``path``; OSError (e.g. EIO) if writeback failed."""
    if _SYNCFS is None:
        raise OSError("syncfs is not available on this system")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _SYNCFS(fd) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"syncfs: {os.strerror(number)}")
    finally:
        os.close(fd)


@dataclass
class _Ticket:
    install: Callable[[], Any]
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """Counters, for tests and the device's statistics."""

    batches: int = 0
    tickets: int = 0
    largest: int = 0


@dataclass
class GroupCommitter:
    """Shares the syncs of concurrent small writes on one device; see the module doc.

    ``sync()`` makes everything written so far on the device durable (``syncfs``).
    """

    sync: Callable[[], None]
    max_batch: int = MAX_BATCH
    stats: BatchStats = field(default_factory=BatchStats)
    _queue: list[_Ticket] = field(default_factory=list)
    _leading: bool = False
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def commit(self, install: Callable[[], Any]) -> Any:
        """Make the caller's written, closed, unsynced file durable, run ``install``
        (which renames it into place without syncing), make that durable, and
        return what ``install`` returned.

        Raises ``install``'s own exception (only this caller's), or the sync's
        OSError for every writer of a batch whose sync failed.  Blocks the calling
        thread; call it from a device worker thread.
        """
        ((result, error),) = self.commit_many([install])
        if error is not None:
            raise error
        return result

    def commit_many(
        self, installs: Sequence[Callable[[], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        """:meth:`commit` for several files at once (one caller's batch of writes):
        one ``(result, error)`` per install, in order; they share the syncs with
        each other and with whatever else is queued."""
        tickets = [_Ticket(install) for install in installs]
        if not tickets:
            return []
        with self._changed:
            self._queue.extend(tickets)
            while True:
                while not tickets[-1].done and self._leading:
                    self._changed.wait()
                if tickets[-1].done:  # tickets are taken in order: the last one done is all
                    return [(ticket.result, ticket.error) for ticket in tickets]
                # No batch running and ours not done: lead the next one.
                self._leading = True
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._changed.release()
                try:
                    self._run(batch)
                finally:
                    self._changed.acquire()
                    self._leading = False
                    self._changed.notify_all()

    def _run(self, batch: list[_Ticket]) -> None:
        try:
            self.sync()  # the batch's file contents are durable
            for ticket in batch:
                try:
                    ticket.result = ticket.install()
                except BaseException as exc:  # that writer's own failure, e.g. a newer version
                    ticket.error = exc
            self.sync()  # their renames and new directories are durable
        except BaseException as exc:
            for ticket in batch:
                if ticket.error is None:
                    ticket.error = exc
        finally:
            for ticket in batch:
                ticket.done = True
            self.stats.batches += 1
            self.stats.tickets += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))


J = TypeVar("J")
R = TypeVar("R")


class LoopBatcher(Generic[J, R]):
    """Jobs from asyncio tasks, run in batches on an executor thread.

    Handing each small write to a pool thread on its own costs several thread
    switches per write: the loop wakes a worker, the worker waits for the group
    commit's leader, the leader wakes every follower, each worker wakes the loop
    (and all of them contend for the GIL meanwhile).  Here the loop queues the
    job and at most one executor job (the *drain*) runs at a time: it takes
    everything queued (up to ``max_batch``), passes it to ``run`` in one call,
    hands every outcome back to the loop in one ``call_soon_threadsafe``, and
    goes on with what queued meanwhile.  One hand-off each way per batch, not
    per job.

    ``run(jobs)`` returns one outcome per job, in order: a result, or the
    exception that job alone failed with (an exception from ``run`` itself fails
    the whole batch).  A job whose caller was cancelled before its batch started
    is not run but passed to ``discard``.  Once :meth:`submit` is called the job
    belongs to the batcher: it is run or discarded, never left half-done.
    """

    def __init__(
        self,
        executor: Executor,
        run: Callable[[list[J]], Sequence[R | BaseException]],
        *,
        discard: Callable[[J], None] = lambda job: None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._executor = executor
        self._run = run
        self._discard = discard
        self.max_batch = max_batch
        self.stats = BatchStats()
        self._lock = threading.Lock()
        self._queue: list[tuple[J, asyncio.Future[R]]] = []
        self._draining = False

    async def submit(self, job: J) -> R:
        """Run ``job`` in the next batch and return its result (or raise its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((job, future))
            start = not self._draining
            self._draining = True
        if start:
            try:
                self._executor.submit(self._drain)
            except BaseException as exc:  # e.g. the executor is shutting down
                with self._lock:
                    stranded, self._queue = self._queue, []
                    self._draining = False
                for other, other_future in stranded:
                    with contextlib.suppress(Exception):
                        self._discard(other)
                    if other_future is not future and not other_future.done():
                        other_future.set_exception(exc)
                raise
        return await future

    def _drain(self) -> None:
        while True:
            with self._lock:
                taken = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                if not taken:
                    self._draining = False
                    return
            live: list[tuple[J, asyncio.Future[R]]] = []
            for job, future in taken:
                if future.done():  # its caller gave up before it started
                    try:
                        self._discard(job)
                    except Exception:
                        log.exception("discarding a cancelled job failed")
                else:
                    live.append((job, future))
            if not live:
                continue
            outcomes: Sequence[R | BaseException]
            try:
                outcomes = self._run([job for job, _ in live])
                if len(outcomes) != len(live):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(live)} jobs")
            except BaseException as exc:
                outcomes = [exc] * len(live)
            self.stats.batches += 1
            self.stats.tickets += len(live)
            self.stats.largest = max(self.stats.largest, len(live))
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], Any]]] = {}
            for (_job, future), outcome in zip(live, outcomes, strict=True):
                by_loop.setdefault(future.get_loop(), []).append((future, outcome))
            for loop, delivered in by_loop.items():
                # RuntimeError: that loop is closed, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_deliver, delivered)


def _deliver(delivered: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in delivered:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
