"""The all-in-one process list: a controller that enrolls the local node, then its agent."""

from __future__ import annotations

from pathlib import Path

from cumulo.allinone import all_in_one_processes
from cumulo.config import load_config


def test_cloud_runs_a_controller_then_a_non_critical_agent(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    controller, agent = all_in_one_processes(config)
    assert controller.critical
    credential = str(tmp_path / "agent" / "credential")
    assert controller.argv[-2:] == ["--local-agent-credential-file", credential]
    assert agent.argv[1:3] == ["-m", "agent"] and not agent.critical
    assert "{endpoint:controller}" in agent.argv
    assert agent.ready_file == tmp_path / "run" / "agent.ready"
