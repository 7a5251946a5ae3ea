"""``cumulo bench objects``: load-test an object store endpoint and print the figures.

Drives a Cumulo object proxy (``cumulo.object.v1``) with the load runner of
:mod:`cumulo.loadtest`: phases of PUT, GET, HEAD, DELETE, LIST or a weighted mix,
object sizes fixed, in a range or from a weighted list, ``--concurrency`` workers,
each phase ending after ``--count`` operations or ``--duration`` seconds.  Prints a
table, or with ``--json`` one JSON object (schema in docs/loadtest.md)::

    cumulo bench objects --phases put,get,delete --size 4KiB --concurrency 32 --count 5000
    cumulo bench objects --mix put=20,get=70,head=5,delete=5 --sizes 4KiB:80,1MiB:20 \\
        --duration 30 --json

The proxy is ``--endpoint``, else ``$CUMULO_OBJECT_ENDPOINT``, else the local cloud's
``object-proxy``; the token is
``--token``, else ``$CUMULO_TOKEN``, else the saved login (``cumulo login``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from cumulo import errors
from cumulo.cli.output import print_json
from cumulo.loadtest.backend import DEFAULT_SESSIONS
from cumulo.loadtest.runner import PhaseResult, Runner, format_table, run_prefix
from cumulo.loadtest.sizes import (
    FixedSize,
    SizeDistribution,
    parse_size,
    parse_size_range,
    parse_sizes,
)
from cumulo.loadtest.workload import (
    Mix,
    PhaseSpec,
    Workload,
    default_prefill,
    parse_mix,
    parse_phases,
)
from cumulo.local import OBJECT_PROXY_ENDPOINT, find_local_cloud

#: The name ``cumulo up`` records for the object proxy in the local cloud's run file.
PROXY_SERVICE = OBJECT_PROXY_ENDPOINT
DEFAULT_COUNT = 1000


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bench = commands.add_parser("bench", help="load-test a service and print the figures")
    kinds = bench.add_subparsers(dest="bench_command", metavar="TARGET")
    kinds.required = True
    objects = kinds.add_parser(
        "objects",
        help="load-test an object proxy: PUT/GET/HEAD/DELETE/LIST phases or mixes",
        description="Load-test an object proxy (cumulo.object.v1): phases or a weighted mix,"
        " fixed or distributed object sizes, N concurrent workers, a fixed count or duration"
        " per phase; prints a table or, with --json, one JSON object (docs/loadtest.md).",
    )
    what = objects.add_mutually_exclusive_group()
    what.add_argument(
        "--phases",
        default=None,
        help="operations run one after another: put,get,head,delete,list (default: put,get)",
    )
    what.add_argument(
        "--mix", help="one phase of weighted operations, e.g. put=20,get=70,delete=10"
    )
    size = objects.add_mutually_exclusive_group()
    size.add_argument("--size", help="every object this size, e.g. 4KiB, 1MiB (default: 4KiB)")
    size.add_argument("--sizes", help="sizes with weights, e.g. 4KiB:80,1MiB:20")
    size.add_argument("--size-range", help="sizes uniform in a range, e.g. 1KiB-64KiB")
    objects.add_argument("--concurrency", type=int, default=8, help="workers (default: 8)")
    stop = objects.add_mutually_exclusive_group()
    stop.add_argument("--count", type=int, help=f"operations per phase (default: {DEFAULT_COUNT})")
    stop.add_argument("--duration", type=float, help="seconds per phase")
    objects.add_argument("--container", default="bench", help="container to use (created)")
    objects.add_argument(
        "--prefix", help="object name prefix (default: a fresh bench-<random>/ per run)"
    )
    objects.add_argument(
        "--prefill",
        type=int,
        help="objects to store before the first phase (default: enough when GET, HEAD or"
        " DELETE runs before any PUT)",
    )
    objects.add_argument(
        "--list-limit", type=int, default=1000, help="entries per LIST operation (one page)"
    )
    objects.add_argument(
        "--cleanup",
        action="store_true",
        help="at the end, delete every object the run stored (a last phase named cleanup)",
    )
    objects.add_argument("--seed", type=int, help="seed sizes and choices for a repeatable run")
    objects.add_argument(
        "--op-timeout",
        type=float,
        default=60.0,
        help="seconds before an operation counts as failed",
    )
    objects.add_argument(
        "--endpoint",
        "--object-endpoint",
        dest="object_endpoint",
        help="object proxy HOST:PORT (default: $CUMULO_OBJECT_ENDPOINT, then the local"
        " cloud's object-proxy)",
    )
    objects.add_argument("--token", help="bearer token (default: $CUMULO_TOKEN, then the login)")
    objects.add_argument(
        "--channels", type=int, default=2, help="gRPC channels to spread calls over (default: 2)"
    )
    objects.add_argument(
        "--api",
        choices=("session", "unary", "stream"),
        default="session",
        help="how objects of at most 1 MiB travel: pipelined ObjectSession streams "
        "(default), one unary call each, or the PutObject/GetObject streams",
    )
    objects.add_argument(
        "--sessions",
        type=int,
        default=DEFAULT_SESSIONS,
        help="ObjectSession streams to spread operations over, with --api session "
        f"(default: {DEFAULT_SESSIONS})",
    )
    objects.add_argument("--output", type=Path, help="also write the JSON result to this file")
    objects.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    objects.set_defaults(func=run_objects)


def sizes_from_args(args: argparse.Namespace) -> SizeDistribution:
    if args.sizes:
        return parse_sizes(args.sizes)
    if args.size_range:
        return parse_size_range(args.size_range)
    return FixedSize(parse_size(args.size or "4KiB"))


def workload_from_args(args: argparse.Namespace) -> Workload:
    """The :class:`Workload` the options describe (no network)."""
    sizes = sizes_from_args(args)
    count = args.count
    if count is None and args.duration is None:
        count = DEFAULT_COUNT
    common: dict[str, Any] = {
        "concurrency": args.concurrency,
        "count": count,
        "duration": args.duration,
        "sizes": sizes,
    }
    if args.mix:
        phases: tuple[PhaseSpec, ...] = (PhaseSpec(parse_mix(args.mix), **common),)
    else:
        ops = parse_phases(args.phases or "put,get")
        phases = tuple(PhaseSpec(Mix.single(op), **common) for op in ops)
    prefill = default_prefill(phases) if args.prefill is None else args.prefill
    if prefill < 0:
        raise errors.InvalidArgument("--prefill cannot be negative", field="prefill")
    if args.list_limit < 1:
        raise errors.InvalidArgument("--list-limit must be at least 1", field="list_limit")
    return Workload(
        phases,
        container=args.container,
        prefix=args.prefix if args.prefix is not None else run_prefix(),
        prefill=prefill,
        prefill_sizes=sizes,
        list_limit=args.list_limit,
        seed=args.seed,
        op_timeout=args.op_timeout,
        cleanup=args.cleanup,
    )


def proxy_endpoint(explicit: str | None) -> str:
    """``--endpoint``, ``$CUMULO_OBJECT_ENDPOINT``, the local cloud's proxy; else an error
    (a load test against a guessed default port would only measure refusals)."""
    if explicit:
        return explicit
    if os.environ.get("CUMULO_OBJECT_ENDPOINT"):
        return os.environ["CUMULO_OBJECT_ENDPOINT"]
    cloud = find_local_cloud()
    if cloud is not None and PROXY_SERVICE in cloud.endpoints:
        return cloud.endpoints[PROXY_SERVICE]
    why = "no local cloud is running" if cloud is None else "the local cloud has no object proxy"
    raise errors.Unavailable(
        f"no object proxy to load: {why}",
        hint="pass --endpoint HOST:PORT, or start a cloud with an object proxy (`cumulo up`)",
    )


def token_for(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if os.environ.get("CUMULO_TOKEN"):
        return os.environ["CUMULO_TOKEN"]
    from cumulo.client import connect

    with connect(args.endpoint, timeout=args.timeout) as client:
        if client.auth is None:
            raise errors.Unauthenticated(
                "no credentials for the object proxy",
                hint="log in with `cumulo login`, or pass --token / set $CUMULO_TOKEN",
            )
        return client.auth.current(client)


def _progress(result: PhaseResult) -> None:
    phase = result.to_dict()
    p99 = phase["latency"]["p99_ms"]
    print(
        f"{phase['name']}: {phase['completed']} ops, {phase['errors']} errors,"
        f" {phase['ops_per_s']} ops/s, {phase['mb_per_s']} MB/s,"
        f" p99 {p99 if p99 is not None else '-'} ms",
        file=sys.stderr,
        flush=True,
    )


def run_objects(args: argparse.Namespace) -> int:
    from cumulo.client import resolve_tls
    from cumulo.loadtest.grpc_backend import CumuloObjectBackend
    from cumulo.malloc import keep_large_buffers_in_heap

    keep_large_buffers_in_heap()  # a stable, low cost per large body (cumulo/malloc.py)

    workload = workload_from_args(args)
    endpoint = proxy_endpoint(args.object_endpoint)
    backend = CumuloObjectBackend(
        endpoint,
        token_for(args),
        channels=args.channels,
        tls=resolve_tls(endpoint),
        api=args.api,
        sessions=args.sessions,
    )

    async def run() -> dict[str, Any]:
        try:
            result = await Runner(backend, workload, on_phase=_progress).run()
        finally:
            await backend.close()
        return result.to_dict()

    result = asyncio.run(run())
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    if getattr(args, "json", False):
        print_json(result)
    else:
        print(f"{endpoint}: container {workload.container}, prefix {workload.prefix}")
        print(format_table(result))
    return 1 if result["totals"]["errors"] and not result["totals"]["completed"] else 0
