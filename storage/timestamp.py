"""Object version timestamps: fixed-width, sortable as text, exact as integers.

Every PUT and DELETE carries a timestamp chosen by the proxy; on every replica the
newest timestamp wins (last write wins).  A timestamp is a count of 10-microsecond
ticks since the Unix epoch plus an *offset*, a small counter that orders two
versions made in the same tick (e.g. a metadata update right after a PUT).

Text form (used in file names and on the wire): ``SSSSSSSSSS.FFFFF_OOOO`` - ten
digits of seconds, five of fraction, four hex digits of offset, e.g.
``1732712345.12345_0000``.  It is fixed-width, so sorting the text sorts the
timestamps (until the year 2286).  The short form ``1732712345.12345`` (offset 0)
is accepted on input.  Arithmetic is on integers, so no float rounding can
reorder two versions.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cumulo import errors

TICKS_PER_SECOND = 100_000
MAX_OFFSET = 0xFFFF
_MAX_TICKS = 10**10 * TICKS_PER_SECOND - 1
_TEXT = re.compile(r"^(\d{10})\.(\d{5})(?:_([0-9a-f]{4}))?$")


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    """A version timestamp; ordering compares ``ticks`` then ``offset``."""

    ticks: int
    offset: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.ticks <= _MAX_TICKS or not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"timestamp out of range: ticks={self.ticks} offset={self.offset}")

    @classmethod
    def now(cls, offset: int = 0) -> Timestamp:
        """The current time, truncated to a tick."""
        return cls(time.time_ns() // 10_000, offset)

    @classmethod
    def from_seconds(cls, seconds: float, offset: int = 0) -> Timestamp:
        return cls(round(seconds * TICKS_PER_SECOND), offset)

    @classmethod
    def parse(cls, text: str, field: str = "timestamp") -> Timestamp:
        """Parse either text form; raise InvalidArgument naming ``field`` otherwise."""
        match = _TEXT.match(text)
        if match is None:
            raise errors.InvalidArgument(
                f"{field} {text[:40]!r} is not a timestamp",
                field=field,
                reason="INVALID_TIMESTAMP",
                hint="use the form 1732712345.12345 or 1732712345.12345_0000 "
                "(seconds, 5 fraction digits, optional hex offset)",
            )
        seconds, fraction, offset = match.groups()
        ticks = int(seconds) * TICKS_PER_SECOND + int(fraction)
        if ticks == 0:
            raise errors.InvalidArgument(
                f"{field} must be after the epoch", field=field, reason="INVALID_TIMESTAMP"
            )
        return cls(ticks, int(offset, 16) if offset else 0)

    @property
    def normal(self) -> str:
        """``SSSSSSSSSS.FFFFF`` - without the offset."""
        seconds, fraction = divmod(self.ticks, TICKS_PER_SECOND)
        return f"{seconds:010d}.{fraction:05d}"

    @property
    def internal(self) -> str:
        """``SSSSSSSSSS.FFFFF_OOOO`` - the fixed-width form used in file names and on the wire."""
        return f"{self.normal}_{self.offset:04x}"

    @property
    def seconds(self) -> float:
        return self.ticks / TICKS_PER_SECOND

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.ticks / TICKS_PER_SECOND, UTC)

    def __str__(self) -> str:
        return self.internal
