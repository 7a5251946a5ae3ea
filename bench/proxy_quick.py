"""A quick end-to-end measurement of the object proxy (not the formal Swift comparison).

Starts a throw-away all-in-one cloud (``cumulo up --detach`` in a temporary data
directory, everything on free ports: controller, three storage nodes, the object
API on every node or, with ``--api process``, in a proxy process), then drives
``cumulo.object.v1`` with grpc.aio from this process (round robin over the nodes'
APIs; ``--api-servers 1``: only the first one):
4 KiB PUT and GET at concurrency 32, 1 MiB PUT and GET at concurrency 8 (3 replicas,
fsync before acknowledging, quorum 2).  Prints one JSON object.  The formal suite
with the Swift comparison is ``cumulo bench objects``.

    python bench/proxy_quick.py --seconds 5 [--unary]

``--sessions N``: objects of at most 1 MiB are put and got through N ``ObjectSession``
streams instead (pipelined; each worker uses the next session in turn).
``--unary``: every phase (objects of at most 1 MiB: 4 KiB and 1 MiB) uses
PutSmallObject/GetSmallObject, one unary call each, instead of the PutObject/GetObject
streams.  ``--small-only`` runs only the 4 KiB phases.  CPU per operation is
reported per role with its kernel part (``<role>_kernel``); the object API's work
is inside ``nodes`` (``proxy`` counts a standalone proxy process, if any).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cumulo.client import Client
from cumulo.object.v1 import object_pb2 as pb
from cumulo.object.v1 import object_pb2_grpc
from cumulo.rpc.tls import PLAINTEXT, aio_channel
from cumulo.services.object_session import AsyncObjectSession


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


def cpu_by_role(data_dir: str) -> dict[str, float]:
    """CPU seconds used so far by the cloud's processes (by role) and by this one;
    ``<role>_kernel`` is the part spent in the kernel (system time)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {"proxy": 0.0, "nodes": 0.0, "controller": 0.0, "bench": 0.0}
    out.update({f"{role}_kernel": 0.0 for role in list(out)})
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        kernel = int(fields[12]) / tick
        if int(entry.name) == os.getpid():
            role = "bench"
        elif data_dir.encode() not in b" ".join(argv):
            continue
        elif b"storage.proxy" in argv:
            role = "proxy"
        elif b"storage.object" in argv:
            role = "nodes"
        elif b"controller" in argv:
            role = "controller"
        else:
            continue
        out[role] += used
        out[f"{role}_kernel"] += kernel
        if role == "nodes":
            # Each node too, by the number in its ready file (storage-node<N>.port):
            # with --api-servers 1 node 1 carries the API, the others only replicas.
            found = re.search(rb"storage-node(\d+)\.port", b" ".join(argv))
            if found:
                key = f"node{found.group(1).decode()}"
                out[key] = out.get(key, 0.0) + used
    return out


async def phase(
    stub: Any, metadata: Any, kind: str, size: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    body = os.urandom(size)
    latencies: list[float] = []
    counter = iter(range(10**9))
    names: list[str] = []
    deadline = time.perf_counter() + seconds

    unary = phase.unary and size <= 1 << 20  # type: ignore[attr-defined]
    sessions = phase.sessions if size <= 1 << 20 else []  # type: ignore[attr-defined]
    turn = itertools.cycle(range(max(len(sessions), 1)))

    async def put(name: str) -> None:
        header = pb.PutObjectHeader(container="bench", name=name, size=size)
        if sessions:
            await sessions[next(turn)].put("bench", name, body)
            return
        if unary:
            await stub.PutSmallObject(
                pb.PutSmallObjectRequest(header=header, data=body), metadata=metadata
            )
            return
        if size <= 1 << 20:
            requests = [pb.PutObjectRequest(header=header, data=body)]
        else:
            requests = [pb.PutObjectRequest(header=header)] + [
                pb.PutObjectRequest(data=body[i : i + (1 << 20)]) for i in range(0, size, 1 << 20)
            ]
        await stub.PutObject(iter(requests), metadata=metadata)

    async def get(name: str) -> None:
        if sessions:
            await sessions[next(turn)].get("bench", name)
            return
        if unary:
            await stub.GetSmallObject(
                pb.GetObjectRequest(container="bench", name=name), metadata=metadata
            )
            return
        async for _ in stub.GetObject(
            pb.GetObjectRequest(container="bench", name=name), metadata=metadata
        ):
            pass

    async def delete(name: str) -> None:
        if sessions:
            await sessions[next(turn)].delete("bench", name)
            return
        await stub.DeleteObject(
            pb.DeleteObjectRequest(container="bench", name=name), metadata=metadata
        )

    async def worker() -> None:
        while time.perf_counter() < deadline:
            n = next(counter)
            name = f"{kind}-{size}-{n}"
            started = time.perf_counter()
            if kind == "put":
                await put(name)
                names.append(name)
            elif kind == "delete":
                if n >= phase.stored.get(size, 0):  # type: ignore[attr-defined]
                    return  # every object of the put phase is deleted
                await delete(f"put-{size}-{n}")
            else:
                await get(f"put-{size}-{n % max(phase.stored.get(size, 1), 1)}")  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - started)

    before = cpu_by_role(phase.data_dir)  # type: ignore[attr-defined]
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    after = cpu_by_role(phase.data_dir)  # type: ignore[attr-defined]
    if kind == "put":
        phase.stored[size] = len(names)  # type: ignore[attr-defined]
    latencies.sort()
    ops = len(latencies) / elapsed
    return {
        "phase": f"{kind} {size // 1024} KiB c={concurrency}",
        "rpc": "ObjectSession"
        if sessions
        else "DeleteObject"
        if kind == "delete"
        else ("PutSmallObject" if kind == "put" else "GetSmallObject")
        if unary
        else ("PutObject" if kind == "put" else "GetObject"),
        "ops_per_s": round(ops, 1),
        "mb_per_s": round(ops * size / 1e6, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "cpu_ms_per_op": {
            role: round((after[role] - before.get(role, 0.0)) * 1000 / max(len(latencies), 1), 2)
            for role in after
        },
    }


phase.stored = {}  # type: ignore[attr-defined]
phase.unary = False  # type: ignore[attr-defined]
phase.sessions = []  # type: ignore[attr-defined]


#: The phases in the order they run: (name, kind, object size, concurrency).
#: A GET phase reads the objects its PUT phase wrote, so it needs that phase.
PHASES = (
    ("put-4k", "put", 4096, 32),
    ("get-4k", "get", 4096, 32),
    ("delete-4k", "delete", 4096, 32),
    ("put-1m", "put", 1 << 20, 8),
    ("get-1m", "get", 1 << 20, 8),
)


async def run(proxy: str, token: str, seconds: float, phases: set[str]) -> list[dict[str, Any]]:
    channel = aio_channel(
        proxy,
        PLAINTEXT,
        options=[
            ("grpc.max_receive_message_length", 16 << 20),
            ("grpc.max_send_message_length", 16 << 20),
        ],
    )
    stub = object_pb2_grpc.ObjectServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"),)
    await stub.CreateContainer(
        pb.CreateContainerRequest(name="bench", exist_ok=True), metadata=metadata
    )
    results = []
    if phase.session_count:  # type: ignore[attr-defined]
        phase.sessions = [  # type: ignore[attr-defined]
            AsyncObjectSession(channel, token)
            for _ in range(phase.session_count)  # type: ignore[attr-defined]
        ]
        for session in phase.sessions:  # type: ignore[attr-defined]
            await session.open()
    for name, kind, size, concurrency in PHASES:
        if name not in phases:
            continue
        # Progress on stderr, so a profiler can be attached to one phase.
        print(f"phase {name} starting", file=sys.stderr, flush=True)
        results.append(await phase(stub, metadata, kind, size, concurrency, seconds))
    for session in phase.sessions:  # type: ignore[attr-defined]
        await session.close()
    await channel.close()
    return results


def main() -> None:
    from cumulo.malloc import keep_large_buffers_in_heap

    keep_large_buffers_in_heap()  # as `cumulo bench objects` does (cumulo/malloc.py)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--api-servers",
        type=int,
        default=0,
        help="use only the first N servers of the object API endpoint (0: all of them)",
    )
    parser.add_argument(
        "--api",
        choices=("nodes", "process"),
        default="nodes",
        help="where the cloud serves the object API (storage.allinone_proxy)",
    )
    parser.add_argument("--nodes", type=int, default=3, help="storage node processes")
    parser.add_argument("--devices", type=int, default=2, help="devices per storage node")
    parser.add_argument(
        "--unary", action="store_true", help="PutSmallObject/GetSmallObject (objects <= 1 MiB)"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        help="pipeline objects <= 1 MiB over N ObjectSession streams (spread over the servers)",
    )
    parser.add_argument(
        "--small-only", action="store_true", help="only the 4 KiB phases (skip 1 MiB)"
    )
    parser.add_argument(
        "--phases",
        default=",".join(name for name, *_ in PHASES),
        help="comma-separated phases to run, of: %(default)s (a get phase needs its put phase)",
    )
    options = parser.parse_args()
    phases = set(options.phases.split(","))
    if options.small_only:
        phases -= {"put-1m", "get-1m"}
    unknown = phases - {name for name, *_ in PHASES}
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {[n for n, *_ in PHASES]}")
    phase.unary = options.unary  # type: ignore[attr-defined]
    phase.session_count = options.sessions  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            CUMULO_DATA_DIR=str(Path(tmp) / "data"),
            CUMULO_CONTROLLER_LISTEN="127.0.0.1:0",
            CUMULO_STORAGE_ALLINONE_LISTEN=",".join(["127.0.0.1:0"] * options.nodes),
            CUMULO_STORAGE_ALLINONE_DEVICES=",".join(
                f"d{n}" for n in range(1, options.devices + 1)
            ),
            CUMULO_STORAGE_PROXY_LISTEN="127.0.0.1:0",
            CUMULO_LOGGING_LEVEL="WARNING",
            CUMULO_STORAGE_ALLINONE_PROXY=options.api,
            # Foreground work only (as in the Swift comparison, which runs no daemons).
            CUMULO_STORAGE_REPLICATION_ENABLED="false",
            CUMULO_STORAGE_AUDIT_ENABLED="false",
            XDG_CONFIG_HOME=str(Path(tmp) / "config"),
        )
        started = json.loads(cumulo(env, "--json", "up", "--detach", "--no-login"))
        phase.data_dir = str(Path(tmp) / "data")  # type: ignore[attr-defined]
        try:
            endpoints = started["endpoints"]
            password = (Path(tmp) / "data" / "controller" / "admin-password").read_text().strip()
            with Client(endpoints["controller"], timeout=10) as client:
                token = client.identity.login("admin", password, "admin").token
            api = ",".join(endpoints["object-proxy"].split(",")[: options.api_servers or None])
            results = asyncio.run(run(api, token, options.seconds, phases))
        finally:
            cumulo(env, "down")
    print(
        json.dumps(
            {
                "bench": "proxy_quick",
                "cores": os.cpu_count(),
                "nodes": options.nodes,
                "devices_per_node": options.devices,
                "unary": options.unary,
                "sessions": options.sessions,
                "object_api": options.api,
                "loadavg": os.getloadavg(),
                "phases": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
