"""The object auditor of one device: re-verify every stored file at a bounded rate.

A pass walks ``objects/<partition>/<suffix>/<hash>/`` and checks the current
version of each object:

* the footer: trailer magic and sizes, its own XXH3, the metadata JSON;
* the metadata against the file: the size and digest count agree, the name
  hashes to the directory it sits in;
* an object's bytes: every chunk against its stored XXH3, and the MD5 of the
  whole object against the stored ETag.

A file that fails is moved to ``<device>/quarantined/objects/<hash>/`` by
:meth:`DiskDevice.quarantine`, which invalidates its suffix hash, so the next
replication pass sees the difference and restores a good copy from a peer.

The pass is blocking and meant for its own thread (never the device's request
pool).  :class:`RateLimiter` sleeps between reads so the pass stays under the
configured bytes/s and files/s; ``stop`` (a :class:`threading.Event`) ends a
pass early at the next file or chunk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from storage.object.diskfile import (
    TOMBSTONE,
    DiskDevice,
    _Corrupt,
    _metadata_from,
    name_hash,
    read_footer,
)
from storage.object.store import ObjectName, xxh3_of

log = logging.getLogger("cumulo.storage.auditor")


@dataclass
class AuditStats:
    """What one audit pass over one device found."""

    device: str
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    files: int = 0
    bytes: int = 0
    quarantined: int = 0

    def summary(self) -> str:
        return (
            f"audit pass on {self.device}: {self.files} files, {self.bytes} bytes verified, "
            f"{self.quarantined} quarantined, {self.seconds:.2f}s"
        )


class RateLimiter:
    """Keeps a loop under ``bytes_per_second`` and ``files_per_second`` (0 = no limit).

    :meth:`spend` records work done and sleeps until the totals since the start are
    within both budgets; the sleep ends early when ``stop`` is set.
    """

    def __init__(
        self, bytes_per_second: float, files_per_second: float, stop: threading.Event
    ) -> None:
        self.bytes_per_second = bytes_per_second
        self.files_per_second = files_per_second
        self.stop = stop
        self.start = time.monotonic()
        self.bytes = 0
        self.files = 0

    def spend(self, nbytes: int = 0, files: int = 0) -> None:
        self.bytes += nbytes
        self.files += files
        due = 0.0
        if self.bytes_per_second > 0:
            due = max(due, self.bytes / self.bytes_per_second)
        if self.files_per_second > 0:
            due = max(due, self.files / self.files_per_second)
        wait = self.start + due - time.monotonic()
        if wait > 0:
            self.stop.wait(wait)


def _check_file(path: str, hashed: str, limiter: RateLimiter) -> tuple[int, str]:
    """``(bytes verified, "" or why the file is bad)`` for one stored version."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            meta_raw, digests, data_size = read_footer(fd)
        except _Corrupt as exc:
            return 0, str(exc)
        if path.endswith("." + TOMBSTONE):
            if not meta_raw.get("deleted"):
                return 0, "a tombstone whose metadata does not say deleted"
            try:
                name = ObjectName(meta_raw["account"], meta_raw["container"], meta_raw["object"])
            except (KeyError, TypeError, ValueError) as exc:
                return 0, f"the tombstone's metadata is incomplete: {exc}"
            if name_hash(name.path) != hashed:
                return 0, f"it holds {name.path}, which does not hash to this directory"
            return 0, ""
        try:
            meta = _metadata_from(meta_raw, digests, data_size)
        except _Corrupt as exc:
            return 0, str(exc)
        if name_hash(meta.name.path) != hashed:
            return 0, f"it holds {meta.name.path}, which does not hash to this directory"
        md5 = hashlib.md5(usedforsecurity=False)
        done = 0
        for index, expected in enumerate(meta.chunk_xxh3):
            if limiter.stop.is_set():
                return done, ""
            length = min(meta.chunk_size, meta.size - done)
            try:
                data = os.pread(fd, length, done)
            except OSError as exc:
                return done, f"reading chunk {index} failed: {exc.strerror}"
            if len(data) != length:
                return done, f"chunk {index} is short ({len(data)} of {length} bytes)"
            if xxh3_of(data) != expected:
                return done, f"chunk {index} does not match its xxh3 checksum"
            md5.update(data)
            done += length
            limiter.spend(nbytes=length)
        if meta.etag and md5.hexdigest() != meta.etag:
            return done, f"the MD5 is {md5.hexdigest()}, not the stored ETag {meta.etag}"
        return done, ""
    finally:
        os.close(fd)


def audit_pass(
    device: DiskDevice,
    *,
    bytes_per_second: float,
    files_per_second: float,
    stop: threading.Event,
) -> AuditStats:
    """Check every current version on ``device`` once (see the module docstring)."""
    stats = AuditStats(device.name)
    begun = time.monotonic()
    limiter = RateLimiter(bytes_per_second, files_per_second, stop)
    for partition in device.partitions():
        for hashed, hash_dir in device.hash_dirs(partition):
            if stop.is_set():
                stats.seconds = time.monotonic() - begun
                return stats
            current = device._current(hash_dir)
            if current is None:
                continue
            path = f"{hash_dir}/{current[0]}.{current[1]}"
            try:
                verified, problem = _check_file(path, hashed, limiter)
            except FileNotFoundError:
                continue  # replaced or removed meanwhile
            stats.files += 1
            stats.bytes += verified
            limiter.spend(files=1)
            if problem:
                device.quarantine(path, f"auditor: {problem}")
                stats.quarantined += 1
    stats.seconds = time.monotonic() - begun
    return stats
