"""Latency and throughput bookkeeping for one phase, and the exact percentile math.

Latencies are kept exactly (8 bytes each in an ``array('d')``: a million operations
cost 8 MB), so p50/p90/p99/max are exact nearest-rank percentiles, not histogram
estimates.  Failed operations are counted by error kind and kept out of the latency
figures: a fast refusal would otherwise make a failing system look quick.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50.0, 90.0, 99.0)


def percentile(ordered: list[float] | array[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence: the smallest value with at least
    ``p``% of the values at or below it.  ``p=100`` is the maximum; empty input is NaN."""
    n = len(ordered)
    if n == 0:
        return math.nan
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    rank = math.ceil(p / 100.0 * n)
    return float(ordered[max(rank, 1) - 1])


def latency_summary(latencies: array[float] | list[float]) -> dict[str, float | None]:
    """``{"p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"}`` of latencies in seconds."""
    if not latencies:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(latencies)
    out: dict[str, float | None] = {
        f"p{p:g}_ms": round(percentile(ordered, p) * 1000, 3) for p in PERCENTILES
    }
    out["max_ms"] = round(ordered[-1] * 1000, 3)
    out["mean_ms"] = round(sum(ordered) / len(ordered) * 1000, 3)
    return out


@dataclass
class OpStats:
    """Successful operations of one kind: latencies (s) and payload bytes moved."""

    latencies: array[float] = field(default_factory=lambda: array("d"))
    bytes: int = 0
    items: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, latency: float, nbytes: int, items: int = 0) -> None:
        self.latencies.append(latency)
        self.bytes += nbytes
        self.items += items

    def summary(self, elapsed: float) -> dict[str, Any]:
        ops = len(self.latencies)
        out: dict[str, Any] = {
            "ops": ops,
            "errors": sum(self.errors.values()),
            "ops_per_s": round(ops / elapsed, 2) if elapsed > 0 else None,
            "bytes": self.bytes,
            "mb_per_s": round(self.bytes / elapsed / 1e6, 3) if elapsed > 0 else None,
            "latency": latency_summary(self.latencies),
        }
        if self.items:
            out["items"] = self.items
        if self.errors:
            out["errors_by_kind"] = dict(sorted(self.errors.items()))
        return out


@dataclass
class PhaseStats:
    """Everything one phase recorded, per operation kind."""

    by_op: dict[str, OpStats] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    #: Successful operations completed in each whole second since the phase started:
    #: shows warm-up, stalls and interference that a phase's mean hides.
    per_second: Counter[int] = field(default_factory=Counter)

    def timeline(self) -> list[int]:
        """``per_second`` as a list, one entry per second (0 for idle seconds)."""
        if not self.per_second:
            return []
        return [self.per_second.get(i, 0) for i in range(max(self.per_second) + 1)]

    def op(self, name: str) -> OpStats:
        stats = self.by_op.get(name)
        if stats is None:
            stats = self.by_op[name] = OpStats()
        return stats

    def total(self) -> OpStats:
        total = OpStats()
        for stats in self.by_op.values():
            total.latencies.extend(stats.latencies)
            total.bytes += stats.bytes
            total.items += stats.items
            total.errors.update(stats.errors)
        return total
