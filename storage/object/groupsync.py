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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
        ticket = _Ticket(install)
        with self._changed:
            self._queue.append(ticket)
            while not ticket.done and self._leading:
                self._changed.wait()
            if ticket.done:
                return self._outcome(ticket)
            # No batch running and ours not done: lead the next one.
            self._leading = True
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            self._run(batch)
        finally:
            with self._changed:
                self._leading = False
                self._changed.notify_all()
        return self._outcome(ticket)

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

    @staticmethod
    def _outcome(ticket: _Ticket) -> Any:
        if ticket.error is not None:
            raise ticket.error
        return ticket.result
