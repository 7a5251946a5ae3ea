"""``cumulo-agent``: run the agent of this node until SIGINT/SIGTERM.

The controller address is ``agent.controller`` when set, else the controller of
the local cloud that ``cumulo up`` runs from the same data directory, else
``controller.listen``; it is resolved again before every reconnect, so an agent
started before its controller finds it once it is up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from agent.drivers import load_drivers
from agent.inventory import detect
from agent.reconciler import Reconciler
from agent.stream import AgentStream, StreamOptions
from cumulo import errors
from cumulo.config import Config, load_config
from cumulo.local import find_local_cloud
from cumulo.logs import setup_logging
from cumulo.rpc.tls import load_tls

log = logging.getLogger("cumulo.agent")


def controller_address(config: Config) -> str:
    if config.agent.controller:
        return config.agent.controller
    cloud = find_local_cloud(config.data_dir)
    if cloud is not None and "controller" in cloud.endpoints:
        return cloud.endpoints["controller"]
    return config.controller.listen


def build_stream(config: Config, ready_file: Path | None = None) -> AgentStream:
    """Everything an agent process is made of, from its configuration."""
    state_dir = config.agent_state_dir()
    reconciler = Reconciler(state_dir, load_drivers(config.agent.drivers))
    options = StreamOptions(
        address=lambda: controller_address(config),
        credential_file=config.agent_credential_file(),
        node_name=config.agent.node_name or socket.gethostname(),
        heartbeat_interval=config.agent.heartbeat_interval,
        backoff_min=config.agent.backoff_min,
        backoff_max=config.agent.backoff_max,
        resync_interval=config.agent.resync_interval,
        tls=load_tls(config.tls),
    )

    def registered(_node_id: str) -> None:
        if ready_file is not None and not ready_file.exists():
            # The supervisor of `cumulo up` waits for a number in this file.
            ready_file.write_text("0\n")

    return AgentStream(
        options,
        reconciler,
        lambda: detect(state_dir, config.agent.hypervisor_uri),
        on_registered=registered,
    )


async def serve(config: Config, ready_file: Path | None) -> None:
    stream = build_stream(config, ready_file)
    task = asyncio.create_task(stream.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    log.info("agent stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cumulo-agent", description="Run a Cumulo node agent.")
    parser.add_argument("--config", type=Path, help="TOML config file (default: $CUMULO_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    parser.add_argument("--controller", help="controller HOST:PORT (overrides agent.controller)")
    parser.add_argument("--credential-file", type=Path, help="node credential file")
    parser.add_argument("--state-dir", type=Path, help="agent state directory")
    parser.add_argument("--name", help="node name (default: the host name)")
    parser.add_argument("--ready-file", type=Path, help="write 0 here once registered")
    parser.add_argument("--pid-file", type=Path, help="write the agent's pid here")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config, data_dir=options.data_dir)
        if options.controller:
            config.agent.controller = options.controller
        if options.credential_file:
            config.agent.credential_file = str(options.credential_file)
        if options.state_dir:
            config.agent.state_dir = str(options.state_dir)
        if options.name:
            config.agent.node_name = options.name
        setup_logging(config.logging.level, "agent")
        if options.pid_file:
            options.pid_file.parent.mkdir(parents=True, exist_ok=True)
            options.pid_file.write_text(f"{os.getpid()}\n")
        if options.ready_file:
            options.ready_file.unlink(missing_ok=True)
        asyncio.run(serve(config, options.ready_file))
    except errors.CumuloError as exc:
        print(f"cumulo-agent: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
