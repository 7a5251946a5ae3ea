"""Locating command-line tools installed beside the test interpreter (venv bin)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def venv_tool(name: str) -> str:
    """Path of ``name`` from the interpreter's bin directory, else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run `make test` to set up the venv")
    return found


def cumulo(
    env: dict[str, str], *args: str, timeout: float = 120, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``cumulo`` CLI of this interpreter with ``env`` (in ``cwd``); capture its
    output."""
    return subprocess.run(
        [sys.executable, "-m", "cumulo.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
