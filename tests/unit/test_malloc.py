"""The storage processes cap glibc's malloc arenas unless the operator chose."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from cumulo.malloc import cap_malloc_arenas, keep_large_buffers_in_heap


def test_operator_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_cap() -> None:
    # In a child: the cap is process-wide and must not leak into the test run.
    code = "from cumulo.malloc import cap_malloc_arenas; print(cap_malloc_arenas(2))"
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"


def test_the_load_generators_thresholds_yield_to_the_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    assert keep_large_buffers_in_heap() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_load_generators_thresholds() -> None:
    code = "from cumulo.malloc import keep_large_buffers_in_heap as k; print(k())"
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"
