"""The Swift all-in-one of the comparison, for real (skipped unless Swift is installed).

Swift is not a project dependency; ``make bench-objects`` installs it into the venv.
With it, this starts the all-in-one, runs every phase through the Swift backend and
checks the tear-down leaves no process behind.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.swift_baseline.aio import KEY, USER, SwiftAllInOne, SwiftConfig
from bench.swift_baseline.client import SwiftBackend
from cumulo.loadtest.runner import Runner
from cumulo.loadtest.sizes import parse_sizes
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("swift") is None or shutil.which("memcached") is None,
        reason="Swift (pip install swift==2.38.3) and memcached are needed",
    ),
]


def test_swift_all_in_one_serves_every_phase_and_stops(tmp_path: Path) -> None:
    swift = SwiftAllInOne(tmp_path, SwiftConfig(workers=1))
    with swift:
        pids = [child.process.pid for child in swift.children]
        sizes = parse_sizes("4KiB:3,1MiB:1")
        workload = Workload(
            tuple(
                PhaseSpec(Mix.single(op), count=20, concurrency=4, sizes=sizes)
                for op in (Op.PUT, Op.GET, Op.HEAD, Op.LIST, Op.DELETE)
            ),
            prefix="it/",
            list_limit=7,
        )

        async def main() -> dict[str, Any]:
            backend = SwiftBackend(swift.auth_url, USER, KEY)
            try:
                return (await Runner(backend, workload).run()).to_dict()
            finally:
                await backend.close()

        result = asyncio.run(main())
    phases = result["phases"]
    assert [p["completed"] for p in phases] == [20] * 5, phases
    assert all(p["errors"] == 0 for p in phases)
    assert phases[3]["items"] > 0
    assert swift.children == []
    for pid in pids:  # every process group we started is gone
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
