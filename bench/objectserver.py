"""Benchmark one object server over direct gRPC: small-object ops/s and large-object MB/s.

Starts a real ``python -m storage.object`` process on a temporary device (under
``--dir``, default the system temp dir, i.e. the same disk a node would use
here) and drives it from this process with the asyncio client, ``--seconds``
per phase:

* ``put_4k`` / ``get_4k`` at concurrency 8 and 32: ops/s and p50/p99 latency;
  every PUT is a new object, fdatasync'ed and renamed before it is acknowledged;
* ``put_1m`` / ``get_1m`` at concurrency 8: MB/s (10^6 bytes/s);
* ``session_put_4k`` / ``session_get_4k``: the 4 KiB operations multiplexed over
  ``RunSession`` streams (one per client channel) instead of one call each;
* ``disk_floor``: in the same run, what the disk alone allows for the same
  durability steps (write 4 KiB, fdatasync, rename, fsync the directory) on
  one thread and on 32 - the ceiling for ``put_4k``;
* ``server_cpu_ms_per_op``: server CPU time per operation (user + system), the
  figure that decides how many object servers a proxy's load needs.

Client and server share the machine (2 cores here), so these are lower bounds
for a server with a core of its own.  Prints one JSON object.
Run: ``make bench-objectserver`` or ``python bench/objectserver.py --seconds 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.object.client import (  # noqa: E402
    Location,
    ObjectServerClient,
    ObjectServerSession,
)
from storage.timestamp import Timestamp  # noqa: E402

KIB = 1024
MIB = 1024 * 1024


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    ready = work / "ready"
    argv = [
        sys.executable,
        "-m",
        "storage.object",
        "--data-dir",
        str(work / "data"),
        "--devices-root",
        str(work / "devices"),
        "--device",
        "d1",
        "--create-devices",
        "--credential-file",
        str(work / "credential"),
        "--init-credential",
        "--listen",
        "127.0.0.1:0",
        "--ready-file",
        str(ready),
    ]
    env = dict(os.environ, CUMULO_LOGGING_LEVEL="WARNING")
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip().isdigit()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"object server did not start; see {work / 'server.log'}")
        time.sleep(0.05)
    credential = (work / "credential").read_text().strip()
    return process, f"127.0.0.1:{ready.read_text().strip()}", credential


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_floor(folder: Path, threads: int, seconds: float) -> float:
    """Ops/s of write+fdatasync+rename+fsync(dir) of 4 KiB files, nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    data = os.urandom(4 * KIB)
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(index: int) -> None:
        target_dir = folder / str(index)
        target_dir.mkdir()
        while time.monotonic() < stop:
            name = uuid.uuid4().hex
            temp = folder / f"{name}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.fdatasync(fd)
            os.close(fd)
            os.rename(temp, target_dir / name)
            dir_fd = os.open(target_dir, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
            counts[index] += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


class Phase:
    """Run ``op`` from ``concurrency`` tasks for ``seconds``; collect latencies."""

    def __init__(self, seconds: float, concurrency: int) -> None:
        self.seconds = seconds
        self.concurrency = concurrency
        self.latencies: list[float] = []

    async def run(self, op: Any) -> float:
        stop = time.monotonic() + self.seconds

        async def worker(worker_id: int) -> None:
            n = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                await op(worker_id, n)
                self.latencies.append(time.perf_counter() - started)
                n += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(self.concurrency)))
        return time.monotonic() - started

    def summary(self, elapsed: float, size: int) -> dict[str, float]:
        ops = len(self.latencies) / elapsed
        ordered = sorted(self.latencies)
        return {
            "concurrency": self.concurrency,
            "ops": len(ordered),
            "ops_per_s": round(ops, 1),
            "mb_per_s": round(ops * size / 1e6, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        }


class Workload:
    """PUTs of new objects of one size into one container, then GETs of what was written."""

    def __init__(self, clients: list[ObjectServerClient], size: int, container: str) -> None:
        self.clients = clients
        self.body = os.urandom(size)
        self.size = size
        self.container = container
        self.stamp = Timestamp.now().internal
        self.written: dict[int, int] = {}

    def location(self, worker: int, n: int) -> Location:
        partition = (worker * 7919 + n) % 1024
        return Location("d1", partition, "AUTH_bench", self.container, f"w{worker}/o{n}")

    async def put(self, worker: int, n: int) -> None:
        client = self.clients[worker % len(self.clients)]
        await client.put_object(self.location(worker, n), self.stamp, self.body)
        self.written[worker] = max(self.written.get(worker, 0), n + 1)

    async def get(self, worker: int, n: int) -> None:
        client = self.clients[worker % len(self.clients)]
        count = max(1, self.written.get(worker, 1))
        data = await client.read_object(self.location(worker, n % count))
        assert len(data) == self.size


class SessionWorkload(Workload):
    """The same operations multiplexed over one session per client (RunSession)."""

    def __init__(
        self, sessions: list[ObjectServerSession], clients: list[ObjectServerClient], *args: Any
    ) -> None:
        super().__init__(clients, *args)
        self.sessions = sessions

    async def put(self, worker: int, n: int) -> None:
        session = self.sessions[worker % len(self.sessions)]
        await session.put_object(self.location(worker, n), self.stamp, self.body)
        self.written[worker] = max(self.written.get(worker, 0), n + 1)

    async def get(self, worker: int, n: int) -> None:
        session = self.sessions[worker % len(self.sessions)]
        count = max(1, self.written.get(worker, 1))
        data = await session.read_object(self.location(worker, n % count))
        assert len(data) == self.size


async def bench(address: str, credential: str, pid: int, seconds: float) -> dict[str, Any]:
    # Several channels, as a proxy would have: one HTTP/2 connection serialises framing.
    clients = [ObjectServerClient(address, credential) for _ in range(4)]
    results: dict[str, Any] = {}

    async def measure(name: str, size: int, concurrency: int, op: Any) -> None:
        phase = Phase(seconds, concurrency)
        cpu_before = cpu_seconds(pid)
        elapsed = await phase.run(op)
        summary = phase.summary(elapsed, size)
        summary["server_cpu_ms_per_op"] = round(
            (cpu_seconds(pid) - cpu_before) * 1000 / max(1, summary["ops"]), 3
        )
        results[f"{name}_c{concurrency}"] = summary

    for size, label, concurrencies in ((4 * KIB, "4k", (8, 32)), (MIB, "1m", (8,))):
        for concurrency in concurrencies:
            workload = Workload(clients, size, f"{label}-c{concurrency}")
            await measure(f"put_{label}", size, concurrency, workload.put)
            await measure(f"get_{label}", size, concurrency, workload.get)
    sessions = [client.session() for client in clients]
    for concurrency in (8, 32):
        session_workload = SessionWorkload(sessions, clients, 4 * KIB, f"s4k-c{concurrency}")
        await measure("session_put_4k", 4 * KIB, concurrency, session_workload.put)
        await measure("session_get_4k", 4 * KIB, concurrency, session_workload.get)
    for session in sessions:
        await session.close()
    for client in clients:
        await client.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--dir", type=Path, default=None, help="where the device lives")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cumulo-bench-", dir=options.dir))
    process, address, credential = start_server(work)
    try:
        import _native

        floor = {
            "threads_1_ops_per_s": round(disk_floor(work / "floor1", 1, options.seconds), 1),
            "threads_32_ops_per_s": round(disk_floor(work / "floor32", 32, options.seconds), 1),
        }
        results = asyncio.run(bench(address, credential, process.pid, options.seconds))
        report = {
            "benchmark": "objectserver",
            "native_backend": _native.BACKEND,
            "cpus": os.cpu_count(),
            "seconds_per_phase": options.seconds,
            "disk_floor_4k_put": floor,
            **results,
        }
        print(json.dumps(report, indent=2))
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
