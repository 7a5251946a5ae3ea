"""Linger: hold a pipelined stream's next message back a moment while the stream is busy.

Every message on a gRPC stream costs both ends far more than the bytes in it: completion
events, a hand-off between gRPC's I/O thread, its poller thread and the event loop, each
one a thread wake-up (measured on a storage node at ~20 context switches per 4 KiB GET).
A pipelined stream (``ObjectSession``, the proxy's ``RunSession`` to each object
server) amortises that by carrying many operations per message, but only the operations
that happen to be waiting when the writer runs: at concurrency 32 over six sessions, a
session saw one new operation every ~4 ms, so nearly every message carried one.

:class:`Linger` is the writer's rule for waiting (the idea of Kafka's ``linger.ms`` and
of Nagle's algorithm, bounded by the stream's own load): *only while at least*
``busy`` *operations of the stream are outstanding* - sent and not yet answered, so the
caller is already waiting on the stream's round trips and more operations are about to
come - *and while operations arrive at least every* ``max_gap`` *seconds* (a moving
average of the gaps between them), the writer waits up to ``seconds`` for more, and stops
waiting as soon as as many are queued as are outstanding (a convoy has formed: waiting
longer only adds latency). A stream with fewer outstanding operations (a single caller,
light load) never waits; nor does one whose operations come too seldom for a wait to
catch another (each hold would only add its timer and its latency); nor a message whose
first operation carries more than ``max_bytes`` of data: its bytes cost more than the
message, and a big one travels alone anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

#: Longest hold of one message (s): a few milliseconds, small against the latency of an
#: operation on a stream busy enough to hold (tens of ms at concurrency 32).  Measured
#: (4 KiB GET, c=32, two alternating pairs each): 2 ms gained least, 8 ms more than 4.
LINGER_SECONDS = 0.008
#: Hold only while at least this many operations are outstanding.
LINGER_BUSY = 2
#: Never hold a message whose first operation carries more data than this (bytes).
LINGER_MAX_BYTES = 64 * 1024
#: Hold only while operations arrive at least this often (s, moving average of the gaps):
#: a hold then catches another operation about half the time or more.  Measured (4 KiB
#: PUT, c=32, three sessions, four alternating pairs): 20 ms against 8 ms (the hold
#: itself) held PUT streams too, 321 -> 337 PUT/s on average, 3 pairs of 4 better.
LINGER_MAX_GAP = 0.020
#: Weight of the newest gap in the moving average of the gaps between operations.
GAP_WEIGHT = 0.2


class Linger:
    """The hold rule of one stream's writer; use from the stream's event loop.

    The writer calls :meth:`hold` before taking its next batch; whoever queues an
    operation calls :meth:`queued` so a hold ends early once the batch is big enough.
    """

    def __init__(
        self,
        seconds: float = LINGER_SECONDS,
        busy: int = LINGER_BUSY,
        max_bytes: int = LINGER_MAX_BYTES,
        max_gap: float = LINGER_MAX_GAP,
    ) -> None:
        self.seconds = seconds
        self.busy = busy
        self.max_bytes = max_bytes
        self.max_gap = max_gap
        #: Moving average of the seconds between queued operations (inf: not known yet).
        self.gap = math.inf
        self._last: float | None = None
        self._enough = 0  # queued operations that end the current hold (0: none)
        self._wake: asyncio.Event | None = None

    def should_hold(self, queued: int, outstanding: int, first_bytes: int = 0) -> bool:
        """True when a writer with ``queued`` operations to send (the first carrying
        ``first_bytes`` of data) while ``outstanding`` others await their answers
        should wait for more first."""
        return (
            self.seconds > 0
            and outstanding >= self.busy
            and queued < outstanding
            and first_bytes <= self.max_bytes
            and self.gap <= self.max_gap
        )

    async def hold(self, queued: int, outstanding: int, first_bytes: int = 0) -> None:
        """Wait (at most ``seconds``) until as many operations are queued as are
        ``outstanding``; return at once when :meth:`should_hold` says not to wait."""
        if not self.should_hold(queued, outstanding, first_bytes):
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.clear()
        self._enough = outstanding
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.seconds):
                    await self._wake.wait()
        finally:
            self._enough = 0

    def queued(self, count: int) -> None:
        """Report one more operation queued, ``count`` now waiting to be sent: it feeds
        the average gap, and ends a hold once enough are waiting."""
        now = time.monotonic()
        if self._last is not None:
            gap = now - self._last
            self.gap = gap if math.isinf(self.gap) else self.gap + (gap - self.gap) * GAP_WEIGHT
        self._last = now
        if self._enough and count >= self._enough and self._wake is not None:
            self._wake.set()


__all__ = ["LINGER_BUSY", "LINGER_MAX_BYTES", "LINGER_MAX_GAP", "LINGER_SECONDS", "Linger"]
