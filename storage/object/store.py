"""The object store of one device: the interface, its value types and the shared hashing.

Two implementations honour this contract and one test suite
(``tests/unit/storage/object/test_diskfile_contract.py``) runs against both:

* :class:`storage.object.diskfile.DiskDevice` - files on a real device directory;
* :class:`storage.object.memory.MemoryDevice` - an in-memory twin for tests of
  the layers above (servicer, proxy) that need no disk.

Contract, for every implementation:

* An object is addressed by ``(partition, ObjectName)``; the partition comes
  from the ring and is trusted as given (the server does not recompute it).
* Each object has at most one current version: the newest ``.data`` (an object)
  or ``.ts`` (a tombstone) by :class:`~storage.timestamp.Timestamp`.  A PUT or
  DELETE whose timestamp is not newer than the current version is refused with
  :class:`TimestampConflict` (carrying the existing timestamp), before any bytes
  are kept.
* A write becomes visible only at :meth:`ObjectWriter.commit`, all at once, and
  on disk only after it is durable.  A writer that is aborted, or never
  committed and closed, leaves nothing visible and nothing behind.
* Reads never return bytes that fail their chunk's XXH3: they raise
  :class:`cumulo.errors.DataCorruption` instead, and the bad copy is set aside
  so the next read reports the object missing (a replicator restores it).
* All methods are blocking and thread-safe; the async server runs them in a
  thread pool.  Memory use is bounded by the chunk size, never the object size
  (the memory twin excepted, which holds its objects in memory by design).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import _native
from cumulo import errors
from storage import names
from storage.timestamp import Timestamp

#: Stored chunk size when the caller does not choose one (1 MiB): big enough that
#: per-chunk overhead vanishes, small enough to bound each request's memory.
DEFAULT_CHUNK_SIZE = 1 << 20
MIN_CHUNK_SIZE = 4 << 10
MAX_CHUNK_SIZE = 8 << 20


@dataclass(frozen=True, slots=True)
class ObjectName:
    """The three parts of an object's name, validated on construction."""

    account: str
    container: str
    object: str

    def __post_init__(self) -> None:
        names.validate_path(self.account, self.container, self.object)

    @property
    def path(self) -> str:
        """``/account/container/object``, the form that is hashed."""
        return names.object_path(self.account, self.container, self.object)


@dataclass(frozen=True)
class ObjectMetadata:
    """Everything stored with an object's bytes."""

    name: ObjectName
    timestamp: Timestamp
    size: int
    content_type: str
    #: User metadata (validated by :func:`storage.names.validate_metadata`).
    metadata: Mapping[str, str]
    #: Hex MD5 of the whole object: the ETag clients know from S3 and Swift.
    etag: str
    chunk_size: int
    #: XXH3-64 (seed 0) of each ``chunk_size`` chunk, in order; the last may be shorter.
    chunk_xxh3: array = field(repr=False)
    #: Hex SHA-256 of the whole object when the writer asked for it, else "".
    sha256: str = ""
    #: When this version was created (its timestamp) and last had its metadata
    #: changed; equal until metadata updates (a later slice) exist.
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What a DELETE replaced: the previous version's timestamp and whether it was data."""

    timestamp: Timestamp
    previous: Timestamp | None
    existed: bool


@dataclass(frozen=True, slots=True)
class Version:
    """Which version of an object is current: its timestamp (internal form) and
    whether it is a tombstone."""

    timestamp: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class PartitionEntry:
    """One object of a partition, as a replicator or auditor sees it."""

    name_hash: str
    name: ObjectName
    timestamp: Timestamp
    deleted: bool
    size: int = 0


@dataclass(frozen=True, slots=True)
class DeviceStats:
    name: str
    total_bytes: int
    free_bytes: int
    partitions: int
    #: Files set aside after failing a checksum.
    quarantined: int
    #: Writes in progress (temporary files on disk).
    pending_writes: int


class ObjectNotFound(errors.NotFound):
    """No current version; ``tombstone`` is the deletion's timestamp when it was deleted."""

    def __init__(self, name: ObjectName, tombstone: Timestamp | None = None) -> None:
        if tombstone is None:
            super().__init__(f"object {name.path} does not exist", reason="OBJECT_NOT_FOUND")
        else:
            super().__init__(
                f"object {name.path} was deleted at {tombstone}", reason="OBJECT_DELETED"
            )
        self.tombstone = tombstone


class ReadLater(Exception):
    """A read started on the event loop (:meth:`ObjectDevice.open_cached`) would have
    to wait for the disk, or do blocking work such as quarantining damaged data:
    repeat it with :meth:`ObjectDevice.open` on a disk thread.  Never reaches a client."""


class TimestampConflict(errors.Conflict):
    """A PUT or DELETE was not newer than the version that exists; nothing was changed."""

    def __init__(self, name: ObjectName, attempted: Timestamp, existing: Timestamp) -> None:
        same = attempted == existing
        super().__init__(
            f"object {name.path} already has version {existing}; "
            f"the request's timestamp {attempted} is {'the same' if same else 'older'}",
            field="timestamp",
            reason="SAME_TIMESTAMP" if same else "NEWER_VERSION_EXISTS",
            hint="send a newer timestamp; the newest version wins on every replica",
        )
        self.existing = existing


class ObjectWriter(Protocol):
    """One PUT in progress.  Use as a context manager: leaving without commit aborts."""

    @property
    def bytes_written(self) -> int: ...

    def write(self, data: bytes, xxh3: int | None = None) -> None:
        """Append ``data``.  If ``xxh3`` is given it must be XXH3-64 of ``data``
        (a checksum the sender computed), else InvalidArgument and the writer is aborted.
        May refuse early with TimestampConflict when a newer version exists."""

    def commit(
        self,
        *,
        expected_size: int | None = None,
        expected_md5: str = "",
        expected_sha256: str = "",
    ) -> ObjectMetadata:
        """Check the expectations (InvalidArgument and abort if one fails), make the
        object durable and current, and return its metadata.  Raises
        TimestampConflict if a version at least as new appeared meanwhile."""

    def abort(self) -> None:
        """Discard everything written; idempotent, never raises for a finished writer."""

    def __enter__(self) -> ObjectWriter: ...

    def __exit__(self, *exc_info: object) -> None: ...


@dataclass(slots=True)
class PendingPut:
    """A whole PUT (a small object in hand) for :meth:`ObjectDevice.commit_many`: a
    writer with nothing written yet, the pieces to write and what the sender
    announced (the arguments of :meth:`ObjectWriter.write` and ``commit``)."""

    writer: ObjectWriter
    pieces: list[tuple[bytes, int | None]]
    expected_size: int | None = None
    expected_md5: str = ""
    expected_sha256: str = ""


def commit_each(puts: Sequence[PendingPut]) -> list[ObjectMetadata | Exception]:
    """:meth:`ObjectDevice.commit_many` done one PUT at a time, for any device."""
    outcomes: list[ObjectMetadata | Exception] = []
    for put in puts:
        try:
            for data, xxh3 in put.pieces:
                put.writer.write(data, xxh3)
            outcomes.append(
                put.writer.commit(
                    expected_size=put.expected_size,
                    expected_md5=put.expected_md5,
                    expected_sha256=put.expected_sha256,
                )
            )
        except Exception as exc:  # that PUT's own failure; its writer aborted itself
            put.writer.abort()
            outcomes.append(exc)
    return outcomes


class ObjectReader(Protocol):
    """An open version of an object.  Close it (or use it as a context manager)."""

    metadata: ObjectMetadata

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int]]:
        """Yield ``(data, xxh3)`` pieces covering bytes ``[start, end)``.

        ``xxh3`` is the stored digest when the piece is a whole stored chunk, else 0.
        Each chunk read is verified first (DataCorruption, nothing of it yielded);
        a whole-object read also checks the MD5 at the end.  Use
        :func:`check_range` first for the bounds."""

    def close(self) -> None: ...

    def __enter__(self) -> ObjectReader: ...

    def __exit__(self, *exc_info: object) -> None: ...


class ObjectDevice(Protocol):
    """The objects of one device."""

    #: The device's directory name, e.g. "d1".
    name: str
    #: Stored chunk size used when a writer does not choose one.
    chunk_size: int

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
    ) -> ObjectWriter:
        """Start a PUT.  Validates content type, metadata and chunk size (0 = device
        default); does no I/O, so it is cheap to refuse early.  ``trusted_md5``: take
        this as the ETag instead of hashing, and refuse any write without its XXH3."""

    def commit_many(self, puts: Sequence[PendingPut]) -> list[ObjectMetadata | Exception]:
        """Write and commit each PUT (writers from :meth:`create_writer`, nothing
        written yet), with the same checks and durability as ``write`` + ``commit``
        each, sharing what can be shared (the disk store: one group commit for the
        lot).  One outcome per PUT, in order: its metadata, or the exception that
        PUT alone failed with (its writer is then aborted).  Every writer is
        finished either way."""

    def open(self, partition: int, name: ObjectName) -> ObjectReader:
        """Open the current version; ObjectNotFound if none (or a tombstone);
        DataCorruption if its stored metadata is damaged (the file is quarantined)."""

    def open_cached(
        self, partition: int, name: ObjectName, max_bytes: int | None = ...
    ) -> ObjectReader | None:
        """Open the current version of a small object without waiting for the disk,
        for a read on the event loop; None when that cannot be promised.

        The disk store answers only for versions it remembers installing
        (:meth:`recent_version`), of at most ``max_bytes`` (default
        ``INLINE_READ_MAX_BYTES``; None: any size, for a caller that reads only
        the metadata), whose footer and chunks read are in the page cache; its
        reader raises :class:`ReadLater` instead of waiting for the disk or
        quarantining.  ObjectNotFound when the
        remembered version is a tombstone.  Every other outcome (None, ReadLater)
        means: read it with :meth:`open` on a disk thread, which decides."""

    def head(self, partition: int, name: ObjectName) -> ObjectMetadata:
        """The current version's metadata; same errors as :meth:`open`."""

    def version(self, partition: int, name: ObjectName) -> Version | None:
        """Which version is current (None: nothing, not even a tombstone), without
        reading the object: for the disk store one directory listing."""

    def recent_version(self, partition: int, name: ObjectName) -> Version | None:
        """What :meth:`version` would answer, if this device can tell without I/O
        (the disk store remembers the versions it installed lately), else None.

        Never older than the truth: a version is remembered when it is installed,
        under the name's lock, so any newer one replaces it.  It may be NEWER than
        what is on disk now (an object quarantined or reclaimed since), which only
        makes a reader look further."""

    def delete(self, partition: int, name: ObjectName, timestamp: Timestamp) -> DeleteResult:
        """Make a tombstone at ``timestamp`` current (durably); TimestampConflict
        if the current version is not older.  Deleting a missing object still
        records the tombstone, so a late older PUT cannot resurrect it."""

    def list_partition(self, partition: int) -> Iterator[PartitionEntry]:
        """The current version of every object in ``partition``, by name hash."""

    def partitions(self) -> list[int]:
        """Partitions with anything stored on this device, ascending."""

    def stats(self) -> DeviceStats: ...


def check_chunk_size(chunk_size: int, default: int) -> int:
    """Return the chunk size to use (``default`` for 0), refusing out-of-bounds values."""
    if chunk_size == 0:
        return default
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise errors.InvalidArgument(
            f"chunk_size {chunk_size} is outside {MIN_CHUNK_SIZE}-{MAX_CHUNK_SIZE} bytes",
            field="chunk_size",
        )
    return chunk_size


def check_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """Return ``(start, end)`` clamped to the object, or raise.

    ``end`` is exclusive; ``None`` means the end of the object, and an ``end``
    past the object is clamped (as HTTP does).  A ``start`` at or past the end
    is OutOfRange; ``end <= start`` is InvalidArgument.
    """
    if start < 0 or (end is not None and end <= start):
        raise errors.InvalidArgument(
            f"range [{start}, {end}) is empty or negative",
            field="range",
            hint="end is exclusive and must be greater than start",
        )
    if start >= size:
        raise errors.OutOfRange(
            f"range starts at byte {start} but the object has {size} bytes",
            field="range.start",
            hint=f"start must be below {size}",
        )
    return start, size if end is None or end > size else end


def new_digests() -> array:
    return array("Q")


def digests_to_bytes(digests: array) -> bytes:
    """Little-endian u64s, whatever the host's byte order (the on-disk form)."""
    if sys.byteorder == "little":
        return digests.tobytes()
    swapped = array("Q", digests)
    swapped.byteswap()
    return swapped.tobytes()


def digests_from_bytes(raw: bytes) -> array:
    digests = array("Q")
    digests.frombytes(raw)
    if sys.byteorder != "little":
        digests.byteswap()
    return digests


def xxh3_of(data: bytes | bytearray | memoryview) -> int:
    """XXH3-64 of one buffer (0 for an empty one, which has no chunk)."""
    if not len(data):
        return 0
    return int(_native.chunk_digests(data, len(data))[0])


class ChunkHasher:
    """MD5, optional SHA-256 and per-chunk XXH3 of a stream fed in pieces of any size.

    Pieces that are whole, aligned chunks (what a proxy sends) are hashed in
    place; only unaligned pieces are copied into a carry buffer of < one chunk.
    """

    def __init__(self, chunk_size: int, want_sha256: bool, trusted_md5: str = "") -> None:
        self.chunk_size = chunk_size
        self.size = 0
        # With a trusted MD5 (computed once by the proxy) the MD5 is not recomputed,
        # but then every piece must carry its XXH3: that check is what proves these
        # are the bytes the sender hashed.
        self.trusted_md5 = check_md5(trusted_md5) if trusted_md5 else ""
        self.md5 = None if trusted_md5 else hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256() if want_sha256 else None
        self.digests = new_digests()
        self._carry = bytearray()

    def update(self, data: bytes, xxh3: int | None = None) -> None:
        """Hash ``data``; if ``xxh3`` is given, refuse data that does not match it."""
        if not data:
            return
        size = self.chunk_size
        aligned = len(data) == size and not self._carry
        if xxh3 is not None and not aligned and xxh3_of(data) != xxh3:
            raise _checksum_refused(self.size)
        if self.md5 is not None:
            self.md5.update(data)
        elif xxh3 is None:
            raise errors.InvalidArgument(
                "with trusted_md5 every chunk must carry its xxh3; nothing was stored",
                field="chunk.xxh3",
                reason="CHECKSUM_REQUIRED",
                hint="send the XXH3 of each message, or leave trusted_md5 empty",
            )
        if self.sha256 is not None:
            self.sha256.update(data)
        view = memoryview(data)
        if self._carry:
            need = size - len(self._carry)
            self._carry += view[:need]
            view = view[need:]
            if len(self._carry) == size:
                self.digests.append(xxh3_of(self._carry))
                self._carry.clear()
        whole = len(view) - len(view) % size
        if whole:
            before = len(self.digests)
            self.digests.extend(_native.chunk_digests(view[:whole], size))
            if xxh3 is not None and aligned and self.digests[before] != xxh3:
                # The aligned fast path: the chunk digest is the message digest.
                del self.digests[before:]
                raise _checksum_refused(self.size)
        if len(view) > whole:
            self._carry += view[whole:]
        self.size += len(data)

    def finish(self) -> None:
        """Hash the final short chunk, if any."""
        if self._carry:
            self.digests.append(xxh3_of(self._carry))
            self._carry.clear()

    def seal(
        self,
        *,
        name: ObjectName,
        timestamp: Timestamp,
        content_type: str,
        metadata: Mapping[str, str],
        expected_size: int | None,
        expected_md5: str,
        expected_sha256: str,
    ) -> ObjectMetadata:
        """Finish hashing, check what the sender announced, and describe the new version.

        Raises InvalidArgument (nothing may be stored) when a check fails.
        """
        self.finish()
        self.check(expected_size, expected_md5, expected_sha256)
        return ObjectMetadata(
            name=name,
            timestamp=timestamp,
            size=self.size,
            content_type=content_type,
            metadata=metadata,
            etag=self.etag,
            chunk_size=self.chunk_size,
            chunk_xxh3=self.digests,
            sha256=self.sha256.hexdigest() if self.sha256 is not None else "",
            created_at=timestamp,
            modified_at=timestamp,
        )

    @property
    def etag(self) -> str:
        """The object's hex MD5: the trusted one, or the one computed here."""
        return self.md5.hexdigest() if self.md5 is not None else self.trusted_md5

    def check(self, expected_size: int | None, expected_md5: str, expected_sha256: str) -> None:
        """Refuse the object if it differs from what the sender said it would be."""
        if expected_size is not None and expected_size != self.size:
            raise errors.InvalidArgument(
                f"the object has {self.size} bytes but {expected_size} were announced; "
                "nothing was stored",
                field="expected_size",
                reason="SIZE_MISMATCH",
                hint="the upload ended early or sent too much; retry it",
            )
        if expected_md5 and expected_md5.lower() != self.etag:
            raise errors.InvalidArgument(
                f"the object's MD5 is {self.etag}, not the expected {expected_md5}; "
                "nothing was stored",
                field="expected_md5",
                reason="CHECKSUM_MISMATCH",
                hint="the data was damaged in transit, or the checksum is wrong; retry",
            )
        if expected_sha256:
            actual = self.sha256.hexdigest() if self.sha256 is not None else ""
            if expected_sha256.lower() != actual:
                raise errors.InvalidArgument(
                    f"the object's SHA-256 is {actual or '(not computed)'}, not the expected "
                    f"{expected_sha256}; nothing was stored",
                    field="expected_sha256",
                    reason="CHECKSUM_MISMATCH",
                    hint="the data was damaged in transit, or the checksum is wrong; retry",
                )


def check_md5(md5: str) -> str:
    """A hex MD5 as stored (lower case), or InvalidArgument."""
    lowered = md5.lower()
    if len(lowered) != 32 or lowered.strip("0123456789abcdef"):
        raise errors.InvalidArgument(
            f"{md5!r} is not a hex MD5", field="header.trusted_md5", reason="BAD_MD5"
        )
    return lowered


def _checksum_refused(offset: int) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"the chunk at byte {offset} does not match its xxh3 checksum; nothing was stored",
        field="chunk.xxh3",
        reason="CHECKSUM_MISMATCH",
        hint="the data was damaged in transit, or the sender hashed other bytes; retry",
    )
