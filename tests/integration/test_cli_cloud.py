"""`cumulo up --detach`, `cumulo info`, `cumulo down` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import STORAGE_ON_FREE_PORTS, free_port
from tests.helpers.tools import cumulo

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = dict(os.environ)
    env.pop("CUMULO_ENDPOINT", None)
    env.update(STORAGE_ON_FREE_PORTS)
    env.update(
        CUMULO_DATA_DIR=str(tmp_path / "data"),
        CUMULO_CONTROLLER_LISTEN=f"127.0.0.1:{port}",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    yield env
    cumulo(env, "down")


def test_up_info_down(cloud_env: dict[str, str]) -> None:
    up = cumulo(cloud_env, "--json", "up", "--detach")
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    address = started["endpoints"]["controller"]
    assert address == cloud_env["CUMULO_CONTROLLER_LISTEN"]

    # `cumulo up` logged the CLI in: a private profile, and how to log in elsewhere.
    profile = Path(cloud_env["XDG_CONFIG_HOME"]) / "cumulo" / "profile.json"
    assert started["login"]["profile"] == str(profile)
    assert profile.stat().st_mode & 0o777 == 0o600
    password_file = Path(cloud_env["CUMULO_DATA_DIR"]) / "controller" / "admin-password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert f"--password-file {password_file}" in started["login"]["command"]
    assert password_file.read_text().strip() not in profile.read_text()

    # Found without flags, through the run file the supervisor wrote.
    info = cumulo(cloud_env, "--json", "info")
    assert info.returncode == 0, info.stderr
    body = json.loads(info.stdout)
    assert body["endpoint"] == address
    assert body["info"]["native"]["backend"] in ("cython", "python")
    assert body["info"]["database"]["kind"] == "sqlite"

    human = cumulo(cloud_env, "info")
    assert "BACKEND" in human.stdout and address in human.stdout

    again = cumulo(cloud_env, "up", "--detach")
    assert again.returncode == 1
    assert "already running" in again.stderr

    down = cumulo(cloud_env, "down")
    assert down.returncode == 0, down.stderr
    assert "Stopped" in down.stdout
    log = Path(cloud_env["CUMULO_DATA_DIR"]) / "logs" / "controller.log"
    assert "listening on" in log.read_text()


def test_stopped_controller_is_a_one_line_error(cloud_env: dict[str, str]) -> None:
    result = cumulo(cloud_env, "info")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cumulo: error: cannot reach Cumulo at")
    assert "cumulo up" in lines[0]
    assert "Traceback" not in result.stderr


def test_port_in_use_is_reported_with_the_log(cloud_env: dict[str, str]) -> None:
    import socket

    host, port = cloud_env["CUMULO_CONTROLLER_LISTEN"].split(":")
    with socket.socket() as blocker:
        blocker.bind((host, int(port)))
        blocker.listen()
        result = cumulo(cloud_env, "up", "--detach")
    assert result.returncode == 1
    assert "failed to start" in result.stderr
    assert "Traceback" not in result.stderr


def test_foreground_up_stops_cleanly_on_ctrl_c(cloud_env: dict[str, str]) -> None:
    import signal
    import time

    from cumulo.local import run_file

    process = subprocess.Popen(
        [sys.executable, "-m", "cumulo.cli.main", "up", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cloud_env,
    )
    data_dir = Path(cloud_env["CUMULO_DATA_DIR"])
    deadline = time.monotonic() + 60
    while not run_file(data_dir).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "cumulo up did not come up"
        time.sleep(0.1)
    time.sleep(1.0)  # let the demo print
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert cloud_env["CUMULO_CONTROLLER_LISTEN"] in out
    assert "BACKEND" in out  # the demo's `cumulo info`
    assert "Cumulo stopped." in out
    assert not run_file(data_dir).exists()
    log = (data_dir / "logs" / "controller.log").read_text()
    assert "stopping controller" in log
