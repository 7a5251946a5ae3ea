"""Percentile math and phase summaries."""

from __future__ import annotations

import math
import random

import pytest

from cumulo.loadtest.stats import OpStats, PhaseStats, latency_summary, percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0.1) == 1
    assert percentile([7.0], 99) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_percentile_small_samples() -> None:
    # Nearest rank never interpolates: with 10 values, p99 is the maximum.
    values = sorted(float(v) for v in [5, 1, 9, 3, 7, 2, 8, 4, 6, 10])
    assert percentile(values, 99) == 10
    assert percentile(values, 90) == 9
    assert percentile(values, 50) == 5


def test_percentile_matches_brute_force() -> None:
    rng = random.Random(9)
    values = sorted(rng.expovariate(1.0) for _ in range(997))
    for p in (50.0, 90.0, 99.0, 99.9):
        expected = min(v for v in values if sum(1 for w in values if w <= v) >= p / 100 * 997)
        assert percentile(values, p) == expected


def test_latency_summary_in_ms() -> None:
    out = latency_summary([0.001 * v for v in range(1, 101)])
    assert out == {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "max_ms": 100.0, "mean_ms": 50.5}
    assert latency_summary([])["p99_ms"] is None


def test_op_stats_summary() -> None:
    stats = OpStats()
    for _ in range(10):
        stats.record(0.01, 1_000_000)
    stats.errors["HTTP_503"] += 2
    out = stats.summary(elapsed=2.0)
    assert out["ops"] == 10 and out["errors"] == 2
    assert out["ops_per_s"] == 5.0
    assert out["mb_per_s"] == 5.0
    assert out["errors_by_kind"] == {"HTTP_503": 2}


def test_phase_total_merges_ops() -> None:
    phase = PhaseStats()
    phase.op("get").record(0.002, 10)
    phase.op("put").record(0.004, 20)
    phase.op("put").errors["X"] += 1
    total = phase.total()
    assert sorted(total.latencies) == [0.002, 0.004]
    assert total.bytes == 30 and total.errors == {"X": 1}


def test_timeline_fills_idle_seconds() -> None:
    phase = PhaseStats()
    assert phase.timeline() == []
    phase.per_second[0] += 3
    phase.per_second[2] += 1
    assert phase.timeline() == [3, 0, 1]
