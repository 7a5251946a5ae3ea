"""The in-memory twin of :class:`storage.object.diskfile.DiskDevice`.

Same contract (:mod:`storage.object.store`), same contract tests, no disk: for
tests of the layers above (servicer, proxy, replicator) that need many devices
quickly.  Objects live in a dict; a write buffers until commit and is visible
only then.  It checks names, metadata, timestamps and checksums exactly like the
disk store, and :meth:`MemoryDevice.corrupt` flips a byte so the layers above can
test how they handle a damaged replica.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from cumulo import errors
from storage import names
from storage.object.store import (
    DEFAULT_CHUNK_SIZE,
    ChunkHasher,
    DeleteResult,
    DeviceStats,
    ObjectMetadata,
    ObjectName,
    ObjectNotFound,
    PartitionEntry,
    PendingPut,
    TimestampConflict,
    Version,
    check_chunk_size,
    commit_each,
    xxh3_of,
)
from storage.timestamp import Timestamp


@dataclass
class _Version:
    timestamp: Timestamp
    metadata: ObjectMetadata | None  # None for a tombstone
    data: bytearray


def _hash(name: ObjectName) -> str:
    return hashlib.blake2b(name.path.encode(), digest_size=16).hexdigest()


class MemoryDevice:
    """A device whose objects live in memory; thread-safe."""

    def __init__(
        self, name: str = "mem", *, chunk_size: int = DEFAULT_CHUNK_SIZE, capacity: int = 1 << 30
    ) -> None:
        self.name = name
        self.chunk_size = check_chunk_size(chunk_size, DEFAULT_CHUNK_SIZE)
        self.capacity = capacity
        self._objects: dict[int, dict[ObjectName, _Version]] = {}
        self._lock = threading.Lock()
        self._writers = 0
        self._quarantined = 0

    def _current(self, partition: int, name: ObjectName) -> _Version | None:
        return self._objects.get(partition, {}).get(name)

    def check_newer(self, partition: int, name: ObjectName, timestamp: Timestamp) -> None:
        current = self._current(partition, name)
        if current is not None and current.timestamp >= timestamp:
            raise TimestampConflict(name, timestamp, current.timestamp)

    def _install(self, partition: int, name: ObjectName, version: _Version) -> _Version | None:
        with self._lock:
            self.check_newer(partition, name, version.timestamp)
            previous = self._current(partition, name)
            self._objects.setdefault(partition, {})[name] = version
            return previous

    def _writer_done(self) -> None:
        with self._lock:
            self._writers -= 1

    def create_writer(
        self,
        partition: int,
        name: ObjectName,
        timestamp: Timestamp,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        chunk_size: int = 0,
        want_sha256: bool = False,
        trusted_md5: str = "",
    ) -> MemoryWriter:
        writer = MemoryWriter(
            self,
            partition,
            name,
            timestamp,
            content_type=names.validate_content_type(content_type),
            metadata=names.validate_metadata(metadata or {}),
            chunk_size=check_chunk_size(chunk_size, self.chunk_size),
            want_sha256=want_sha256,
            trusted_md5=trusted_md5,
        )
        with self._lock:
            self._writers += 1
        return writer

    def commit_many(self, puts: Sequence[PendingPut]) -> list[ObjectMetadata | Exception]:
        return commit_each(puts)

    def open(self, partition: int, name: ObjectName) -> MemoryReader:
        with self._lock:
            current = self._current(partition, name)
        if current is None:
            raise ObjectNotFound(name)
        if current.metadata is None:
            raise ObjectNotFound(name, current.timestamp)
        return MemoryReader(self, partition, current.metadata, current.data)

    def open_cached(
        self, partition: int, name: ObjectName, max_bytes: int | None = None
    ) -> MemoryReader:
        return self.open(partition, name)  # all in memory: never waits for a disk

    def head(self, partition: int, name: ObjectName) -> ObjectMetadata:
        with self.open(partition, name) as reader:
            return reader.metadata

    def version(self, partition: int, name: ObjectName) -> Version | None:
        with self._lock:
            current = self._current(partition, name)
        if current is None:
            return None
        return Version(current.timestamp.internal, current.metadata is None)

    def recent_version(self, partition: int, name: ObjectName) -> Version | None:
        return self.version(partition, name)  # all in memory: always known

    def delete(self, partition: int, name: ObjectName, timestamp: Timestamp) -> DeleteResult:
        previous = self._install(partition, name, _Version(timestamp, None, bytearray()))
        return DeleteResult(
            timestamp=timestamp,
            previous=previous.timestamp if previous else None,
            existed=previous is not None and previous.metadata is not None,
        )

    def partitions(self) -> list[int]:
        with self._lock:
            return sorted(p for p, objects in self._objects.items() if objects)

    def list_partition(self, partition: int) -> Iterator[PartitionEntry]:
        with self._lock:
            items = list(self._objects.get(partition, {}).items())
        entries = [
            PartitionEntry(
                name_hash=_hash(name),
                name=name,
                timestamp=version.timestamp,
                deleted=version.metadata is None,
                size=len(version.data),
            )
            for name, version in items
        ]
        # The disk store lists by suffix (last three hex digits), then by hash.
        yield from sorted(entries, key=lambda e: (e.name_hash[-3:], e.name_hash))

    def stats(self) -> DeviceStats:
        with self._lock:
            used = sum(len(v.data) for objs in self._objects.values() for v in objs.values())
            return DeviceStats(
                name=self.name,
                total_bytes=self.capacity,
                free_bytes=max(0, self.capacity - used),
                partitions=sum(1 for objects in self._objects.values() if objects),
                quarantined=self._quarantined,
                pending_writes=self._writers,
            )

    def corrupt(self, partition: int, name: ObjectName, offset: int = 0) -> None:
        """Flip one stored byte, as a failing disk would (for tests)."""
        with self._lock:
            current = self._current(partition, name)
            if current is None or current.metadata is None:
                raise ObjectNotFound(name)
            current.data[offset] ^= 0xFF

    def _quarantine(self, partition: int, name: ObjectName, metadata: ObjectMetadata) -> None:
        with self._lock:
            current = self._current(partition, name)
            if current is not None and current.metadata is metadata:
                del self._objects[partition][name]
                self._quarantined += 1


class MemoryWriter:
    """A PUT into a :class:`MemoryDevice`; buffers everything until commit."""

    def __init__(
        self,
        device: MemoryDevice,
        partition: int,
        name: ObjectName,
        timestamp: Timestamp,
        *,
        content_type: str,
        metadata: dict[str, str],
        chunk_size: int,
        want_sha256: bool,
        trusted_md5: str = "",
    ) -> None:
        self._device = device
        self._partition = partition
        self._name = name
        self._timestamp = timestamp
        self._content_type = content_type
        self._metadata = metadata
        self._chunk_size = chunk_size
        self._hasher = ChunkHasher(chunk_size, want_sha256, trusted_md5)
        self._data = bytearray()
        self._state = "open"

    @property
    def bytes_written(self) -> int:
        return self._hasher.size

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()

    def _require_open(self) -> None:
        if self._state != "open":
            raise errors.Conflict(f"this writer was already {self._state}")

    def write(self, data: bytes, xxh3: int | None = None) -> None:
        self._require_open()
        try:
            if not self._data:
                self._device.check_newer(self._partition, self._name, self._timestamp)
            self._hasher.update(data, xxh3)
            self._data += data
        except BaseException:
            self.abort()
            raise

    def commit(
        self,
        *,
        expected_size: int | None = None,
        expected_md5: str = "",
        expected_sha256: str = "",
    ) -> ObjectMetadata:
        self._require_open()
        try:
            hasher = self._hasher
            meta = hasher.seal(
                name=self._name,
                timestamp=self._timestamp,
                content_type=self._content_type,
                metadata=self._metadata,
                expected_size=expected_size,
                expected_md5=expected_md5,
                expected_sha256=expected_sha256,
            )
            self._device._install(
                self._partition, self._name, _Version(self._timestamp, meta, self._data)
            )
            self._state = "committed"
            self._device._writer_done()
            return meta
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        self._data = bytearray()
        self._device._writer_done()


class MemoryReader:
    """An object version in memory; verifies chunks like the disk reader does."""

    def __init__(
        self, device: MemoryDevice, partition: int, metadata: ObjectMetadata, data: bytearray
    ) -> None:
        self._device = device
        self._partition = partition
        self._data = data
        self.metadata = metadata

    def __enter__(self) -> MemoryReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def _fail(self, why: str) -> errors.DataCorruption:
        self._device._quarantine(self._partition, self.metadata.name, self.metadata)
        return errors.DataCorruption(
            f"the stored copy of {self.metadata.name.path} on device {self._device.name} "
            f"is damaged ({why}); it was quarantined and nothing of it was returned",
            reason="DATA_CORRUPTION",
            hint="read another replica; the replicator will restore this one",
        )

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int]]:
        meta = self.metadata
        size = meta.size
        end = size if end is None else min(end, size)
        whole = start == 0 and end == size
        md5 = hashlib.md5(usedforsecurity=False) if whole else None
        chunk_size = meta.chunk_size
        if end > start:
            for index in range(start // chunk_size, (end - 1) // chunk_size + 1):
                offset = index * chunk_size
                data = bytes(self._data[offset : offset + chunk_size])
                if xxh3_of(data) != meta.chunk_xxh3[index]:
                    raise self._fail(f"chunk {index} does not match its xxh3 checksum")
                if md5 is not None:
                    md5.update(data)
                low = max(start - offset, 0)
                high = min(end - offset, len(data))
                if low == 0 and high == len(data):
                    yield data, meta.chunk_xxh3[index]
                else:
                    yield data[low:high], 0
        if md5 is not None and md5.hexdigest() != meta.etag:
            raise self._fail("the object's MD5 does not match its ETag")
