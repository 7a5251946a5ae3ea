"""`cumulo up --tls`: every process over TLS, the CLI finds the CA, objects round-trip."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import STORAGE_ON_FREE_PORTS, free_port
from tests.helpers.tools import cumulo, venv_tool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], dict]]:
    root = tmp_path_factory.mktemp("tlscloud")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUMULO_")}
    env.update(STORAGE_ON_FREE_PORTS)
    env.update(
        CUMULO_DATA_DIR=str(root / "data"),
        CUMULO_CONTROLLER_LISTEN=f"127.0.0.1:{free_port()}",
        XDG_CONFIG_HOME=str(root / "config"),
    )
    up = cumulo(env, "--json", "up", "--tls", "--detach", timeout=180)
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    try:
        yield env, started
    finally:
        cumulo(env, "down")


def test_certificates_are_made_once_with_private_keys(cloud) -> None:  # type: ignore[no-untyped-def]
    env, started = cloud
    tls = Path(env["CUMULO_DATA_DIR"]) / "tls"
    assert started["tls"]["ca_file"] == str(tls / "ca.pem")
    for key in ("ca.key", "loopback.key"):
        assert stat.S_IMODE((tls / key).stat().st_mode) == 0o600
    logs = Path(env["CUMULO_DATA_DIR"]) / "logs"
    assert "(TLS, database" in (logs / "controller.log").read_text()
    assert "(mutual TLS)" in (logs / "storage-node1.log").read_text()


def test_cli_finds_the_tls_cloud_without_flags(cloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = cloud
    info = cumulo(env, "--json", "info")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["info"]["runtime"]["data_dir"] == env["CUMULO_DATA_DIR"]
    nodes = json.loads(cumulo(env, "--json", "node", "list").stdout)
    assert nodes, "the agent registered over TLS"
    source = tmp_path / "hello.txt"
    source.write_bytes(b"hello over TLS\n" * 100)
    assert cumulo(env, "container", "create", "secure").returncode == 0
    put = cumulo(env, "object", "put", "secure", "hello.txt", str(source))
    assert put.returncode == 0, put.stderr
    back = tmp_path / "back.txt"
    get = cumulo(env, "object", "get", "secure", "hello.txt", "-o", str(back))
    assert get.returncode == 0, get.stderr
    assert back.read_bytes() == source.read_bytes()


def test_plaintext_is_refused_with_advice(cloud) -> None:  # type: ignore[no-untyped-def]
    env, started = cloud
    controller = started["endpoints"]["controller"]
    grpcurl = venv_tool("grpcurl")
    plain = subprocess.run(
        [grpcurl, "-plaintext", controller, "list"], capture_output=True, text=True, timeout=30
    )
    assert plain.returncode != 0
    secure = subprocess.run(
        [grpcurl, "-cacert", started["tls"]["ca_file"], controller, "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert secure.returncode == 0 and "cumulo.system.v1.SystemService" in secure.stdout
    # Through a name the run file does not record, the CLI has no CA: one line of advice.
    other = cumulo(env, "--endpoint", controller.replace("127.0.0.1", "localhost"), "info")
    assert other.returncode == 1
    assert "CUMULO_TLS_CA_FILE" in other.stderr and "Traceback" not in other.stderr
