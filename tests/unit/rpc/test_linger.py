"""The linger rule of pipelined stream writers (cumulo/rpc/linger.py)."""

from __future__ import annotations

import asyncio
import time

from cumulo.rpc.linger import Linger


def _fed(linger: Linger, gap: float = 0.0, count: int = 3) -> Linger:
    """``linger`` after ``count`` operations queued ``gap`` seconds apart."""
    for _ in range(count):
        linger.queued(1)
        if gap:
            time.sleep(gap)
    return linger


def test_a_quiet_stream_never_holds() -> None:
    linger = Linger(seconds=5.0, busy=2)
    assert not linger.should_hold(queued=1, outstanding=0)
    assert not linger.should_hold(queued=1, outstanding=1)

    async def main() -> float:
        started = time.monotonic()
        await linger.hold(queued=1, outstanding=1)
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_a_busy_stream_holds_until_the_deadline() -> None:
    linger = _fed(Linger(seconds=0.05, busy=2))
    assert linger.should_hold(queued=1, outstanding=3)

    async def main() -> float:
        started = time.monotonic()
        await linger.hold(queued=1, outstanding=3)
        return time.monotonic() - started

    held = asyncio.run(main())
    assert 0.04 <= held < 1.0


def test_a_hold_ends_as_soon_as_as_many_are_queued_as_are_outstanding() -> None:
    linger = _fed(Linger(seconds=10.0, busy=2))

    async def main() -> tuple[float, list[int]]:
        queued = [1]

        async def submit_more() -> None:
            for _ in range(3):
                await asyncio.sleep(0.01)
                queued.append(1)
                linger.queued(len(queued))

        started = time.monotonic()
        feeder = asyncio.create_task(submit_more())
        await linger.hold(queued=len(queued), outstanding=4)
        elapsed = time.monotonic() - started
        await feeder
        return elapsed, queued

    elapsed, queued = asyncio.run(main())
    assert elapsed < 5.0  # woken by the fourth queued operation, long before 10 s
    assert len(queued) == 4


def test_reports_outside_a_hold_do_nothing_and_a_full_batch_never_waits() -> None:
    linger = _fed(Linger(seconds=10.0, busy=2))
    linger.queued(100)  # no hold in progress: ignored, and no later hold ends early from it
    assert not linger.should_hold(queued=4, outstanding=4)
    assert not linger.should_hold(queued=64, outstanding=64)

    async def main() -> float:
        started = time.monotonic()

        async def wake_later() -> None:
            await asyncio.sleep(0.05)
            linger.queued(2)

        waker = asyncio.create_task(wake_later())
        await linger.hold(queued=1, outstanding=2)
        await waker
        return time.monotonic() - started

    assert 0.04 <= asyncio.run(main()) < 5.0


def test_zero_seconds_turns_it_off() -> None:
    assert not Linger(seconds=0.0).should_hold(queued=1, outstanding=50)


def test_a_message_that_starts_with_a_big_operation_is_never_held() -> None:
    linger = _fed(Linger(seconds=10.0, busy=2, max_bytes=64 * 1024))
    assert linger.should_hold(queued=1, outstanding=8, first_bytes=64 * 1024)
    assert not linger.should_hold(queued=1, outstanding=8, first_bytes=64 * 1024 + 1)
    assert not linger.should_hold(queued=1, outstanding=8, first_bytes=1 << 20)


def test_operations_too_far_apart_for_a_hold_to_catch_another_are_not_held() -> None:
    linger = Linger(seconds=0.01, busy=2, max_gap=0.02)
    assert not linger.should_hold(queued=1, outstanding=8)  # no gap known yet
    _fed(linger, gap=0.04)
    assert linger.gap > 0.03
    assert not linger.should_hold(queued=1, outstanding=8)
    _fed(linger, count=30)  # a burst: the average gap falls below max_gap
    assert linger.gap < 0.02
    assert linger.should_hold(queued=1, outstanding=8)
