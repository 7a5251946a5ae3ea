"""Names and ownership marks of large-object segments, shared by the proxy and the reaper.

A large object's segments are normal objects of the account's hidden container
:data:`SEGMENTS`, named ``<digest>/<version>/<n>``: ``digest`` is BLAKE2b-128 of
``container/name`` (so the name has a bounded length whatever the object's name),
``version`` the timestamp the upload was given (the manifest is written at that
same version), ``n`` the segment's index, eight digits.

The digest cannot be turned back into the object's name, so every segment also
carries its object's container and name in reserved metadata (:func:`owner_marks`):
the reaper (``storage/replication/reaper.py``) reads them to find the manifest that
may reference the segment.  Metadata values are at most 256 bytes and object names
up to 1024, so the name is cut into numbered pieces at character boundaries.
:func:`owner_of` reads the marks back and answers None unless they are complete and
hash to the segment's digest: a segment without trustworthy marks (written before
they existed, or damaged) is never reaped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from storage.names import MAX_METADATA_VALUE_BYTES
from storage.timestamp import Timestamp

#: The account's hidden container of segments (user container names may not start with ".cumulo-").
SEGMENTS = ".cumulo-segments"
#: The container of the object a segment belongs to.
OWNER_CONTAINER_KEY = "cumulo.of-container"
#: The object's name, in pieces: ``cumulo.of-object.0``, ``.1``, ...
OWNER_OBJECT_KEY = "cumulo.of-object"
#: How many pieces the name was cut into (so a missing piece is noticed).
OWNER_PIECES_KEY = "cumulo.of-object-pieces"

_NAME = re.compile(r"^([0-9a-f]{32})/(\d{10}\.\d{5}(?:_[0-9a-f]{4})?)/(\d{8})$")


def digest_of(container: str, name: str) -> str:
    """The first part of the segment names of ``container/name``."""
    return hashlib.blake2b(f"{container}/{name}".encode(), digest_size=16).hexdigest()


def group_prefix(container: str, name: str, version: str) -> str:
    """``<digest>/<version>``: every segment of one upload starts with it."""
    return f"{digest_of(container, name)}/{version}"


@dataclass(frozen=True)
class SegmentName:
    """A segment's name, parsed."""

    digest: str
    version: str
    index: int

    @property
    def group(self) -> str:
        """``<digest>/<version>``: what the segments of one upload share."""
        return f"{self.digest}/{self.version}"

    @classmethod
    def parse(cls, name: str) -> SegmentName | None:
        """The parts of a segment name; None for anything else."""
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(match.group(1), Timestamp.parse(match.group(2)).internal, int(match.group(3)))


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, at character boundaries."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def owner_marks(container: str, name: str) -> dict[str, str]:
    """The reserved metadata that names a segment's object (see the module docstring)."""
    pieces = _pieces(name, MAX_METADATA_VALUE_BYTES)
    marks = {OWNER_CONTAINER_KEY: container, OWNER_PIECES_KEY: str(len(pieces))}
    for n, piece in enumerate(pieces):
        marks[f"{OWNER_OBJECT_KEY}.{n}"] = piece
    return marks


def owner_of(metadata: Mapping[str, str], digest: str) -> tuple[str, str] | None:
    """``(container, name)`` a segment's marks name, if complete and matching ``digest``."""
    container = metadata.get(OWNER_CONTAINER_KEY)
    count = metadata.get(OWNER_PIECES_KEY, "")
    if not container or not count.isdigit() or not 0 < int(count) <= 16:
        return None
    pieces = [metadata.get(f"{OWNER_OBJECT_KEY}.{n}") for n in range(int(count))]
    if any(piece is None for piece in pieces):
        return None
    name = "".join(piece or "" for piece in pieces)
    if digest_of(container, name) != digest:
        return None
    return container, name
