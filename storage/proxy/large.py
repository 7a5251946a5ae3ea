"""Large objects: uploads past a size are stored as segments plus a manifest, read back as one.

Contract:

* :meth:`LargeObjects.store` takes an upload stream and stores it as segments of at
  most ``segment_size`` bytes, each a normal replicated object (quorum, handoffs,
  checksums) named ``<hash of container/name>/<version>/<n>`` in the account's hidden
  container :data:`SEGMENTS`, then writes a *manifest* at the object's own name: a small
  object whose body lists the segments (JSON) and whose metadata carries the large
  object's size and ETag under the reserved ``cumulo.`` keys.  Segments are written
  one after another, streamed (memory stays at a few chunks whatever the size).  If the
  upload fails or is cancelled before the manifest is written, the object does not
  exist (its segments are orphans, deleted on a best-effort basis at once).
* The ETag of a large object is Swift's: MD5 of the segments' MD5s (hex, concatenated)
  then ``-<segments>``.  A client's ``expected_md5`` is checked against the MD5 of the
  whole stream, computed here only when the client asks for it.
* :meth:`LargeObjects.open` reads a manifest's segments in order as one object, with a
  byte range across segments; :meth:`LargeObjects.info` turns a manifest's metadata into
  what clients see.  Deleting a manifest deletes its segments afterwards (best effort).
* Overwriting: :meth:`LargeObjects.predecessor` reads, before an upload of more than
  1 MiB starts, the manifest of the large object it will replace; once the new version
  is acknowledged, :meth:`LargeObjects.replaced` deletes the old version's segments
  (best effort, in the background).  Only an older version's segments are deleted:
  an acknowledged write was newer than every version on a quorum (an older PUT is
  refused), so the old manifest can never become visible again.  Every upload's
  listing update also answers the rows it replaced, and
  :meth:`LargeObjects.replaced_rows` names the old segments from a replaced large
  object's row (version and segment count): that is all a small (<= 1 MiB) upload
  does (it reads nothing first), and it covers a third version written between a
  large upload's read of its predecessor and its commit (an older, slower upload).

Orphans and the slow-upload guard: each segment carries its object's container and
name in reserved metadata (:func:`storage.segments.owner_marks`), so the storage nodes'
segment reaper can find out whether a manifest references it and delete the segments
of uploads whose proxy died (docs/object-store.md, "Orphaned segments").  The reaper
leaves a group of segments alone until its version is ``segment_reap_age`` old; in
return :meth:`LargeObjects.store` refuses to write another segment or the manifest once
the version is older than :data:`UPLOAD_DEADLINE_FRACTION` of that age
(DEADLINE_EXCEEDED, reason ``UPLOAD_TOO_SLOW``), so a manifest can never appear for
segments the reaper may already have judged unreferenced.

Which uploads become large: a header size above ``segment_size``, or an upload without
a size that passes 1 MiB (the proxy cannot know in advance; such an object may end up
with a single segment, which costs one extra small read per GET).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from storage.container.index import Row
from storage.proxy.replicas import ReplicaIO
from storage.segments import SEGMENTS as SEGMENTS  # re-exported: the proxy's users import it here
from storage.segments import group_prefix, owner_marks
from storage.timestamp import Timestamp

log = logging.getLogger("cumulo.storage.proxy.large")

RESERVED_CONTAINER_PREFIX = ".cumulo-"
#: Metadata keys the proxy keeps for itself (user metadata may not use them).
RESERVED_KEY_PREFIX = "cumulo."
MANIFEST_KEY = "cumulo.manifest"
SIZE_KEY = "cumulo.size"
ETAG_KEY = "cumulo.etag"
SEGMENTS_KEY = "cumulo.segments"
SHA256_KEY = "cumulo.sha256"

Clock = Any  # an object with next() -> timestamp text
#: An upload older than this fraction of ``segment_reap_age`` may not write another
#: segment nor its manifest.  Half: the other half is the margin for the manifest
#: write itself (bounded by the node timeout) and for clock skew between the proxy
#: and the storage nodes, both far smaller than hours.
UPLOAD_DEADLINE_FRACTION = 0.5
#: The ETag of a large object: the MD5 of its segments' MD5s, then "-<segments>".
_LARGE_ETAG = re.compile(r"^[0-9a-f]{32}-([1-9][0-9]{0,8})$")


@dataclass(frozen=True)
class Segment:
    name: str
    size: int
    etag: str


@dataclass(frozen=True)
class Predecessor:
    """The large object version an upload replaces: its timestamp and segments."""

    version: str
    segments: list[Segment]


def is_manifest(meta: spb.ObjectMetadata) -> bool:
    return MANIFEST_KEY in meta.metadata


def user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if not k.startswith(RESERVED_KEY_PREFIX)}


def check_user_metadata(metadata: Mapping[str, str], field: str) -> None:
    for key in metadata:
        if key.startswith(RESERVED_KEY_PREFIX):
            raise errors.InvalidArgument(
                f"{field} key {key!r}: keys starting with {RESERVED_KEY_PREFIX!r} are reserved",
                field=f"{field}[{key}]",
                reason="RESERVED_METADATA",
            )


class _Splitter:
    """Cuts one byte stream into consecutive segment streams (bytes are sliced, not copied
    except at a segment boundary)."""

    def __init__(self, source: AsyncIterator[bytes], want_md5: bool, want_sha256: bool) -> None:
        self._source = source
        self._carry = b""
        self.exhausted = False
        self.total = 0
        self.md5 = hashlib.md5(usedforsecurity=False) if want_md5 else None
        self.sha256 = hashlib.sha256() if want_sha256 else None

    async def _next(self) -> bytes | None:
        if self._carry:
            piece, self._carry = self._carry, b""
            return piece
        try:
            return await self._source.__anext__()
        except StopAsyncIteration:
            self.exhausted = True
            return None

    async def segment(self, budget: int) -> AsyncIterator[bytes]:
        while budget > 0:
            piece = await self._next()
            if piece is None:
                return
            if len(piece) > budget:
                piece, self._carry = piece[:budget], piece[budget:]
            budget -= len(piece)
            self.total += len(piece)
            if self.md5 is not None:
                self.md5.update(piece)
            if self.sha256 is not None:
                self.sha256.update(piece)
            yield piece

    async def more(self) -> bool:
        """Whether bytes remain (reads one piece ahead)."""
        if self._carry:
            return True
        if self.exhausted:
            return False
        piece = await self._next()
        if piece is None:
            return False
        self._carry = piece
        return True


class LargeObjects:
    """Segmented storage of large objects; see the module docstring."""

    def __init__(
        self, replicas: ReplicaIO, segment_size: int, reap_age: float = 24 * 3600.0
    ) -> None:
        """``reap_age``: ``storage.segment_reap_age``, as the storage nodes' reapers use it."""
        if reap_age <= 0:
            raise errors.InvalidArgument(
                f"segment_reap_age must be positive, not {reap_age}",
                field="storage.segment_reap_age",
            )
        self.replicas = replicas
        self.segment_size = segment_size
        #: Seconds after its version an upload may still write segments and its manifest.
        self.upload_deadline = reap_age * UPLOAD_DEADLINE_FRACTION
        self._cleanups: set[asyncio.Task[None]] = set()

    def _prefix(self, container: str, name: str, version: str) -> str:
        return group_prefix(container, name, version)

    def _check_deadline(self, version: str) -> None:
        """Refuse to go on with an upload the segment reaper may judge abandoned.

        The reaper deletes an unreferenced group of segments once its version is
        ``reap_age`` old; checking here, before every segment and before the manifest,
        that the version is younger than half that age means a manifest write starts
        at least ``reap_age / 2`` before any reaper could look at its segments."""
        age = time.time() - Timestamp.parse(version).seconds
        if age > self.upload_deadline:
            raise errors.DeadlineExceeded(
                f"the upload has run for {age:.0f} s; a large upload must finish within "
                f"{self.upload_deadline:.0f} s (half of storage.segment_reap_age)",
                field="data",
                reason="UPLOAD_TOO_SLOW",
                hint="upload faster, or split the object; operators can raise "
                "storage.segment_reap_age on every proxy and storage node",
            )

    async def store(
        self,
        account: str,
        container: str,
        name: str,
        version: str,
        body: AsyncIterator[bytes],
        clock: Clock,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        size: int | None,
        expected_md5: str,
        expected_sha256: str,
        compute_sha256: bool,
    ) -> spb.ObjectMetadata:
        """Store ``body`` as segments and a manifest; return the manifest's metadata."""
        splitter = _Splitter(body, bool(expected_md5), bool(expected_sha256) or compute_sha256)
        prefix = self._prefix(container, name, version)
        marks = owner_marks(container, name)
        segments: list[Segment] = []
        try:
            while True:
                self._check_deadline(version)
                segment_name = f"{prefix}/{len(segments):08d}"
                stored = await self.replicas.put_stream(
                    account,
                    SEGMENTS,
                    segment_name,
                    clock.next(),
                    splitter.segment(self.segment_size),
                    metadata=marks,
                )
                segments.append(Segment(segment_name, stored.size, stored.etag))
                if not await splitter.more():
                    break
            self._check(splitter, size, expected_md5, expected_sha256)
            # Last, right before the manifest: the check that makes the reaper safe.
            self._check_deadline(version)
        except BaseException:
            self._forget(account, [s.name for s in segments], clock)
            raise
        etag_of_etags = hashlib.md5(
            "".join(s.etag for s in segments).encode(), usedforsecurity=False
        ).hexdigest()
        etag = f"{etag_of_etags}-{len(segments)}"
        manifest = json.dumps(
            {"segments": [[s.name, s.size, s.etag] for s in segments]}, separators=(",", ":")
        ).encode()
        manifest_marks = {
            MANIFEST_KEY: "1",
            SIZE_KEY: str(splitter.total),
            ETAG_KEY: etag,
            SEGMENTS_KEY: str(len(segments)),
        }
        if splitter.sha256 is not None:
            manifest_marks[SHA256_KEY] = splitter.sha256.hexdigest()
        try:
            return await self.replicas.put_small(
                account,
                container,
                name,
                version,
                manifest,
                content_type=content_type,
                metadata={**metadata, **manifest_marks},
            )
        except BaseException:
            self._forget(account, [s.name for s in segments], clock)
            raise

    @staticmethod
    def _check(splitter: _Splitter, size: int | None, md5: str, sha256: str) -> None:
        if size is not None and splitter.total != size:
            raise errors.InvalidArgument(
                f"the upload has {splitter.total} bytes, not the {size} announced",
                field="header.size",
                reason="SIZE_MISMATCH",
            )
        if splitter.md5 is not None and splitter.md5.hexdigest() != md5.lower():
            raise errors.InvalidArgument(
                f"the object's MD5 is {splitter.md5.hexdigest()}, not the expected {md5}",
                field="header.expected_md5",
                reason="CHECKSUM_MISMATCH",
            )
        if sha256 and splitter.sha256 is not None and splitter.sha256.hexdigest() != sha256.lower():
            raise errors.InvalidArgument(
                f"the object's SHA-256 is {splitter.sha256.hexdigest()}, not the expected {sha256}",
                field="header.expected_sha256",
                reason="CHECKSUM_MISMATCH",
            )

    async def drain(self) -> None:
        """Wait for the background segment deletions (tests, clean shutdown)."""
        while self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    def _forget(self, account: str, names: list[str], clock: Clock) -> None:
        """Delete segments in the background (orphans of a failed upload or a deleted object)."""
        if not names:
            return

        async def remove() -> None:
            for segment in names:
                try:
                    await self.replicas.delete(account, SEGMENTS, segment, clock.next())
                except errors.CumuloError as exc:
                    log.warning("could not delete segment %s of %s: %s", segment, account, exc)

        task = asyncio.ensure_future(remove())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @staticmethod
    def segments_of(manifest_body: bytes) -> list[Segment]:
        try:
            data = json.loads(manifest_body)
            return [Segment(str(n), int(s), str(e)) for n, s, e in data["segments"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.DataCorruption(f"a large object's manifest is unreadable: {exc}") from None

    async def read_manifest(self, account: str, container: str, name: str) -> list[Segment]:
        header, body = await self.replicas.get(account, container, name)
        if not is_manifest(header.object):
            raise errors.Aborted("the object changed while it was read; retry")
        return self.segments_of(b"".join([piece async for piece in body]))

    def delete_segments(self, account: str, segments: list[Segment], clock: Clock) -> None:
        self._forget(account, [s.name for s in segments], clock)

    async def predecessor(self, account: str, container: str, name: str) -> Predecessor:
        """The large object version a write of ``name`` will replace (see the module doc).

        One GET, so the manifest body and its version are the same version's.  Never
        raises for a missing or small object, nor when the nodes fail: it then
        answers an empty :class:`Predecessor` (and nothing will be deleted).
        """
        try:
            header, body = await self.replicas.get(account, container, name)
        except errors.CumuloError as exc:
            log.debug("no predecessor read for %s/%s: %s", container, name, exc)
            return Predecessor("", [])
        try:
            if not is_manifest(header.object):
                return Predecessor("", [])
            manifest = b"".join([piece async for piece in body])
            return Predecessor(header.object.timestamp, self.segments_of(manifest))
        except errors.CumuloError as exc:
            log.warning("the manifest of %s/%s could not be read: %s", container, name, exc)
            return Predecessor("", [])
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    def replaced_rows(
        self,
        account: str,
        container: str,
        name: str,
        rows: list[Row],
        version: str,
        clock: Clock,
    ) -> None:
        """An upload of ``version`` was acknowledged and listed: delete the segments of
        the large objects the listing update said it replaced.

        No manifest needs reading: a large object's listing row carries its version and
        its ETag ``<md5>-<segments>``, and its segments are named
        ``<prefix of container/name>/<version>/<n>`` (:meth:`store`).  Only versions
        older than ``version`` count (see :meth:`replaced`)."""
        newer = Timestamp.parse(version)
        for row in rows:
            match = _LARGE_ETAG.match(row.etag)
            if match is None or Timestamp.parse(row.timestamp) >= newer:
                continue
            prefix = self._prefix(container, name, Timestamp.parse(row.timestamp).internal)
            count = int(match.group(1))
            log.info("deleting %d segments of a large object a newer upload replaced", count)
            self._forget(account, [f"{prefix}/{n:08d}" for n in range(count)], clock)

    def replaced(self, account: str, old: Predecessor, version: str, clock: Clock) -> None:
        """``version`` was acknowledged: delete the segments of an older predecessor."""
        if old.segments and old.version < version:
            log.info("deleting %d segments of a replaced large object", len(old.segments))
            self._forget(account, [s.name for s in old.segments], clock)

    @staticmethod
    def size_of(meta: spb.ObjectMetadata) -> int:
        return int(meta.metadata.get(SIZE_KEY, "0"))

    async def open(
        self,
        account: str,
        segments: list[Segment],
        size: int,
        start: int | None,
        end: int | None,
    ) -> tuple[int, int, AsyncIterator[bytes]]:
        """(start, end, bytes) of ``[start, end)`` of the large object (end clamped)."""
        first = start or 0
        last = size if end is None else min(end, size)
        if first >= size and (start is not None or size > 0):
            raise errors.OutOfRange(
                f"the range starts at byte {first}, past the object's end ({size} bytes)",
                field="range.start",
                reason="RANGE_NOT_SATISFIABLE",
            )

        async def stream() -> AsyncIterator[bytes]:
            offset = 0
            for segment in segments:
                seg_start, seg_end = offset, offset + segment.size
                offset = seg_end
                if seg_end <= first or seg_start >= last:
                    continue
                lo = max(first, seg_start) - seg_start
                hi = min(last, seg_end) - seg_start
                whole = lo == 0 and hi == segment.size
                _header, body = await self.replicas.get(
                    account, SEGMENTS, segment.name, None if whole else lo, None if whole else hi
                )
                try:
                    async for piece in body:
                        yield piece
                finally:
                    await body.aclose()  # type: ignore[attr-defined]

        return first, last, stream()
