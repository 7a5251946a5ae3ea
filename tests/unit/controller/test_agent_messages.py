"""Validation of agent messages and credentials, without sockets or a database."""

from __future__ import annotations

import uuid

import pytest

from controller.agents.registry import split_credential, validate_name, validate_resources
from controller.agents.stream import AgentHub, AgentSession, StreamSettings
from cumulo import errors
from cumulo.agent.v1 import agent_pb2


@pytest.fixture
def hub() -> AgentHub:
    return AgentHub(registry=None, settings=StreamSettings(), instance="i")  # type: ignore[arg-type]


def test_heartbeats_only_touch_memory(hub: AgentHub) -> None:
    session = AgentSession("n1", "node", known_revision=0, applied=0)
    for _ in range(3):
        hub._handle(session, agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat()))
    assert hub.heartbeats_received == 3 and hub._seen == {"n1"}


def test_acks_are_checked_against_what_was_sent(hub: AgentHub) -> None:
    session = AgentSession("n1", "node", known_revision=2, applied=1)
    hub._handle(session, agent_pb2.AgentMessage(ack=agent_pb2.Ack(revision=2)))
    assert hub._applied == {"n1": 2}
    with pytest.raises(errors.InvalidArgument, match="only carried revisions up to 2"):
        hub._handle(session, agent_pb2.AgentMessage(ack=agent_pb2.Ack(revision=3)))
    with pytest.raises(errors.InvalidArgument, match="must not go backwards"):
        hub._handle(session, agent_pb2.AgentMessage(ack=agent_pb2.Ack(revision=1)))


def test_send_desired_dedupes_by_revision() -> None:
    session = AgentSession("n1", "node", known_revision=1, applied=1)
    session.send_desired(1, [])
    session.send_desired(2, [])
    session.send_desired(2, [])
    assert session.queue.qsize() == 1 and session.ackable_revision == 2


def test_empty_and_repeated_register(hub: AgentHub) -> None:
    session = AgentSession("n1", "node", known_revision=0, applied=0)
    with pytest.raises(errors.InvalidArgument, match="empty agent message"):
        hub._handle(session, agent_pb2.AgentMessage())
    with pytest.raises(errors.Conflict, match="only once"):
        hub._handle(session, agent_pb2.AgentMessage(register=agent_pb2.Register()))


def test_split_credential() -> None:
    node_id = str(uuid.uuid4())
    assert split_credential(f" {node_id}.{'s' * 43}\n") == (node_id, "s" * 43)
    for bad in ["", "abc", f"{node_id}.short", f"not-a-uuid.{'s' * 43}", node_id]:
        with pytest.raises(errors.Unauthenticated):
            split_credential(bad)


def test_names_and_resources() -> None:
    assert validate_name("node-1.example_x") == "node-1.example_x"
    with pytest.raises(errors.InvalidArgument):
        validate_name("bad/name")
    validate_resources([{"kind": "noop", "name": "a"}, {"kind": "vm", "name": "a"}])
    with pytest.raises(errors.InvalidArgument, match="needs a kind and a name"):
        validate_resources([{"kind": "noop"}])


def test_inventory_is_stored_with_numbers_as_numbers() -> None:
    from controller.agents.stream import inventory_to_dict

    stored = inventory_to_dict(
        agent_pb2.Inventory(vcpus=2, memory_bytes=8 << 30, cpu_flags=["vmx"], kvm_usable=True)
    )
    assert stored["memory_bytes"] == 8 << 30 and stored["cpu_flags"] == ["vmx"]
    assert stored["kvm_usable"] is True and stored["hypervisor"] == ""
