"""Malformed, out-of-order and unauthenticated streams end with a readable status."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import grpc
import pytest

from cumulo.agent.v1 import agent_pb2
from cumulo.client import Client
from tests.functional.agents.conftest import ControllerHarness
from tests.helpers.agents import RawStream
from tests.helpers.servers import BackgroundLoop


@pytest.fixture
def credential(client: Client, harness: ControllerHarness) -> Iterator[str]:
    yield client.nodes.enroll("raw").credential
    RawStream.close_all()


def registered(harness: ControllerHarness, loop: BackgroundLoop, credential: str) -> RawStream:
    stream = RawStream(loop, harness.address, credential)
    stream.send(register=agent_pb2.Register(node_name="raw"))
    reply = stream.read()
    assert reply.WhichOneof("kind") == "registered"
    return stream


def test_heartbeat_before_register_is_failed_precondition(
    harness: ControllerHarness, background_loop: BackgroundLoop, credential: str
) -> None:
    stream = RawStream(background_loop, harness.address, credential)
    stream.send(heartbeat=agent_pb2.Heartbeat(sequence=1))
    error = stream.failure()
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "first message on the stream must be register, not heartbeat" in error.details()


def test_no_register_in_time_is_failed_precondition(
    harness: ControllerHarness, background_loop: BackgroundLoop, credential: str
) -> None:
    stream = RawStream(background_loop, harness.address, credential)
    error = stream.failure(timeout=5)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no Register within" in error.details()


@pytest.mark.parametrize(
    ("send", "code", "words"),
    [
        ("empty", grpc.StatusCode.INVALID_ARGUMENT, "empty agent message"),
        ("ack-unsent", grpc.StatusCode.INVALID_ARGUMENT, "ack of revision 7"),
        ("status-unsent", grpc.StatusCode.INVALID_ARGUMENT, "status report for revision 3"),
        ("register-again", grpc.StatusCode.FAILED_PRECONDITION, "only once per stream"),
    ],
)
def test_bad_messages_after_register(
    harness: ControllerHarness,
    background_loop: BackgroundLoop,
    credential: str,
    send: str,
    code: grpc.StatusCode,
    words: str,
) -> None:
    stream = registered(harness, background_loop, credential)
    if send == "empty":
        stream.send_empty()
    elif send == "ack-unsent":
        stream.send(ack=agent_pb2.Ack(revision=7, ok=True))
    elif send == "status-unsent":
        stream.send(status=agent_pb2.StatusReport(revision=3))
    else:
        stream.send(register=agent_pb2.Register())
    error = stream.failure()
    assert error.code() == code
    assert words in error.details()
    assert "Traceback" not in error.details()


def test_acks_must_not_go_backwards(
    harness: ControllerHarness, background_loop: BackgroundLoop, client: Client, credential: str
) -> None:
    stream = registered(harness, background_loop, credential)
    client.nodes.set_desired_state([], nodes=["raw"])
    client.nodes.set_desired_state([], nodes=["raw"])
    assert stream.read_until("desired_state").desired_state.revision in (1, 2)
    stream.read_until("desired_state")
    stream.send(ack=agent_pb2.Ack(revision=2, ok=True))
    stream.send(ack=agent_pb2.Ack(revision=1, ok=True))
    error = stream.failure()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "acks must not go backwards" in error.details()


def test_malformed_bytes_are_invalid_argument(
    harness: ControllerHarness, background_loop: BackgroundLoop, credential: str
) -> None:
    from grpc import aio

    async def send_garbage() -> grpc.StatusCode:
        async with aio.insecure_channel(harness.address) as channel:
            method = channel.stream_stream("/cumulo.agent.v1.AgentService/Connect")

            async def garbage():  # type: ignore[no-untyped-def]
                yield b"\xff\xff\xff\xff"
                await asyncio.sleep(5)

            call = method(garbage(), metadata=[("x-cumulo-node-credential", credential)])
            with pytest.raises(aio.AioRpcError) as caught:
                async for _ in call:
                    pass
            assert "not a valid message" in (caught.value.details() or "")
            return caught.value.code()

    assert background_loop.run(send_garbage()) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("which", ["missing", "malformed", "wrong-secret", "unknown-node"])
def test_bad_credentials_are_unauthenticated(
    harness: ControllerHarness, background_loop: BackgroundLoop, credential: str, which: str
) -> None:
    node_id, _, secret = credential.partition(".")
    given = {
        "missing": None,
        "malformed": "not-a-credential",
        "wrong-secret": f"{node_id}.{'x' * len(secret)}",
        "unknown-node": f"{uuid.uuid4()}.{secret}",
    }[which]
    # Refused on the metadata, before any message: send nothing, so the refusal cannot
    # race the client's own send (grpcio then reports "Internal error from Core").
    stream = RawStream(background_loop, harness.address, given)
    error = stream.failure()
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "credential" in error.details()


def test_revoked_credential_is_unauthenticated(
    harness: ControllerHarness, background_loop: BackgroundLoop, client: Client, credential: str
) -> None:
    client.nodes.revoke("raw")
    stream = RawStream(background_loop, harness.address, credential)
    assert stream.failure().code() == grpc.StatusCode.UNAUTHENTICATED


def test_one_node_cannot_speak_for_another(
    harness: ControllerHarness, background_loop: BackgroundLoop, client: Client, credential: str
) -> None:
    other = client.nodes.enroll("other").node.id
    stream = RawStream(background_loop, harness.address, credential)
    stream.send(register=agent_pb2.Register(node_id=other))
    error = stream.failure()
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert other in error.details()


def test_a_newer_stream_of_the_same_node_replaces_the_older(
    harness: ControllerHarness, background_loop: BackgroundLoop, client: Client, credential: str
) -> None:
    first = registered(harness, background_loop, credential)
    registered(harness, background_loop, credential)
    error = first.failure()
    assert error.code() == grpc.StatusCode.ABORTED
    assert client.nodes.summary().connected_streams == 1
