"""The all-in-one process list: controller, agent, three storage nodes, the object proxy."""

from __future__ import annotations

from pathlib import Path

from cumulo.allinone import all_in_one_processes, recorded_tls
from cumulo.cli.cloud import use_local_tls
from cumulo.config import load_config


def test_cloud_runs_a_controller_then_a_non_critical_agent(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
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
    proxy = storage[-1]
    assert proxy.argv[1:3] == ["-m", "storage.proxy"] and "{endpoint:controller}" in proxy.argv
    assert proxy.before_start is not None  # builds the ring once the nodes' ports are known


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
        "object-proxy": "false",
    }
    assert recorded_tls(config) == {
        "ca_file": str(tmp_path / "tls" / "ca.pem"),
        "cert_file": str(tmp_path / "tls" / "loopback.pem"),
        "key_file": str(tmp_path / "tls" / "loopback.key"),
    }
