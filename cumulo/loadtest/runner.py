"""The asyncio load runner: N concurrent workers per phase against one ObjectBackend.

Each phase starts ``concurrency`` tasks on the current event loop.  A worker draws an
operation from the phase's mix, a name from the key space and a size from the size
distribution (with its own seeded :class:`random.Random`), times the call with
``time.perf_counter`` and records it; a failure is counted by kind and the worker goes
on.  A counted phase hands out exactly ``count`` tickets (so ops + errors + skipped ==
count); a timed phase stops issuing at its deadline and waits for calls in flight.

The runner is single-threaded by design: the client's own CPU per operation is
measured (``client_cpu_ms_per_op``) and reported, so a reader can tell when the
client, not the system under test, was the limit.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cumulo.loadtest.backend import ObjectBackend, error_kind
from cumulo.loadtest.stats import PhaseStats
from cumulo.loadtest.workload import KeySpace, Mix, Op, PhaseSpec, Workload

#: Version of the JSON result's shape (docs/loadtest.md describes it).
SCHEMA = "cumulo.bench.objects/v1"


@dataclass
class PhaseResult:
    spec: PhaseSpec
    stats: PhaseStats
    elapsed: float
    cpu_seconds: float
    #: ``measure`` for the workload's phases; ``prefill`` and ``cleanup`` for the set-up
    #: and tear-down phases the runner adds (reported, but not the workload's figures).
    role: str = "measure"

    def to_dict(self) -> dict[str, Any]:
        total = self.stats.total()
        summary = total.summary(self.elapsed)
        done = summary["ops"] + summary["errors"]
        out: dict[str, Any] = {
            "name": self.spec.name,
            "role": self.role,
            "ops": list(self.spec.mix.ops),
            "concurrency": self.spec.concurrency,
            "count": self.spec.count,
            "duration_s": self.spec.duration,
            "sizes": self.spec.sizes.describe(),
            "elapsed_s": round(self.elapsed, 4),
            "completed": summary["ops"],
            "errors": summary["errors"],
            "errors_by_kind": summary.get("errors_by_kind", {}),
            "skipped": sum(self.stats.skipped.values()),
            "ops_per_s": summary["ops_per_s"],
            "bytes": summary["bytes"],
            "mb_per_s": summary["mb_per_s"],
            "latency": summary["latency"],
            "client_cpu_ms_per_op": (round(self.cpu_seconds / done * 1000, 4) if done else None),
            "ops_per_second_timeline": self.stats.timeline(),
        }
        if total.items:
            out["items"] = total.items
        if self.stats.skipped:
            out["skipped_by_op"] = dict(sorted(self.stats.skipped.items()))
        if len(self.spec.mix.ops) > 1:
            out["by_op"] = {
                op: stats.summary(self.elapsed) for op, stats in sorted(self.stats.by_op.items())
            }
        return out


@dataclass
class RunResult:
    backend: dict[str, Any]
    workload: Workload
    started_at: datetime
    elapsed: float
    phases: list[PhaseResult]

    def to_dict(self) -> dict[str, Any]:
        phases = [phase.to_dict() for phase in self.phases]
        return {
            "schema": SCHEMA,
            "started_at": self.started_at.isoformat(),
            "elapsed_s": round(self.elapsed, 3),
            "backend": self.backend,
            "workload": self.workload.describe(),
            "phases": phases,
            "totals": {
                "completed": sum(p["completed"] for p in phases),
                "errors": sum(p["errors"] for p in phases),
            },
        }


def run_prefix() -> str:
    """A fresh name prefix per run, so runs sharing a container never collide."""
    return f"bench-{uuid.uuid4().hex[:12]}/"


class Runner:
    """Runs one :class:`Workload` against one :class:`ObjectBackend`."""

    def __init__(
        self,
        backend: ObjectBackend,
        workload: Workload,
        *,
        clock: Callable[[], float] = time.perf_counter,
        on_phase: Callable[[PhaseResult], None] | None = None,
    ) -> None:
        self.backend = backend
        self.workload = workload
        self.clock = clock
        self.on_phase = on_phase
        self.keys = KeySpace(workload.prefix)
        self._rng = random.Random(workload.seed)

    async def run(self) -> RunResult:
        started_at = datetime.now(UTC)
        started = self.clock()
        await self.backend.prepare(self.workload.container)
        results = []
        if self.workload.prefill:
            concurrency = max((p.concurrency for p in self.workload.phases), default=8)
            spec = PhaseSpec(
                Mix.single(Op.PUT),
                concurrency=concurrency,
                count=self.workload.prefill,
                sizes=self.workload.prefill_sizes,
                name="prefill",
            )
            results.append(await self.run_phase(spec, role="prefill"))
        for spec in self.workload.phases:
            results.append(await self.run_phase(spec))
        if self.workload.cleanup and len(self.keys):
            concurrency = max((p.concurrency for p in self.workload.phases), default=8)
            spec = PhaseSpec(
                Mix.single(Op.DELETE),
                concurrency=concurrency,
                count=len(self.keys),
                name="cleanup",
            )
            results.append(await self.run_phase(spec, role="cleanup"))
        return RunResult(
            self.backend.describe(), self.workload, started_at, self.clock() - started, results
        )

    async def run_phase(self, spec: PhaseSpec, *, role: str = "measure") -> PhaseResult:
        stats = PhaseStats()
        buffer = memoryview(os.urandom(spec.sizes.max_size))
        container = self.workload.container
        prefix = self.workload.prefix
        list_limit = self.workload.list_limit
        op_timeout = self.workload.op_timeout
        backend, keys, clock = self.backend, self.keys, self.clock
        single = spec.mix.ops[0] if len(spec.mix.ops) == 1 else None
        can_refill = Op.PUT in spec.mix.ops
        remaining = [spec.count if spec.count is not None else -1]
        deadline = clock() + spec.duration if spec.duration is not None else None
        seeds = [self._rng.getrandbits(64) for _ in range(spec.concurrency)]

        async def worker(index: int) -> None:
            rng = random.Random(seeds[index])
            marker = ""
            while True:
                if deadline is None:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                elif clock() >= deadline:
                    return
                op = single if single is not None else spec.mix.choose(rng)
                name = ""
                if op is Op.PUT:
                    name = keys.new_name()
                    size = spec.sizes.sample(rng)
                elif op.needs_object:
                    picked = keys.claim(rng) if op is Op.DELETE else keys.pick(rng)
                    if picked is None:
                        stats.skipped[op.value] += 1
                        if can_refill or len(keys):  # len: every draw was being read
                            await asyncio.sleep(0)
                            continue
                        # Nothing left to read or delete and nothing refills it: the
                        # phase's remaining tickets are skipped too, so counts add up.
                        if deadline is None:
                            stats.skipped[op.value] += remaining[0]
                            remaining[0] = 0
                        return
                    name = picked
                nbytes = items = 0
                began = clock()
                try:
                    async with asyncio.timeout(op_timeout):
                        if op is Op.PUT:
                            await backend.put_object(container, name, buffer[:size])
                            nbytes = size
                        elif op is Op.GET:
                            nbytes = await backend.get_object(container, name)
                        elif op is Op.HEAD:
                            await backend.head_object(container, name)
                        elif op is Op.DELETE:
                            await backend.delete_object(container, name)
                        else:
                            page = await backend.list_objects(
                                container, prefix=prefix, marker=marker, limit=list_limit
                            )
                            items = len(page.names)
                            marker = page.names[-1] if page.truncated and page.names else ""
                    ended = clock()
                except Exception as exc:
                    kind = "DEADLINE_EXCEEDED" if isinstance(exc, TimeoutError) else error_kind(exc)
                    stats.op(op.value).errors[kind] += 1
                    if op is Op.DELETE and "NOT_FOUND" not in kind and "404" not in kind:
                        keys.add(name)  # it may well still exist
                    continue
                finally:
                    if op is Op.GET or op is Op.HEAD:
                        keys.release(name)
                stats.op(op.value).record(ended - began, nbytes, items)
                per_second[int(ended - started)] += 1
                if op is Op.PUT:
                    keys.add(name)

        per_second = stats.per_second
        cpu_before = time.process_time()
        started = clock()
        await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
        result = PhaseResult(spec, stats, clock() - started, time.process_time() - cpu_before, role)
        if self.on_phase is not None:
            self.on_phase(result)
        return result


def format_table(result: dict[str, Any]) -> str:
    """A short human table of a result dict (from :meth:`RunResult.to_dict`)."""
    header = ("phase", "conc", "ops", "errors", "ops/s", "MB/s", "p50", "p90", "p99", "max")
    rows = [header]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for phase in result["phases"]:
        lat = phase["latency"]
        rows.append(
            (
                phase["name"],
                str(phase["concurrency"]),
                str(phase["completed"]),
                str(phase["errors"]),
                "-" if phase["ops_per_s"] is None else f"{phase['ops_per_s']:.1f}",
                "-" if phase["mb_per_s"] is None else f"{phase['mb_per_s']:.2f}",
                ms(lat["p50_ms"]),
                ms(lat["p90_ms"]),
                ms(lat["p99_ms"]),
                ms(lat["max_ms"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("latencies in ms; MB = 10^6 bytes")
    for phase in result["phases"]:
        if phase["errors_by_kind"]:
            kinds = ", ".join(f"{k} x{v}" for k, v in phase["errors_by_kind"].items())
            lines.append(f"errors in {phase['name']}: {kinds}")
    return "\n".join(lines)
