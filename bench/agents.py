"""Benchmark: many simulated agents against one real controller process.

Starts a controller (a subprocess, SQLite in a temporary data directory), enrolls
``--agents`` nodes, and runs them as lightweight simulated agents speaking the
real ``AgentService.Connect`` protocol - several hundred per worker process,
each with its own stream, the streams of a worker spread over a few channels.
Each sim agent registers, heartbeats every ``--heartbeat`` seconds (random
phase) and answers every DesiredState with a StatusReport and an Ack, like the
real agent with the NoopDriver.

Measured, printed as one JSON object:

* controller CPU (cores: utime+stime from /proc/PID/stat per wall second) and RSS
  over a steady-state window with every agent connected and heartbeating;
* heartbeats handled per second (the controller's own counter, GetNodeSummary);
* fan-out: ``--rounds`` times, SetDesiredState(all_nodes) then the time until
  each agent sent its Ack (agent side, p50/p99/max over all agents and rounds)
  and until the controller had handled every ack (controller side, per round);
* the RSS of one idle real agent (``python -m agent``) connected to the same controller.

Run with ``make bench-agents`` (or ``python bench/agents.py --agents 1000``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CREDENTIAL_KEY = "x-cumulo-node-credential"
TICKS = os.sysconf("SC_CLK_TCK")

#: The throwaway controller's admin password (loopback only, deleted with the run).
BENCH_ADMIN_PASSWORD = "bench-admin-password"


# -- the worker process: simulated agents --------------------------------------------


async def sim_agent(
    stub: Any,
    node_id: str,
    credential: str,
    heartbeat: float,
    acks: dict[int, list[float]],
    registered: asyncio.Event,
    counters: dict[str, int],
) -> None:
    from cumulo.agent.v1 import agent_pb2

    outgoing: asyncio.Queue[Any] = asyncio.Queue()

    async def requests() -> Any:
        while True:
            yield await outgoing.get()

    outgoing.put_nowait(
        agent_pb2.AgentMessage(
            register=agent_pb2.Register(
                node_id=node_id,
                agent_version="sim",
                inventory=agent_pb2.Inventory(hostname=node_id[:8], vcpus=8, memory_bytes=32 << 30),
            )
        )
    )
    call = stub.Connect(requests(), metadata=[(CREDENTIAL_KEY, credential)])

    async def beat() -> None:
        await asyncio.sleep(random.random() * heartbeat)
        sequence = 0
        while True:
            sequence += 1
            outgoing.put_nowait(
                agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat(sequence=sequence))
            )
            counters["heartbeats"] += 1
            await asyncio.sleep(heartbeat)

    beater: asyncio.Task[None] | None = None
    try:
        async for message in call:
            kind = message.WhichOneof("kind")
            if kind == "registered":
                registered.set()
                beater = asyncio.create_task(beat())
            elif kind == "desired_state":
                desired = message.desired_state
                outgoing.put_nowait(
                    agent_pb2.AgentMessage(
                        status=agent_pb2.StatusReport(
                            revision=desired.revision,
                            resources=[
                                agent_pb2.ResourceStatus(kind=r.kind, name=r.name, state="ready")
                                for r in desired.resources
                            ],
                        )
                    )
                )
                outgoing.put_nowait(
                    agent_pb2.AgentMessage(ack=agent_pb2.Ack(revision=desired.revision, ok=True))
                )
                acks.setdefault(desired.revision, []).append(time.time())
    finally:
        if beater is not None:
            beater.cancel()


async def worker_main(options: argparse.Namespace) -> None:
    from grpc import aio

    from cumulo.agent.v1 import agent_pb2_grpc

    nodes = json.loads(Path(options.credentials).read_text())[
        options.start : options.start + options.count
    ]
    channels = [
        aio.insecure_channel(
            options.address,
            # A local subchannel pool gives each channel its own TCP connection.
            options=[("grpc.use_local_subchannel_pool", 1)],
        )
        for _ in range(max(1, len(nodes) // options.streams_per_channel))
    ]
    acks: dict[int, list[float]] = {}
    counters = {"heartbeats": 0}
    events = [asyncio.Event() for _ in nodes]
    tasks = [
        asyncio.create_task(
            sim_agent(
                agent_pb2_grpc.AgentServiceStub(channels[i % len(channels)]),
                node["id"],
                node["credential"],
                options.heartbeat,
                acks,
                events[i],
                counters,
            )
        )
        for i, node in enumerate(nodes)
    ]
    for event in events:
        await event.wait()
    print(json.dumps({"event": "registered", "count": len(nodes)}), flush=True)
    reported: set[int] = set()
    while True:
        await asyncio.sleep(0.02)
        for revision, times in list(acks.items()):
            if revision not in reported and len(times) >= len(nodes):
                reported.add(revision)
                print(
                    json.dumps({"event": "acked", "revision": revision, "times": times}), flush=True
                )
        if any(t.done() for t in tasks):
            failed = next(t for t in tasks if t.done())
            print(json.dumps({"event": "error", "error": repr(failed.exception())}), flush=True)
            return


# -- the driver: controller, workers, measurements -----------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def proc_memory_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Worker:
    """One worker process and the events it prints."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        self.registered = threading.Event()
        self.acked: dict[int, list[float]] = {}
        self.error = ""
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = json.loads(line)
            with self.changed:
                if event["event"] == "registered":
                    self.registered.set()
                elif event["event"] == "acked":
                    self.acked[event["revision"]] = event["times"]
                else:
                    self.error = event.get("error", "?")
                self.changed.notify_all()

    def wait_acked(self, revision: int, timeout: float) -> list[float]:
        with self.changed:
            if not self.changed.wait_for(lambda: revision in self.acked or self.error, timeout):
                raise TimeoutError(f"revision {revision} not acknowledged within {timeout}s")
            if self.error:
                raise RuntimeError(f"worker failed: {self.error}")
            return self.acked[revision]


def run(options: argparse.Namespace) -> dict[str, Any]:
    from cumulo.client import Client
    from cumulo.services.nodes import resource

    data_dir = Path(tempfile.mkdtemp(prefix="cumulo-bench-agents-"))
    ready = data_dir / "controller.port"
    env = dict(os.environ)
    env.update(
        CUMULO_CONTROLLER_HEARTBEAT_TIMEOUT=str(options.heartbeat_timeout),
        CUMULO_CONTROLLER_PROGRESS_NOTIFY_INTERVAL=str(options.progress_interval),
        CUMULO_LOGGING_LEVEL=options.log_level,
        CUMULO_IDENTITY_ADMIN_PASSWORD=BENCH_ADMIN_PASSWORD,
        PYTHONPATH=str(ROOT),
    )
    log = open(data_dir / "controller.log", "wb")  # noqa: SIM115
    controller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "--data-dir",
            str(data_dir / "c"),
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            str(ready),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    workers: list[Worker] = []
    agent: subprocess.Popen[bytes] | None = None
    succeeded = False
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            if controller.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"controller did not start; see {data_dir / 'controller.log'}")
            time.sleep(0.05)
        address = f"127.0.0.1:{ready.read_text().strip()}"
        client = Client(
            address, timeout=60, user="admin", password=BENCH_ADMIN_PASSWORD, project="admin"
        )
        started = time.monotonic()
        nodes = []
        for i in range(options.agents):
            response = client.nodes.enroll(f"sim-{i:05d}")
            nodes.append({"id": response.node.id, "credential": response.credential})
        enroll_seconds = time.monotonic() - started
        credentials = data_dir / "credentials.json"
        credentials.write_text(json.dumps(nodes))

        per_worker = -(-options.agents // options.processes)
        started = time.monotonic()
        for start in range(0, options.agents, per_worker):
            workers.append(
                Worker(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        "--address",
                        address,
                        "--credentials",
                        str(credentials),
                        "--start",
                        str(start),
                        "--count",
                        str(min(per_worker, options.agents - start)),
                        "--heartbeat",
                        str(options.heartbeat),
                        "--streams-per-channel",
                        str(options.streams_per_channel),
                    ],
                    env,
                )
            )
        for worker in workers:
            if not worker.registered.wait(180):
                raise RuntimeError("agents did not register within 180 s")
        register_seconds = time.monotonic() - started
        time.sleep(options.warmup)

        # Steady state: everything connected, heartbeats only.
        summary0 = client.nodes.summary()
        cpu0, wall0 = proc_cpu_seconds(controller.pid), time.monotonic()
        rss_samples = []
        while time.monotonic() - wall0 < options.steady:
            time.sleep(1)
            rss_samples.append(proc_memory_mb(controller.pid))
        cpu1, wall1 = proc_cpu_seconds(controller.pid), time.monotonic()
        summary1 = client.nodes.summary()
        steady_cpu = (cpu1 - cpu0) / (wall1 - wall0)
        heartbeats_per_second = (summary1.heartbeats_received - summary0.heartbeats_received) / (
            wall1 - wall0
        )

        # Fan-out rounds.
        latencies: list[float] = []
        controller_side: list[float] = []
        round_p99: list[float] = []
        for revision in range(1, options.rounds + 1):
            acks_before = client.nodes.summary().acks_received
            t0 = time.time()
            client.nodes.set_desired_state(
                [resource("noop", f"bench-{revision}", {"round": revision})], all_nodes=True
            )
            # Controller side: until it handled an ack from every agent.
            while client.nodes.summary().acks_received - acks_before < options.agents:
                if time.time() - t0 > 30:
                    raise TimeoutError("fan-out not acknowledged within 30 s")
                time.sleep(0.005)
            controller_side.append(time.time() - t0)
            this_round: list[float] = []
            for worker in workers:
                this_round.extend(t - t0 for t in worker.wait_acked(revision, 30))
            latencies.extend(this_round)
            round_p99.append(percentile(this_round, 0.99))
            time.sleep(options.pause)

        # One idle real agent.
        enrolled = client.nodes.enroll("real-agent")
        agent_dir = data_dir / "agent"
        agent_dir.mkdir()
        (agent_dir / "credential").write_text(enrolled.credential)
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent",
                "--data-dir",
                str(agent_dir),
                "--controller",
                address,
                "--credential-file",
                str(agent_dir / "credential"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while client.nodes.get("real-agent").state != 2:  # NODE_STATE_UP
            if time.monotonic() > deadline:
                raise RuntimeError("the real agent did not register")
            time.sleep(0.1)
        time.sleep(options.idle)
        agent_rss = proc_memory_mb(agent.pid)

        ms = [x * 1000 for x in latencies]
        result = {
            "agents": options.agents,
            "worker_processes": len(workers),
            "heartbeat_interval_s": options.heartbeat,
            "steady_window_s": round(wall1 - wall0, 1),
            "controller_cpu_cores": round(steady_cpu, 3),
            "controller_rss_mb": round(max(rss_samples), 1),
            "controller_rss_peak_mb": round(proc_memory_mb(controller.pid, "VmHWM"), 1),
            "heartbeats_per_second": round(heartbeats_per_second, 1),
            "fanout_rounds": options.rounds,
            "fanout_ack_ms": {
                "p50": round(statistics.median(ms), 1),
                "p99": round(percentile(ms, 0.99), 1),
                "max": round(max(ms), 1),
                "worst_round_p99": round(max(round_p99) * 1000, 1),
            },
            "fanout_all_acks_handled_by_controller_ms": [
                round(x * 1000, 1) for x in controller_side
            ],
            "idle_agent_rss_mb": round(agent_rss, 1),
            "enroll_seconds": round(enroll_seconds, 1),
            "register_all_seconds": round(register_seconds, 1),
            "machine_cpus": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
        }
        result["targets_met"] = {
            "controller_cpu_le_0.5_core": steady_cpu <= 0.5,
            "controller_rss_le_300_mb": result["controller_rss_peak_mb"] <= 300,
            "fanout_p99_le_1s": percentile(ms, 0.99) <= 1000,
            "idle_agent_rss_lt_80_mb": agent_rss < 80,
        }
        succeeded = True
        return result
    finally:
        if agent is not None:
            agent.terminate()
        for worker in workers:
            worker.process.terminate()
        controller.terminate()
        try:
            controller.wait(15)
        except subprocess.TimeoutExpired:
            controller.kill()
        log.close()
        if succeeded and not options.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"bench data and controller log kept in {data_dir}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4, help="worker processes")
    parser.add_argument("--streams-per-channel", type=int, default=50)
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between heartbeats")
    parser.add_argument("--heartbeat-timeout", type=float, default=10.0)
    parser.add_argument("--progress-interval", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--steady", type=float, default=20.0, help="steady-state window, s")
    parser.add_argument("--rounds", type=int, default=10, help="fan-out rounds")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds before reading agent RSS")
    parser.add_argument("--log-level", default="INFO", help="controller log level")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and controller log")
    # Worker mode (internal).
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--credentials", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        asyncio.run(worker_main(options))
        return 0
    print(json.dumps(run(options), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
