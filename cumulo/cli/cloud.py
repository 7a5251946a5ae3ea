"""``cumulo up`` and ``cumulo down``: the all-in-one cloud on loopback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from cumulo import errors
from cumulo.allinone import Supervisor, all_in_one_processes, stop_local_cloud
from cumulo.cli.output import print_json
from cumulo.config import load_config
from cumulo.local import LocalCloud, find_local_cloud

DETACH_TIMEOUT = 90.0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    up = commands.add_parser(
        "up", help="start the all-in-one cloud on loopback (Ctrl-C or `cumulo down` stops it)"
    )
    up.add_argument("--data-dir", type=Path, help="where data, logs and run files go")
    up.add_argument("--config", type=Path, help="TOML config file (see docs/configuration.md)")
    up.add_argument("--detach", action="store_true", help="run in the background and return")
    up.add_argument("--demo", action="store_true", help="once up, show the cloud working")
    up.set_defaults(func=run_up)
    down = commands.add_parser("down", help="stop the all-in-one cloud")
    down.add_argument("--data-dir", type=Path, help="data directory of the cloud to stop")
    down.set_defaults(func=run_down)


def _announce(cloud: LocalCloud, args: argparse.Namespace) -> None:
    if args.json:
        print_json(
            {"data_dir": str(cloud.data_dir), "pid": cloud.pid, "endpoints": cloud.endpoints}
        )
        return
    print(f"Cumulo is up (data and logs under {cloud.data_dir})")
    for name, address in cloud.endpoints.items():
        print(f"  {name:<12} {address}")
    controller = cloud.endpoints.get("controller", "")
    print(f"Try: cumulo info   |   grpcurl -plaintext {controller} list")
    sys.stdout.flush()


def _demo(cloud: LocalCloud) -> None:
    from cumulo.cli import info, node

    print("\n$ cumulo info")
    info.run_info(
        argparse.Namespace(
            endpoint=cloud.endpoints["controller"], timeout=10.0, json=False, section=[]
        )
    )
    print("\n$ cumulo node list")
    node.run_list(
        argparse.Namespace(endpoint=cloud.endpoints["controller"], timeout=10.0, json=False)
    )
    print()
    sys.stdout.flush()


def run_up(args: argparse.Namespace) -> int:
    config = load_config(args.config, data_dir=args.data_dir)
    if args.detach:
        return _run_detached(args, config.data_dir)
    supervisor = Supervisor(config, all_in_one_processes(config), on_event=_progress(args))
    cloud = supervisor.start()
    try:
        _announce(cloud, args)
        if args.demo:
            _demo(cloud)
        if not args.json:
            print("Press Ctrl-C to stop (or run `cumulo down` from another shell).", flush=True)
        code = supervisor.wait()
    finally:
        supervisor.stop()
    if not args.json:
        print("Cumulo stopped.")
    return code


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def report(message: str) -> None:
        if not args.json:
            print(message, flush=True)

    return report


def _run_detached(args: argparse.Namespace, data_dir: Path) -> int:
    """Start ``cumulo up`` in a new session, wait for it to serve, print the endpoints."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "logs" / "cumulo-up.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "cumulo.cli.main", "--json", "up", "--data-dir", str(data_dir)]
    if args.config:
        argv += ["--config", str(args.config)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=os.environ.copy(),
        )
    deadline = time.monotonic() + DETACH_TIMEOUT
    while True:
        cloud = find_local_cloud(data_dir)
        if cloud is not None and cloud.pid == process.pid:
            _announce(cloud, args)
            return 0
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise errors.Unavailable(
                f"the cloud failed to start: {tail[0].removeprefix('cumulo: error: ')}",
                hint=f"see {log_path}",
            )
        if time.monotonic() > deadline:
            process.terminate()
            raise errors.DeadlineExceeded(
                f"the cloud did not start within {DETACH_TIMEOUT:.0f}s", hint=f"see {log_path}"
            )
        time.sleep(0.1)


def run_down(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.expanduser().resolve() if args.data_dir else None
    cloud = stop_local_cloud(data_dir)
    if cloud is None:
        if args.json:
            print_json({"stopped": False})
        else:
            print("No local Cumulo cloud is running.")
        return 0
    if args.json:
        print_json({"stopped": True, "data_dir": str(cloud.data_dir), "pid": cloud.pid})
    else:
        print(f"Stopped the cloud in {cloud.data_dir} (pid {cloud.pid}).")
    return 0
