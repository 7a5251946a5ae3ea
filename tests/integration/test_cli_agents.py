"""`cumulo up` runs one agent: it registers, goes down when killed, comes back with its identity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agents import wait_until
from tests.helpers.ports import STORAGE_ON_FREE_PORTS, free_port
from tests.integration.test_cli_cloud import cumulo

pytestmark = pytest.mark.integration

HEARTBEAT_TIMEOUT = 1.5


@pytest.fixture
def cloud_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.pop("CUMULO_ENDPOINT", None)
    env.update(STORAGE_ON_FREE_PORTS)
    env.update(
        CUMULO_DATA_DIR=str(tmp_path / "data"),
        CUMULO_CONTROLLER_LISTEN=f"127.0.0.1:{free_port()}",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        CUMULO_CONTROLLER_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
        CUMULO_CONTROLLER_LIVENESS_CHECK_INTERVAL="0.2",
        CUMULO_CONTROLLER_LAST_SEEN_FLUSH_INTERVAL="0.2",
        CUMULO_CONTROLLER_PROGRESS_NOTIFY_INTERVAL="1",
        CUMULO_AGENT_HEARTBEAT_INTERVAL="0.3",
        CUMULO_AGENT_BACKOFF_MAX="1",
    )
    yield env
    cumulo(env, "down")


def nodes(env: dict[str, str]) -> list[dict[str, object]]:
    result = cumulo(env, "--json", "node", "list", timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["nodes"]  # type: ignore[no-any-return]


def test_up_registers_one_agent_that_survives_being_killed(cloud_env: dict[str, str]) -> None:
    up = cumulo(cloud_env, "--json", "up", "--detach")
    assert up.returncode == 0, up.stderr
    data_dir = Path(cloud_env["CUMULO_DATA_DIR"])
    [node] = nodes(cloud_env)
    assert node["state"] == "NODE_STATE_UP"
    node_id = node["id"]
    assert (data_dir / "agent" / "credential").stat().st_mode & 0o777 == 0o600

    os.kill(int((data_dir / "run" / "agent.pid").read_text()), signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: nodes(cloud_env)[0]["state"] == "NODE_STATE_DOWN", timeout=10, interval=0.2)
    # Timeout, plus at most a flush and a check interval, plus the CLI's own start-up.
    assert time.monotonic() - killed < HEARTBEAT_TIMEOUT + 2.5

    # The supervisor keeps the cloud up; the agent comes back by hand with its identity.
    restarted = subprocess.Popen(
        [sys.executable, "-m", "agent", "--data-dir", str(data_dir)],
        env=cloud_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        [back] = wait_until(
            lambda: [n for n in nodes(cloud_env) if n["state"] == "NODE_STATE_UP"],
            timeout=20,
            interval=0.2,
        )
        assert back["id"] == node_id
        assert len(nodes(cloud_env)) == 1
    finally:
        restarted.terminate()
        restarted.wait(10)
