"""The runner against an in-memory backend: counts, key space, errors, JSON shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cumulo.loadtest.runner import SCHEMA, Runner, format_table
from cumulo.loadtest.sizes import FixedSize, UniformSize
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload, parse_mix
from tests.helpers.loadtest import MemoryBackend


def run(backend: MemoryBackend, workload: Workload) -> dict[str, Any]:
    return asyncio.run(Runner(backend, workload).run()).to_dict()


def phase(op: Op, **kwargs: Any) -> PhaseSpec:
    return PhaseSpec(Mix.single(op), **kwargs)


def test_phases_in_order_with_exact_counts() -> None:
    backend = MemoryBackend()
    workload = Workload(
        (
            phase(Op.PUT, count=50, concurrency=4, sizes=FixedSize(1000)),
            phase(Op.GET, count=40, concurrency=3),
            phase(Op.HEAD, count=7, concurrency=8),
            phase(Op.LIST, count=4, concurrency=1),
            phase(Op.DELETE, count=20, concurrency=5),
        ),
        container="c",
        prefix="p/",
        list_limit=15,
        seed=1,
    )
    result = run(backend, workload)
    names = [p["name"] for p in result["phases"]]
    assert names == ["put", "get", "head", "list", "delete"]
    counts = [p["completed"] for p in result["phases"]]
    assert counts == [50, 40, 7, 4, 20]
    put, get, _head, listing, _delete = result["phases"]
    assert put["bytes"] == 50_000 and get["bytes"] == 40_000
    # LIST pages through the prefix: 15 + 15 + 15 + 5 of 50 names.
    assert listing["items"] == 50
    assert len(backend.containers["c"]) == 30
    assert all(p["errors"] == 0 for p in result["phases"])


def test_json_schema() -> None:
    result = run(
        MemoryBackend(),
        Workload((phase(Op.PUT, count=5, sizes=UniformSize(1, 10)),), prefix="x/", seed=3),
    )
    json.dumps(result)
    assert result["schema"] == SCHEMA
    assert set(result) == {
        "schema",
        "started_at",
        "elapsed_s",
        "backend",
        "workload",
        "phases",
        "totals",
    }
    (put,) = result["phases"]
    for key in (
        "name",
        "role",
        "ops",
        "concurrency",
        "count",
        "duration_s",
        "sizes",
        "elapsed_s",
        "completed",
        "errors",
        "errors_by_kind",
        "skipped",
        "ops_per_s",
        "bytes",
        "mb_per_s",
        "latency",
        "client_cpu_ms_per_op",
        "ops_per_second_timeline",
    ):
        assert key in put, key
    assert set(put["latency"]) == {"p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"}
    assert result["totals"] == {"completed": 5, "errors": 0}
    assert result["workload"]["phases"][0]["sizes"] == {"kind": "uniform", "low": 1, "high": 10}
    assert "put" in format_table(result)


def test_errors_counted_not_fatal() -> None:
    backend = MemoryBackend(fail_every=4)
    result = run(backend, Workload((phase(Op.PUT, count=40, concurrency=4),), seed=2))
    (put,) = result["phases"]
    assert put["completed"] + put["errors"] == 40
    assert put["errors"] == 10
    assert put["errors_by_kind"] == {"HTTP_503": 10}
    assert "HTTP_503" in format_table(result)


def test_duration_phase_stops_by_itself() -> None:
    backend = MemoryBackend(delay=0.001)
    result = run(backend, Workload((phase(Op.PUT, duration=0.2, concurrency=4),)))
    (put,) = result["phases"]
    assert put["completed"] > 10
    assert 0.2 <= put["elapsed_s"] < 1.0
    assert sum(put["ops_per_second_timeline"]) == put["completed"]


def test_prefill_and_delete_everything() -> None:
    backend = MemoryBackend()
    workload = Workload(
        (phase(Op.DELETE, count=30, concurrency=6), phase(Op.GET, count=5)),
        container="c",
        prefill=20,
    )
    result = run(backend, workload)
    prefill, delete, get = result["phases"]
    assert prefill["role"] == "prefill" and prefill["completed"] == 20
    assert delete["role"] == get["role"] == "measure"
    # Only 20 objects exist: 20 deletes, 10 skipped, never the same object twice.
    assert delete["completed"] == 20 and delete["errors"] == 0
    assert delete["skipped"] == 10
    assert backend.containers["c"] == {}
    assert get["completed"] == 0 and get["skipped"] == 5


def test_mix_reports_per_op() -> None:
    backend = MemoryBackend()
    workload = Workload(
        (PhaseSpec(parse_mix("put=50,get=30,head=10,delete=10"), count=400, concurrency=8),),
        seed=4,
    )
    result = run(backend, workload)
    (mix,) = result["phases"]
    assert mix["completed"] + mix["skipped"] == 400
    by_op = mix["by_op"]
    assert set(by_op) <= {"put", "get", "head", "delete"}
    assert by_op["put"]["ops"] > by_op["get"]["ops"] > by_op["head"]["ops"]
    assert sum(v["ops"] for v in by_op.values()) == mix["completed"]


def test_cleanup_deletes_what_the_run_stored() -> None:
    backend = MemoryBackend()
    backend.containers["c"] = {"other": b"kept"}
    workload = Workload(
        (phase(Op.PUT, count=30, concurrency=4), phase(Op.DELETE, count=5)),
        container="c",
        prefix="run/",
        cleanup=True,
    )
    result = run(backend, workload)
    *_, cleanup = result["phases"]
    assert cleanup["name"] == "cleanup" and cleanup["role"] == "cleanup"
    assert cleanup["completed"] == 25 and cleanup["errors"] == 0
    assert backend.containers["c"] == {"other": b"kept"}
    assert result["workload"]["cleanup"] is True
