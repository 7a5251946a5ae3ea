"""The load generator's own ceiling: ``cumulo bench objects``' gRPC backend against a fake.

Runs the Cumulo backend of :mod:`cumulo.loadtest` against the in-memory fake
ObjectService of the tests (``tests/helpers/objectservice.py``) served from a
separate process, so the figures are the client's: operations per second it can
drive on this machine and its CPU per operation (``client_cpu_ms_per_op``), beside
the fake server's CPU per operation.  A real proxy can look no faster than this
from the same client; compare these figures with bench/objects_compare.py's.

    python bench/objects_client.py [--duration 3] [--api session|unary|stream]

``--api`` picks how objects of at most 1 MiB travel, as ``cumulo bench objects --api``
does: pipelined ``ObjectSession`` streams (the default), one unary call each, or the
PutObject/GetObject streams.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cumulo.loadtest.runner import Runner, run_prefix  # noqa: E402
from cumulo.loadtest.sizes import FixedSize  # noqa: E402
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
CASES = [(4 * KIB, 8), (4 * KIB, 32), (MIB, 8), (MIB, 32)]


def serve_fake(pipe: Connection) -> None:
    from tests.helpers.objectservice import FakeObjectService, serve

    async def main() -> None:
        server, endpoint = await serve(FakeObjectService())
        pipe.send(endpoint)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop(None)

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_case(
    endpoint: str,
    token: str,
    size: int,
    concurrency: int,
    seconds: float,
    server_pid: int,
    api: str = "session",
) -> list[dict[str, Any]]:
    from cumulo.loadtest.grpc_backend import CumuloObjectBackend

    backend = CumuloObjectBackend(endpoint, token, channels=2, api=api)
    rows = []
    runner = Runner(backend, Workload((), container="bench", prefix=run_prefix()))
    await backend.prepare("bench")
    try:
        for op in (Op.PUT, Op.GET):
            spec = PhaseSpec(
                Mix.single(op), concurrency=concurrency, duration=seconds, sizes=FixedSize(size)
            )
            before = cpu_seconds(server_pid)
            phase = (await runner.run_phase(spec)).to_dict()
            server_cpu = cpu_seconds(server_pid) - before
            done = phase["completed"] + phase["errors"]
            rows.append(
                {
                    "case": f"{op.value}_{size // KIB}KiB_c{concurrency}",
                    "ops_per_s": phase["ops_per_s"],
                    "mb_per_s": phase["mb_per_s"],
                    "p99_ms": phase["latency"]["p99_ms"],
                    "errors": phase["errors"],
                    "client_cpu_ms_per_op": phase["client_cpu_ms_per_op"],
                    "fake_server_cpu_ms_per_op": round(server_cpu / done * 1000, 4)
                    if done
                    else None,
                }
            )
    finally:
        await backend.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per phase")
    parser.add_argument(
        "--api",
        choices=("session", "unary", "stream"),
        default="session",
        help="how objects of at most 1 MiB travel (default: session)",
    )
    args = parser.parse_args()
    from cumulo.malloc import keep_large_buffers_in_heap
    from tests.helpers.objectservice import TOKEN

    keep_large_buffers_in_heap()  # as `cumulo bench objects` does (the fake is spawned)

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve_fake, args=(theirs,), daemon=True)
    process.start()
    try:
        endpoint = ours.recv()
        assert process.pid is not None
        rows = []
        for size, concurrency in CASES:
            rows += asyncio.run(
                run_case(
                    endpoint,
                    TOKEN,
                    size,
                    concurrency,
                    args.duration,
                    process.pid,
                    api=args.api,
                )
            )
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()
    print(
        json.dumps(
            {
                "bench": "objects_client",
                "cpus": os.cpu_count(),
                "small_objects_api": args.api,
                "cases": rows,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
