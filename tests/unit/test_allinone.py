"""The all-in-one process list: controller, agent, three storage nodes, the object API
(a proxy process, or every node)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo import errors
from cumulo.allinone import all_in_one_processes, recorded_tls
from cumulo.allinone_storage import api_listen
from cumulo.cli.cloud import use_local_tls
from cumulo.config import load_config


def test_cloud_runs_a_controller_then_a_non_critical_agent(tmp_path: Path) -> None:
    config = load_config(environ={"CUMULO_STORAGE_ALLINONE_PROXY": "process"}, data_dir=tmp_path)
    controller, agent, *storage = all_in_one_processes(config)
    assert controller.critical
    credential = str(tmp_path / "agent" / "credential")
    assert controller.argv[-2:] == ["--local-agent-credential-file", credential]
    assert agent.argv[1:3] == ["-m", "agent"] and not agent.critical
    assert "{endpoint:controller}" in agent.argv
    assert agent.ready_file == tmp_path / "run" / "agent.ready"
    assert [s.name for s in storage] == [
        "storage-node1",
        "storage-node2",
        "storage-node3",
        "object-proxy",
    ]
    assert [s.critical for s in storage] == [False, False, False, True]
    for n, node in enumerate(storage[:3], start=1):
        assert node.argv[1:3] == ["-m", "storage.object"]
        assert str(tmp_path / "storage" / f"node{n}") in node.argv
        assert "--proxy-listen" not in node.argv and not node.extra_endpoints
    proxy = storage[-1]
    assert proxy.argv[1:3] == ["-m", "storage.proxy"] and "{endpoint:controller}" in proxy.argv
    assert proxy.before_start is not None  # builds the ring once the nodes' ports are known


def test_cloud_serves_the_object_api_on_every_node_by_default(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    storage = all_in_one_processes(config)[2:]
    assert [s.name for s in storage] == ["storage-node1", "storage-node2", "storage-node3"]
    for n, node in enumerate(storage, start=1):
        assert node.argv[1:3] == ["-m", "storage.object"]
        assert str(tmp_path / "storage" / f"node{n}") in node.argv
        # Every node serves the object API; the three make one endpoint.
        listen = node.argv[node.argv.index("--proxy-listen") + 1]
        assert listen == f"127.0.0.1:{7709 + n}"
        assert "{endpoint:controller}" in node.argv
        assert list(node.extra_endpoints) == ["object-proxy"]
    # The last node builds the ring once every node's port is known.
    assert [s.after_start is not None for s in storage] == [False, False, True]


def test_an_unknown_place_for_the_object_api_is_refused(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    config.storage.allinone_proxy = "elsewhere"
    with pytest.raises(errors.InvalidArgument, match="allinone_proxy"):
        all_in_one_processes(config)


def test_node_api_ports_follow_the_proxy_port() -> None:
    assert api_listen("127.0.0.1:7710", 3) == "127.0.0.1:7712"
    assert api_listen("127.0.0.1:0", 2) == "127.0.0.1:0"
    with pytest.raises(errors.InvalidArgument, match="proxy_listen"):
        api_listen("nowhere", 1)


def test_plaintext_cloud_clears_tls_variables_of_every_child(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    for spec in all_in_one_processes(config):
        assert spec.env["CUMULO_TLS_CA_FILE"] == "" and spec.env["CUMULO_TLS_CERT_FILE"] == ""
        assert spec.env["CUMULO_TLS_CLIENT_AUTH"] == "false"
    assert recorded_tls(config) == {}


def test_tls_cloud_gives_every_child_the_files_and_storage_nodes_mutual_tls(
    tmp_path: Path,
) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    use_local_tls(config)
    specs = {spec.name: spec for spec in all_in_one_processes(config)}
    for spec in specs.values():
        assert spec.env["CUMULO_TLS_CA_FILE"] == str(tmp_path / "tls" / "ca.pem")
        assert spec.env["CUMULO_TLS_CERT_FILE"] == str(tmp_path / "tls" / "loopback.pem")
        assert spec.env["CUMULO_TLS_KEY_FILE"] == str(tmp_path / "tls" / "loopback.key")
    auth = {name: spec.env["CUMULO_TLS_CLIENT_AUTH"] for name, spec in specs.items()}
    assert auth == {
        "controller": "false",
        "agent": "false",
        "storage-node1": "true",
        "storage-node2": "true",
        "storage-node3": "true",
    }
    assert recorded_tls(config) == {
        "ca_file": str(tmp_path / "tls" / "ca.pem"),
        "cert_file": str(tmp_path / "tls" / "loopback.pem"),
        "key_file": str(tmp_path / "tls" / "loopback.key"),
    }
