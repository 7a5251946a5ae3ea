"""The controller-agent stream end to end: registration, fan-out, resume, restarts, liveness.

Real gRPC on loopback, in-process controller and agents, tiny timings.  The
tests that depend on the database run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from agent.drivers import NoopDriver
from agent.drivers.base import DesiredResource, ResourceResult
from cumulo.client import Client
from cumulo.node.v1 import node_pb2
from cumulo.services.nodes import resource
from tests.functional.agents.conftest import ControllerHarness
from tests.helpers.agents import HEARTBEAT_TIMEOUT, AgentRunner, RunningAgent, wait_until
from tests.helpers.identity import admin_client


def enroll(client: Client, tmp_path: Path, name: str) -> Path:
    response = client.nodes.enroll(name)
    path = tmp_path / f"{name}.credential"
    path.write_text(response.credential)
    return path


def start_node(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    name: str,
    driver: NoopDriver | None = None,
) -> RunningAgent:
    credential = enroll(client, tmp_path, name)
    agent = agents.start(
        lambda: harness.address, credential, tmp_path / f"{name}-state", driver=driver, name=name
    )
    wait_until(lambda: client.nodes.get(name).state == node_pb2.NODE_STATE_UP)
    return agent


def state_file(agent: RunningAgent) -> dict[str, object]:
    return json.loads((agent.state_dir / "state.json").read_text())  # type: ignore[no-any-return]


def test_agent_registers_reports_inventory_and_heartbeats(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    database_url: str,
) -> None:
    assert client.nodes.get(enroll(client, tmp_path, "n1").stem).state == node_pb2.NODE_STATE_NEW
    agent = agents.start(harness.address, tmp_path / "n1.credential", tmp_path / "n1-state")
    wait_until(lambda: client.nodes.get("n1").state == node_pb2.NODE_STATE_UP)
    node = client.nodes.get("n1")
    assert node.inventory.vcpus == 4 and node.inventory.memory_bytes == 8 << 30
    assert node.agent_version and node.controller_instance == harness.running.system.instance_id
    first_seen = node.last_seen.ToDatetime()
    wait_until(lambda: client.nodes.get("n1").last_seen.ToDatetime() > first_seen)
    # One flush may carry the first heartbeat only; wait for the second.
    wait_until(lambda: client.nodes.summary().heartbeats_received >= 2)
    summary = client.nodes.summary()
    assert summary.connected_streams == 1
    assert summary.nodes_by_state["up"] == 1
    assert state_file(agent)["node_id"] == node.id


def test_desired_state_fans_out_and_is_acknowledged(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    database_url: str,
) -> None:
    nodes = [start_node(harness, agents, client, tmp_path, f"fan{i}") for i in range(3)]
    revisions = client.nodes.set_desired_state(
        [resource("noop", "web", {"size": 2}), resource("vm", "unknown-kind")], all_nodes=True
    )
    assert sorted(revisions.values()) == [1, 1, 1]
    for agent in nodes:
        wait_until(lambda agent=agent: "web" in agent.driver.present)  # type: ignore[misc]
        assert agent.driver.present["web"].spec == {"size": 2}
    for i in range(3):
        wait_until(lambda i=i: client.nodes.get(f"fan{i}").applied_revision == 1)  # type: ignore[misc]
        node = client.nodes.get(f"fan{i}")
        wait_until(lambda i=i: len(client.nodes.get(f"fan{i}").resources) == 2)  # type: ignore[misc]
        statuses = {r.name: r.state for r in client.nodes.get(f"fan{i}").resources}
        assert statuses == {"web": "ready", "unknown-kind": "unsupported"}
        assert node.desired_resources[0].name == "web"
    # One node only: the others stay at revision 1.
    client.nodes.set_desired_state([resource("noop", "db")], nodes=["fan0"])
    wait_until(lambda: set(nodes[0].driver.present) == {"db"})
    assert client.nodes.get("fan0").desired_revision == 2
    assert client.nodes.get("fan1").desired_revision == 1
    assert set(nodes[1].driver.present) == {"web"}


def test_reconnect_resumes_from_the_last_applied_revision(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "resume")
    client.nodes.set_desired_state([resource("noop", "a")], nodes=["resume"])
    wait_until(lambda: client.nodes.get("resume").applied_revision == 1)
    agents.stop(agent)
    # Changed while the agent is away: it catches up on reconnect.
    client.nodes.set_desired_state([resource("noop", "b")], nodes=["resume"])
    driver = NoopDriver()
    again = agents.start(
        harness.address, tmp_path / "resume.credential", agent.state_dir, driver=driver
    )
    wait_until(lambda: client.nodes.get("resume").applied_revision == 2)
    assert set(driver.present) == {"b"} and driver.apply_calls == 1
    assert state_file(again)["applied_revision"] == 2
    # Up to date: a reconnect sends nothing to apply again.
    agents.stop(again)
    quiet = NoopDriver()
    agents.start(harness.address, tmp_path / "resume.credential", agent.state_dir, driver=quiet)
    wait_until(lambda: client.nodes.summary().connected_streams == 1)
    time.sleep(0.5)
    assert quiet.apply_calls == 0
    assert [n.name for n in client.nodes.list()] == ["resume"]


def test_controller_restart_with_agents_running(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    database_url: str,
) -> None:
    running = [start_node(harness, agents, client, tmp_path, f"rs{i}") for i in range(2)]
    client.nodes.set_desired_state([resource("noop", "x")], all_nodes=True)
    wait_until(lambda: all(n.applied_revision == 1 for n in client.nodes.list()))
    connects = [a.stream.connects for a in running]
    harness.stop()
    harness.start()  # same port, same database
    with harness.client() as fresh:
        wait_until(
            lambda: all(a.stream.connects > c for a, c in zip(running, connects, strict=True))
        )
        wait_until(lambda: fresh.nodes.summary().connected_streams == 2)
        nodes = list(fresh.nodes.list())
        assert [n.name for n in nodes] == ["rs0", "rs1"]
        assert all(n.state == node_pb2.NODE_STATE_UP and n.applied_revision == 1 for n in nodes)
        # Nothing re-applied: the agents were up to date.
        assert all(a.driver.apply_calls == 1 for a in running)
        fresh.nodes.set_desired_state([resource("noop", "y")], all_nodes=True)
        for agent in running:
            wait_until(lambda agent=agent: set(agent.driver.present) == {"y"})  # type: ignore[misc]
        wait_until(lambda: all(n.applied_revision == 2 for n in fresh.nodes.list()))


class SimulatedCrash(BaseException):
    """Raised inside a driver to stand for the process dying mid-apply."""


class CrashingDriver(NoopDriver):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def apply(self, desired: list[DesiredResource]) -> list[ResourceResult]:
        self.entered.set()
        self.release.wait(10)
        raise SimulatedCrash()


def test_agent_restart_in_the_middle_of_applying_a_revision(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path
) -> None:
    crashing = CrashingDriver()
    agent = start_node(harness, agents, client, tmp_path, "mid", driver=crashing)
    client.nodes.set_desired_state([resource("noop", "half")], nodes=["mid"])
    assert crashing.entered.wait(5)
    saved = state_file(agent)
    assert saved["desired_revision"] == 1 and saved["applied_revision"] == 0
    agents.stop(agent)
    crashing.release.set()  # the "dead" apply never completes
    driver = NoopDriver()
    agents.start(harness.address, tmp_path / "mid.credential", agent.state_dir, driver=driver)
    wait_until(lambda: client.nodes.get("mid").applied_revision == 1)
    assert set(driver.present) == {"half"}
    time.sleep(0.3)
    # Re-applied once on start (idempotent); not applied again when the stream resumed.
    assert driver.apply_calls == 1
    assert state_file(agent)["applied_revision"] == 1
    assert len(list(client.nodes.list())) == 1


def test_silent_node_is_marked_down_and_comes_back_up(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    database_url: str,
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "quiet")
    node_id = client.nodes.get("quiet").id
    agents.stop(agent)
    stopped = time.monotonic()
    wait_until(lambda: client.nodes.get("quiet").state == node_pb2.NODE_STATE_DOWN, timeout=5)
    # Timeout plus at most one flush and one check interval (0.1 s each), plus slack.
    assert time.monotonic() - stopped < HEARTBEAT_TIMEOUT + 1.0
    assert client.nodes.summary().nodes_by_state["down"] == 1
    agents.start(harness.address, tmp_path / "quiet.credential", agent.state_dir)
    wait_until(lambda: client.nodes.get("quiet").state == node_pb2.NODE_STATE_UP)
    assert client.nodes.get("quiet").id == node_id


def test_a_restarted_controller_agrees_a_silent_node_is_down(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "gone")
    agents.stop(agent)
    harness.stop()
    time.sleep(HEARTBEAT_TIMEOUT + 0.2)
    harness.start()
    with harness.client() as fresh:
        wait_until(lambda: fresh.nodes.get("gone").state == node_pb2.NODE_STATE_DOWN, timeout=3)


def test_change_made_on_another_controller_reaches_the_agent_by_polling(
    harness: ControllerHarness,
    agents: AgentRunner,
    client: Client,
    tmp_path: Path,
    database_url: str,
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "polled")
    other = harness.start_another()
    with admin_client(other.address) as second:
        second.nodes.set_desired_state([resource("noop", "from-b")], nodes=["polled"])
    # The agent's controller learns of it from the database within a progress interval.
    wait_until(lambda: set(agent.driver.present) == {"from-b"}, timeout=5)
    wait_until(lambda: client.nodes.get("polled").applied_revision == 1)


def test_drain_reaches_the_agent_and_enable_ends_it(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "dr")
    node = client.nodes.drain("dr", "maintenance")
    assert node.draining and node.admin_state == node_pb2.ADMIN_STATE_DISABLED
    wait_until(lambda: agent.stream.draining)
    assert client.nodes.get("dr").disabled_reason == "maintenance"
    node = client.nodes.enable("dr")
    assert not node.draining and node.admin_state == node_pb2.ADMIN_STATE_ENABLED
    wait_until(lambda: not agent.stream.draining)
    # A node drained while away learns it on registration.
    client.nodes.drain("dr")
    agents.stop(agent)
    again = agents.start(harness.address, tmp_path / "dr.credential", agent.state_dir)
    wait_until(lambda: again.stream.draining)


@pytest.mark.parametrize("reason", ["revoke", "rotate"])
def test_revoked_or_rotated_credential_disconnects_the_agent(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path, reason: str
) -> None:
    agent = start_node(harness, agents, client, tmp_path, "rv")
    if reason == "revoke":
        assert client.nodes.revoke("rv").credential_revoked
    else:
        fresh = client.nodes.enroll("rv", rotate=True)
        assert fresh.node.id == client.nodes.get("rv").id
    wait_until(lambda: client.nodes.summary().connected_streams == 0)
    time.sleep(0.5)  # the agent keeps trying with its old credential, in vain
    assert client.nodes.summary().connected_streams == 0
    assert not agent.stream.registered.is_set()
    if reason == "rotate":
        # Replacing the credential file is enough: the agent rereads it.
        (tmp_path / "rv.credential").write_text(fresh.credential)
        wait_until(lambda: client.nodes.summary().connected_streams == 1, timeout=5)


def test_an_agent_ahead_of_the_database_is_brought_back_in_line(
    harness: ControllerHarness, agents: AgentRunner, client: Client, tmp_path: Path
) -> None:
    credential = enroll(client, tmp_path, "ahead")
    state_dir = tmp_path / "ahead-state"
    state_dir.mkdir()
    node_id = client.nodes.get("ahead").id
    (state_dir / "state.json").write_text(
        json.dumps(
            {"node_id": node_id, "applied_revision": 5, "desired_revision": 5, "resources": []}
        )
    )
    agent = agents.start(harness.address, credential, state_dir)
    wait_until(lambda: client.nodes.get("ahead").applied_revision == 6)
    assert client.nodes.get("ahead").desired_revision == 6
    client.nodes.set_desired_state([resource("noop", "z")], nodes=["ahead"])
    wait_until(lambda: set(agent.driver.present) == {"z"})
    wait_until(lambda: client.nodes.get("ahead").applied_revision == 7)
