"""Resident memory of the object API during large uploads and downloads.

Starts a throw-away all-in-one cloud (``cumulo up --detach`` in a temporary data
directory; the object API in a proxy process by default, ``--api nodes`` on every
storage node), then uploads and downloads one object of ``--mib`` MiB (segments of
256 MiB past that size) ``--iterations`` times through the SDK, sampling every
storage process's resident memory every 50 ms.  ``--kill-node`` kills storage node 2
first (writes then go to handoffs, as in the integration test); ``--busy-disk`` keeps
a ``dd`` writing and fsyncing a 1.5 GB scratch file meanwhile, so the nodes' syncs
are slow and the API waits at segment boundaries - the case that showed unbounded
buffering before cumulo/rpc/flow.py.  Prints one JSON object; the issue's bound is
200 MB per process for a 2 GiB object (``--mib 2048``).

    python bench/large_object_memory.py --iterations 3 --kill-node --busy-disk
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cumulo.client import Client


def cumulo(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cumulo.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    if done.returncode != 0:
        raise SystemExit(f"cumulo {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def storage_pids(data: Path) -> dict[str, int]:
    """role ("proxy", "node1", ...) -> pid of this cloud's storage processes."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(data).encode() not in b" ".join(argv):
            continue
        if b"storage.proxy" in argv:
            found["proxy"] = int(entry.name)
        elif b"storage.object" in argv:
            root = next(a for i, a in enumerate(argv) if i and argv[i - 1] == b"--devices-root")
            found[Path(root.decode()).name] = int(entry.name)
    return found


def resident_mib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


class Sampler:
    """Peak resident memory per role between :meth:`start_window` and :meth:`peaks`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._peaks: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for role, pid in self._pids.items():
                value = resident_mib(pid)
                if value is not None:
                    with self._lock:
                        self._peaks[role] = max(self._peaks.get(role, 0), value)

    def window(self) -> dict[str, int]:
        """The peaks since the previous call, and start a new window."""
        with self._lock:
            peaks, self._peaks = self._peaks, {}
        return peaks

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class BusyDisk:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={self._path}", "bs=1M", "count=1500", "conv=fsync"],
                capture_output=True,
                check=False,
            )

    def __enter__(self) -> BusyDisk:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._path.unlink(missing_ok=True)


def transfer(client: Client, mib: int, sampler: Sampler) -> dict[str, Any]:
    block = os.urandom(1 << 20)
    sampler.window()
    started = time.monotonic()
    client.objects.put_object("big", "blob", (block for _ in range(mib)), size=mib << 20)
    put_s = time.monotonic() - started
    put_peaks = sampler.window()
    started = time.monotonic()
    received = sum(len(chunk) for chunk in client.objects.get_object("big", "blob").chunks)
    get_s = time.monotonic() - started
    if received != mib << 20:
        raise SystemExit(f"read {received} bytes back, not {mib << 20}")
    return {
        "put_s": round(put_s, 2),
        "put_peak_rss_mib": put_peaks,
        "get_s": round(get_s, 2),
        "get_peak_rss_mib": sampler.window(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=300, help="object size in MiB")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--api", choices=["process", "nodes"], default="process")
    parser.add_argument("--kill-node", action="store_true", help="kill storage node 2 first")
    parser.add_argument("--busy-disk", action="store_true", help="keep a dd writing meanwhile")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = dict(os.environ)
        env.update(
            CUMULO_DATA_DIR=str(data),
            CUMULO_CONTROLLER_LISTEN="127.0.0.1:0",
            CUMULO_STORAGE_ALLINONE_LISTEN="127.0.0.1:0,127.0.0.1:0,127.0.0.1:0",
            CUMULO_STORAGE_PROXY_LISTEN="127.0.0.1:0",
            CUMULO_LOGGING_LEVEL="WARNING",
            CUMULO_STORAGE_ALLINONE_PROXY=options.api,
            XDG_CONFIG_HOME=str(Path(tmp) / "config"),
        )
        endpoints = json.loads(cumulo(env, "--json", "up", "--detach", "--no-login"))["endpoints"]
        try:
            pids = storage_pids(data)
            if options.kill_node:
                os.kill(pids.pop("node2"), signal.SIGKILL)
            sampler = Sampler(pids)
            password = (data / "controller" / "admin-password").read_text().strip()
            runs = []
            with Client(
                endpoints["controller"],
                user="admin",
                password=password,
                project="admin",
                object_endpoint=endpoints["object-proxy"],
                timeout=120,
            ) as client:
                client.objects.create_container("big", exist_ok=True)
                busy = BusyDisk(Path(tmp) / "busy.scratch") if options.busy_disk else None
                with busy or contextlib.nullcontext():
                    for _ in range(options.iterations):
                        runs.append(transfer(client, options.mib, sampler))
            sampler.stop()
        finally:
            cumulo(env, "down")
    peak = max(
        value
        for run in runs
        for key in ("put_peak_rss_mib", "get_peak_rss_mib")
        for value in run[key].values()
    )
    print(
        json.dumps(
            {
                "bench": "large_object_memory",
                "mib": options.mib,
                "object_api": options.api,
                "kill_node": options.kill_node,
                "busy_disk": options.busy_disk,
                "runs": runs,
                "peak_rss_mib": peak,
                "bound_mib": 200,
                "within_bound": peak < 200,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
