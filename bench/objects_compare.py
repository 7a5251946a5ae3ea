"""Object store comparison: Cumulo's object proxy against OpenStack Swift, same machine.

Starts a Swift all-in-one (:mod:`bench.swift_baseline.aio`: 3 replicas over 4 devices, proxy
and account/container/object servers with 2 workers each, fsync before answering,
quorum 2 of 3) and a Cumulo all-in-one (``cumulo up --detach`` in a temporary data
directory), then runs ALTERNATING rounds - Swift, Cumulo, Swift, Cumulo - of the
same workload through the same load runner (:mod:`cumulo.loadtest`):

    for size in 4KiB, 1MiB:  for concurrency in 8, 32:  PUT for D s, then GET for D s

Each case writes new objects under a fresh prefix and then reads those back; before
each case the script syncs the file systems and pauses (``--settle``), so one case's
write-back does not land on the next.  Prints
one JSON object: per case and system the mean over rounds (and each round) of ops/s,
MB/s, p50/p99/max latency, errors and the load generator's own CPU per operation;
the ratios Cumulo/Swift; and whether each target of the issue is met:

* 4 KiB PUT and GET at concurrency 32: ops/s >= 5x Swift's, p99 <= 1/3 of Swift's;
* 1 MiB PUT and GET at concurrency 8 and 32: MB/s >= 3x Swift's.

``--cumulo-api`` picks where the Cumulo all-in-one serves the object API
(``storage.allinone_proxy``): on every storage node (the default) or in one proxy
process.  A Cumulo all-in-one without an ``object-proxy`` endpoint (a revision before the
proxy) is reported as null with the reason; Swift's figures are still measured.

    python bench/objects_compare.py [--duration 10] [--rounds 2] [--no-cumulo]
    python bench/objects_compare.py --cumulo-api process   # a proxy process serves it
    python bench/objects_compare.py --cumulo-endpoint HOST:PORT --cumulo-token TOKEN
    make bench-objects BENCH_OBJECTS_ARGS="--duration 5"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.swift_baseline.aio import KEY, USER, SwiftAllInOne, SwiftConfig, install_swift  # noqa: E402
from bench.swift_baseline.client import SwiftBackend  # noqa: E402
from cumulo.loadtest.backend import DEFAULT_SESSIONS, ObjectBackend  # noqa: E402
from cumulo.loadtest.runner import Runner, run_prefix  # noqa: E402
from cumulo.loadtest.sizes import FixedSize, format_size, parse_size  # noqa: E402
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload  # noqa: E402
from cumulo.malloc import keep_large_buffers_in_heap  # noqa: E402

PROXY_SERVICE = "object-proxy"

#: (case, metric, comparison, threshold) - the issue's "done when".
TARGETS = [
    ("put_4KiB_c32", "ops_per_s", ">=", 5.0),
    ("put_4KiB_c32", "p99_ms", "<=", 1 / 3),
    ("get_4KiB_c32", "ops_per_s", ">=", 5.0),
    ("get_4KiB_c32", "p99_ms", "<=", 1 / 3),
    ("put_1MiB_c8", "mb_per_s", ">=", 3.0),
    ("put_1MiB_c32", "mb_per_s", ">=", 3.0),
    ("get_1MiB_c8", "mb_per_s", ">=", 3.0),
    ("get_1MiB_c32", "mb_per_s", ">=", 3.0),
]


@dataclass
class System:
    name: str
    info: dict[str, Any]
    make_backend: Any  # () -> ObjectBackend, called inside the event loop
    #: Session ids of the system's processes, to measure its CPU (empty: not measured).
    sessions: set[int] = field(default_factory=set)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sessions_cpu(sessions: set[int]) -> float:
    """CPU seconds (user + system) so far of every live process in ``sessions``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sessions:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


# -- Cumulo all-in-one -----------------------------------------------------------------
@contextlib.contextmanager
def cumulo_cloud(
    work: Path, layout: str = "nodes"
) -> Iterator[tuple[dict[str, Any], str | None, str | None]]:
    """``cumulo up --detach`` in ``work``; yields (info, proxy endpoint, token), the last
    two None when the cloud has no object proxy.  Always ``cumulo down`` at the end.
    ``layout`` is ``storage.allinone_proxy``: the nodes serve the object API, or a
    proxy process does."""
    data_dir = work / "cumulo-data"
    env = dict(
        os.environ,
        CUMULO_DATA_DIR=str(data_dir),
        XDG_CONFIG_HOME=str(work / "config"),  # never touch the user's login or cloud
        # Ports of its own, so a cloud someone else runs here is never in the way.
        CUMULO_CONTROLLER_LISTEN="127.0.0.1:0",
        CUMULO_STORAGE_PROXY_LISTEN="127.0.0.1:0",
        CUMULO_STORAGE_ALLINONE_LISTEN="127.0.0.1:0,127.0.0.1:0,127.0.0.1:0",
        CUMULO_LOGGING_LEVEL="WARNING",
        # The Swift side runs no replicator or auditor either: foreground work only.
        CUMULO_STORAGE_REPLICATION_ENABLED="false",
        CUMULO_STORAGE_AUDIT_ENABLED="false",
        CUMULO_STORAGE_ALLINONE_PROXY=layout,
    )
    cli = [sys.executable, "-m", "cumulo.cli.main"]
    started = subprocess.run(
        [*cli, "--json", "up", "--detach", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    try:
        if started.returncode != 0:
            reason = (started.stderr or started.stdout).strip().splitlines()[-1:] or ["?"]
            yield {"reason": f"cumulo up failed: {reason[0]}"}, None, None
            return
        run_file = json.loads((data_dir / "run" / "cloud.json").read_text())
        endpoints = dict(run_file.get("endpoints", {}))
        info: dict[str, Any] = {
            "object_api": layout,
            "endpoints": endpoints,
            "data_dir": str(data_dir),
            "pid": int(run_file["pid"]),
        }
        if PROXY_SERVICE not in endpoints:
            info["reason"] = (
                f"the Cumulo all-in-one at this revision has no {PROXY_SERVICE!r} endpoint"
                f" (it started: {', '.join(sorted(endpoints)) or 'nothing'}): the object"
                " proxy has not landed on this branch"
            )
            yield info, None, None
            return
        info["ring"] = ring_facts(data_dir / "storage" / "object.ring")
        yield info, endpoints[PROXY_SERVICE], admin_token(data_dir, endpoints["controller"])
    finally:
        subprocess.run(
            [*cli, "down", "--data-dir", str(data_dir)],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def ring_facts(path: Path) -> dict[str, Any]:
    """Replicas, devices and nodes of the all-in-one's object ring (what durability it has)."""
    try:
        from storage.ring import Ring

        ring = Ring(path)
    except Exception as exc:  # a missing or unreadable ring is reported, not fatal
        return {"error": f"{type(exc).__name__}: {exc}"}
    devices = [d for d in ring.devices if d is not None]
    return {
        "replicas": ring.replicas,
        "part_power": ring.part_power,
        "devices": len(devices),
        "nodes": len({(d.ip, d.port) for d in devices}),
    }


def admin_token(data_dir: Path, controller: str) -> str:
    from cumulo.client import connect

    password = (data_dir / "controller" / "admin-password").read_text().strip()
    with connect(
        controller, user="admin", password=password, project="admin", use_profile=False
    ) as client:
        assert client.auth is not None
        return client.auth.current(client)


# -- one case on one system --------------------------------------------------------------
async def run_case(
    system: System, size: int, concurrency: int, duration: float, container: str
) -> list[dict[str, Any]]:
    """PUT for ``duration`` s, then GET what was written; each phase's result dict, with
    the system's own CPU per operation and cores kept busy when it can be measured."""
    backend: ObjectBackend = system.make_backend()
    sizes = FixedSize(size)
    workload = Workload((), container=container, prefix=run_prefix(), op_timeout=60.0)
    runner = Runner(backend, workload)
    phases = []
    try:
        await backend.prepare(container)
        for op in (Op.PUT, Op.GET):
            spec = PhaseSpec(
                Mix.single(op), concurrency=concurrency, duration=duration, sizes=sizes
            )
            cpu_before = sessions_cpu(system.sessions) if system.sessions else 0.0
            phase = (await runner.run_phase(spec)).to_dict()
            if system.sessions:
                cpu = sessions_cpu(system.sessions) - cpu_before
                done = phase["completed"] + phase["errors"]
                phase["server_cpu_ms_per_op"] = round(cpu / done * 1000, 3) if done else None
                phase["server_cores_busy"] = round(cpu / phase["elapsed_s"], 2)
            phases.append(phase)
    finally:
        await backend.close()
    return phases


def settle(seconds: float) -> float:
    """Flush what the previous case left dirty and pause, so its write-back is not billed
    to the next case (possibly the other system's); returns the seconds it took."""
    if seconds <= 0:
        return 0.0
    started = time.monotonic()
    os.sync()
    time.sleep(seconds)
    return round(time.monotonic() - started, 2)


def figures(phase: dict[str, Any]) -> dict[str, Any]:
    lat = phase["latency"]
    return {
        "ops": phase["completed"],
        "errors": phase["errors"],
        "errors_by_kind": phase["errors_by_kind"],
        "ops_per_s": phase["ops_per_s"],
        "mb_per_s": phase["mb_per_s"],
        "p50_ms": lat["p50_ms"],
        "p90_ms": lat["p90_ms"],
        "p99_ms": lat["p99_ms"],
        "max_ms": lat["max_ms"],
        "client_cpu_ms_per_op": phase["client_cpu_ms_per_op"],
        "server_cpu_ms_per_op": phase.get("server_cpu_ms_per_op"),
        "server_cores_busy": phase.get("server_cores_busy"),
        "elapsed_s": phase["elapsed_s"],
        "ops_per_second_timeline": phase["ops_per_second_timeline"],
    }


def mean_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (
        "ops_per_s",
        "mb_per_s",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "max_ms",
        "client_cpu_ms_per_op",
        "server_cpu_ms_per_op",
        "server_cores_busy",
    ):
        values = [r[key] for r in rounds if r.get(key) is not None]
        out[key] = round(fmean(values), 3) if values else None
    out["errors"] = sum(r["errors"] for r in rounds)
    out["rounds"] = rounds
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def summarize(cases: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per case: each system's mean over rounds, the ratios Cumulo/Swift; the targets.

    ``cases`` maps a case (``put_4KiB_c32``) to each system's rows, one per round.
    A target is met when its ratio passes; null when either side is missing.
    """
    report: dict[str, Any] = {}
    for case, by_system in cases.items():
        entry: dict[str, Any] = {name: mean_of(rows) for name, rows in by_system.items()}
        sw, cu = entry.get("swift"), entry.get("cumulo")
        entry.setdefault("swift", None)
        entry.setdefault("cumulo", None)
        entry["ratios"] = {
            "ops_per_s": ratio(cu and cu["ops_per_s"], sw and sw["ops_per_s"]),
            "mb_per_s": ratio(cu and cu["mb_per_s"], sw and sw["mb_per_s"]),
            "p99": ratio(cu and cu["p99_ms"], sw and sw["p99_ms"]),
        }
        report[case] = entry
    targets = []
    for case, metric, op, threshold in TARGETS:
        key = "p99" if metric == "p99_ms" else metric
        value = report.get(case, {}).get("ratios", {}).get(key)
        met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
        targets.append(
            {
                "case": case,
                "metric": f"cumulo/swift {metric}",
                "target": f"{op} {threshold:.3g}",
                "ratio": value,
                "met": met,
            }
        )
    verdicts = [t["met"] for t in targets]
    all_met = False if False in verdicts else (None if None in verdicts else True)
    return {"cases": report, "targets": targets, "all_targets_met": all_met}


def main() -> int:
    # The load generator's buffers (both systems' clients run in this process).
    keep_large_buffers_in_heap()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=2, help="Swift+Cumulo rounds")
    parser.add_argument("--sizes", default="4KiB,1MiB")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="before each case: sync, then wait this many seconds (0: neither)",
    )
    parser.add_argument("--no-swift", action="store_true")
    parser.add_argument("--no-cumulo", action="store_true")
    parser.add_argument(
        "--cumulo-api",
        choices=("nodes", "process"),
        default="nodes",
        help="where the Cumulo all-in-one serves the object API (storage.allinone_proxy)",
    )
    parser.add_argument(
        "--cumulo-client",
        choices=("session", "unary", "stream"),
        default="session",
        help="how the load generator sends Cumulo objects of at most 1 MiB (its --api)",
    )
    parser.add_argument(
        "--cumulo-sessions",
        type=int,
        default=DEFAULT_SESSIONS,
        help="ObjectSession streams of the load generator with --cumulo-client session",
    )
    parser.add_argument("--cumulo-endpoint", help="use this object proxy, not a new all-in-one")
    parser.add_argument("--cumulo-token", default=os.environ.get("CUMULO_TOKEN", ""))
    parser.add_argument("--work-dir", type=Path, help="default: a new temporary directory")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-objects-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "bench": "objects_compare",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "duration_s_per_phase": args.duration,
        "rounds": args.rounds,
        "order": "per round: Swift (every case), then Cumulo (every case)",
        # How the load generator sent Cumulo's objects of at most 1 MiB (grpc_backend.py).
        "cumulo_client": args.cumulo_client,
        "cumulo_sessions": args.cumulo_sessions,
    }
    try:
        with contextlib.ExitStack() as stack:
            systems: list[System] = []
            if args.no_swift:
                out["swift"] = {"skipped": "--no-swift"}
            else:
                out["swift_install"] = install_swift()
                swift = stack.enter_context(SwiftAllInOne(work / "swift", SwiftConfig()))
                out["swift"] = swift.describe()
                systems.append(
                    System(
                        "swift",
                        out["swift"],
                        lambda: SwiftBackend(swift.auth_url, USER, KEY, connections=64),
                        {child.process.pid for child in swift.children},
                    )
                )
            cumulo_endpoint, token = None, None
            if args.no_cumulo:
                out["cumulo"] = None
                out["cumulo_reason"] = "--no-cumulo"
            elif args.cumulo_endpoint:
                cumulo_endpoint, token = args.cumulo_endpoint, args.cumulo_token
                out["cumulo"] = {"endpoint": cumulo_endpoint}
            else:
                info, cumulo_endpoint, token = stack.enter_context(
                    cumulo_cloud(work, args.cumulo_api)
                )
                if cumulo_endpoint is None:
                    out["cumulo"] = None
                    out["cumulo_reason"] = info.get("reason")
                    out["cumulo_cloud"] = info
                else:
                    out["cumulo"] = info
            if cumulo_endpoint is not None:
                from cumulo.loadtest.grpc_backend import CumuloObjectBackend

                endpoint, bearer = cumulo_endpoint, token or ""
                systems.append(
                    System(
                        "cumulo",
                        out["cumulo"],
                        lambda: CumuloObjectBackend(
                            endpoint,
                            bearer,
                            channels=2,
                            api=args.cumulo_client,
                            sessions=args.cumulo_sessions,
                        ),
                        {int(out["cumulo"]["pid"])} if "pid" in out["cumulo"] else set(),
                    )
                )
            cases: dict[str, dict[str, list[dict[str, Any]]]] = {}
            for round_no in range(args.rounds):
                for system in systems:
                    for size in sizes:
                        for concurrency in levels:
                            settle_s = settle(args.settle)
                            load = os.getloadavg()[0]
                            result = asyncio.run(
                                run_case(
                                    system, size, concurrency, args.duration, f"bench{round_no}"
                                )
                            )
                            for phase in result:
                                case = f"{phase['name']}_{format_size(size)}_c{concurrency}"
                                row = figures(phase)
                                row["round"] = round_no + 1
                                row["loadavg_1m_before"] = round(load, 2)
                                row["settle_s"] = settle_s
                                cases.setdefault(case, {}).setdefault(system.name, []).append(row)
                                print(
                                    f"round {round_no + 1} {system.name:6} {case:14}"
                                    f" {row['ops_per_s']:9.1f} ops/s {row['mb_per_s']:8.2f} MB/s"
                                    f" p99 {row['p99_ms']} ms errors {row['errors']}"
                                    f" server {row['server_cpu_ms_per_op']} ms CPU/op"
                                    f" ({row['server_cores_busy']} cores)",
                                    file=sys.stderr,
                                    flush=True,
                                )
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    out.update(summarize(cases))
    out["machine"]["loadavg_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"took {time.monotonic() - started:.0f}s", file=sys.stderr)
    sys.exit(code)
