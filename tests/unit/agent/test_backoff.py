"""Jittered exponential backoff of the agent's reconnects."""

from __future__ import annotations

import pytest

from agent.stream import Backoff


def test_delays_double_up_to_the_maximum_with_jitter_in_the_upper_half() -> None:
    low = Backoff(0.5, 4.0, rng=lambda: 0.0)
    high = Backoff(0.5, 4.0, rng=lambda: 0.999999)
    lows = [round(low.next(), 3) for _ in range(6)]
    highs = [round(high.next(), 3) for _ in range(6)]
    assert lows == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert highs == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_reset_and_exhaust() -> None:
    backoff = Backoff(0.1, 10.0, rng=lambda: 1.0)
    backoff.next()
    backoff.next()
    backoff.reset()
    assert backoff.next() == pytest.approx(0.1)
    backoff.exhaust()
    assert backoff.next() == pytest.approx(10.0)


def test_real_jitter_spreads_agents() -> None:
    delays = {round(Backoff(1.0, 1.0).next(), 6) for _ in range(50)}
    assert len(delays) > 40 and all(0.5 <= d <= 1.0 for d in delays)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(0, 1)
    with pytest.raises(ValueError):
        Backoff(2, 1)


def test_agent_knows_when_a_progress_notify_shows_it_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from agent.inventory import HostInventory
    from agent.reconciler import Reconciler
    from agent.stream import AgentStream, StreamOptions

    stream = AgentStream(
        StreamOptions(address=lambda: "", credential_file=Path("/nonexistent"), node_name="n"),
        Reconciler(tmp_path, []),
        HostInventory,
    )
    stream.reconciler.state.applied_revision = 3
    assert not stream._behind(3) and stream._behind(4)
    stream._pending = (4, [])
    assert not stream._behind(4) and stream._behind(5)
    stream._pending = None
    stream._applying = 5
    assert not stream._behind(5)
