"""The floor under any Python gRPC service on this machine: a bare grpc.aio unary echo.

A server process answers ``/floor.Echo/Echo`` with the request's own bytes (no
protobuf, no interceptor, no work); this process calls it at a fixed concurrency
for a few seconds.  Prints one JSON object: calls per second and the CPU each side
spent per call.  Every Cumulo API call pays at least this, so it bounds what any
change above gRPC can reach (docs/loadtest.md, "Where the targets stand").

    python bench/grpc_floor.py [--seconds 4] [--concurrency 32] [--bytes 4096]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from multiprocessing.connection import Connection

import grpc

_METHOD = "/floor.Echo/Echo"


def _same(data: bytes) -> bytes:
    return data


def _serve(pipe: Connection) -> None:
    async def main() -> None:
        async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            return request

        handler = grpc.method_handlers_generic_handler(
            "floor.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo, _same, _same)}
        )
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        pipe.send(port)
        await server.wait_for_termination()

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(port: int, seconds: float, concurrency: int, size: int) -> int:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(
        _METHOD, request_serializer=_same, response_deserializer=_same, _registered_method=True
    )
    body = os.urandom(size)
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await call(body)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await channel.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bytes", type=int, default=4096, help="request and answer size")
    options = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(theirs,), daemon=True)
    server.start()
    try:
        port = ours.recv()
        assert server.pid is not None
        asyncio.run(_drive(port, 0.5, options.concurrency, options.bytes))  # warm up
        server_before = _cpu_seconds(server.pid)
        client_before = time.process_time()
        started = time.monotonic()
        calls = asyncio.run(_drive(port, options.seconds, options.concurrency, options.bytes))
        elapsed = time.monotonic() - started
        server_cpu = _cpu_seconds(server.pid) - server_before
        client_cpu = time.process_time() - client_before
    finally:
        server.kill()
    print(
        json.dumps(
            {
                "bench": "grpc_floor",
                "grpc": grpc.__version__,
                "cpus": os.cpu_count(),
                "concurrency": options.concurrency,
                "bytes": options.bytes,
                "calls_per_s": round(calls / elapsed, 1),
                "server_cpu_ms_per_call": round(1000 * server_cpu / calls, 3),
                "client_cpu_ms_per_call": round(1000 * client_cpu / calls, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
