"""bench/grpc_floor.py runs and reports a plausible floor (a smoke test, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_floor_bench_reports_calls_and_cpu_per_call() -> None:
    done = subprocess.run(
        [sys.executable, "bench/grpc_floor.py", "--seconds", "0.3", "--concurrency", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["bench"] == "grpc_floor" and result["concurrency"] == 4
    assert result["calls_per_s"] > 0
    assert result["server_cpu_ms_per_call"] > 0 and result["client_cpu_ms_per_call"] > 0
