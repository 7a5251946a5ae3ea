"""The all-in-one process list: controller, agent, three storage nodes, the object proxy."""

from __future__ import annotations

from pathlib import Path

from cumulo.allinone import all_in_one_processes
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
