"""RunSession batches: several requests or responses in one stream message.

What the proxy relies on: a batched request is served exactly as if it came alone,
responses are batched only for a caller that announced it understands them, a
client batches only for a server that announced it, and a burst of concurrent
requests costs fewer stream writes than requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cumulo.objectserver.v1 import objectserver_pb2 as pb
from storage.object import server as server_module
from storage.object.batching import (
    BATCH_KEY,
    BATCH_VALUE,
    MAX_BATCHED_BYTES,
    pack_requests,
    pack_responses,
    unpack_responses,
)
from storage.object.client import Location, ObjectServerClient
from storage.object.main import ObjectServer, open_devices, start_object_server
from tests.helpers.servers import BackgroundLoop

CREDENTIAL = "test-credential-0123456789abcdef"


def ts(n: int) -> str:
    return f"{1_700_000_000 + n:010d}.00000_0000"


@pytest.fixture
def served(tmp_path: Path, background_loop: BackgroundLoop) -> Iterator[tuple[ObjectServer, Any]]:
    devices = open_devices(
        tmp_path / "node", ["d1"], chunk_size=65536, threads_per_device=4, create=True
    )
    server = background_loop.run(
        start_object_server(listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL)
    )
    yield server, background_loop
    background_loop.run(server.stop(grace=0.5))


def _put(request_id: int, name: str, data: bytes, stamp: str) -> pb.SessionRequest:
    request = pb.SessionRequest(id=request_id)
    header = request.put.header
    header.location.CopyFrom(Location("d1", 3, "AUTH_b", "c", name).message())
    header.timestamp = stamp
    request.put.chunk.data = data
    request.put.commit.expected_size = len(data)
    return request


def _head(request_id: int, name: str) -> pb.SessionRequest:
    return pb.SessionRequest(
        id=request_id,
        head=pb.HeadObjectRequest(location=Location("d1", 3, "AUTH_b", "c", name).message()),
    )


async def _raw_session(
    server: ObjectServer, messages: list[pb.SessionRequest], *, announce: bool
) -> tuple[bool, list[pb.SessionResponse]]:
    """Send ``messages`` on a bare RunSession stream; (server announced, raw responses)."""
    async with ObjectServerClient(server.address, CREDENTIAL) as client:
        metadata = client.metadata + (((BATCH_KEY, BATCH_VALUE),) if announce else ())
        call = client.stub.RunSession(metadata=metadata)
        for message in messages:
            await call.write(message)
        await call.done_writing()
        received = [message async for message in call]
        initial = await call.initial_metadata()
    announced = any(k == BATCH_KEY and v == BATCH_VALUE for k, v in initial)
    return announced, received


def test_a_batched_request_is_served_as_if_each_came_alone(served: Any) -> None:
    server, loop = served
    bodies = [random.Random(i).randbytes(100 * i + 1) for i in range(20)]
    batch = pb.SessionRequest(
        batch=[_put(i + 1, f"o{i}", body, ts(1)) for i, body in enumerate(bodies)]
    )
    announced, received = loop.run(_raw_session(server, [batch], announce=True))
    assert announced
    answers = {r.id: r for m in received for r in unpack_responses(m)}
    assert sorted(answers) == list(range(1, 21))
    for i, body in enumerate(bodies):
        assert answers[i + 1].put.object.etag == hashlib.md5(body).hexdigest()
    # Each item keeps its own outcome: a stale PUT fails alone, HEADs see the objects.
    mixed = pb.SessionRequest(
        batch=[_put(1, "o0", b"stale", ts(0)), _head(2, "o5"), _head(3, "missing")]
    )
    _, received = loop.run(_raw_session(server, [mixed], announce=True))
    answers = {r.id: r for m in received for r in unpack_responses(m)}
    assert answers[1].error.detail.reason == "NEWER_VERSION_EXISTS"
    assert answers[2].head.object.size == len(bodies[5])
    assert answers[3].error.detail.reason == "OBJECT_NOT_FOUND"


def test_responses_are_batched_only_for_a_caller_that_announced_it(served: Any) -> None:
    server, loop = served
    loop.run(_raw_session(server, [_put(1, "x", b"x", ts(1))], announce=False))
    heads = pb.SessionRequest(batch=[_head(i, "x") for i in range(1, 65)])
    _, plain = loop.run(_raw_session(server, [heads], announce=False))
    assert len(plain) == 64
    assert all(len(m.batch) == 0 and m.head.object.size == 1 for m in plain)
    _, batched = loop.run(_raw_session(server, [heads], announce=True))
    assert sorted(r.id for m in batched for r in unpack_responses(m)) == list(range(1, 65))
    assert len(batched) < 64  # answers that were ready together went out together


def test_a_burst_of_requests_takes_fewer_writes_than_requests(served: Any) -> None:
    server, loop = served

    async def scenario() -> tuple[int, list[bytes]]:
        async with ObjectServerClient(server.address, CREDENTIAL) as client:
            session = client.session()
            await session.put_object(Location("d1", 3, "AUTH_b", "c", "first"), ts(1), b"1")
            assert session.batching  # the server announced batches
            writes = 0
            write = session._call.write

            async def counting(message: pb.SessionRequest) -> None:
                nonlocal writes
                writes += 1
                await write(message)

            session._call.write = counting  # type: ignore[method-assign]
            locations = [Location("d1", i % 4, "AUTH_b", "c", f"n{i}") for i in range(50)]
            bodies = [random.Random(i).randbytes(i * 50) for i in range(50)]
            await asyncio.gather(
                *(
                    session.put_object(loc, ts(2), b)
                    for loc, b in zip(locations, bodies, strict=True)
                )
            )
            read = await asyncio.gather(*(session.read_object(loc) for loc in locations))
            await session.close()
            return writes, read

    writes, read = loop.run(scenario())
    assert read == [random.Random(i).randbytes(i * 50) for i in range(50)]
    assert writes < 100


def test_a_client_sends_single_messages_to_a_server_that_did_not_announce(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, loop = served
    monkeypatch.setattr(server_module, "BATCH_VALUE", "0")  # an older server says nothing

    async def scenario() -> list[bytes]:
        async with ObjectServerClient(server.address, CREDENTIAL) as client:
            session = client.session()
            await session.put_object(Location("d1", 3, "AUTH_b", "c", "first"), ts(1), b"1")
            assert not session.batching
            sent: list[pb.SessionRequest] = []
            write = session._call.write

            async def recording(message: pb.SessionRequest) -> None:
                sent.append(message)
                await write(message)

            session._call.write = recording  # type: ignore[method-assign]
            locations = [Location("d1", 1, "AUTH_b", "c", f"s{i}") for i in range(20)]
            await asyncio.gather(*(session.put_object(loc, ts(2), b"s") for loc in locations))
            read = await asyncio.gather(*(session.read_object(loc) for loc in locations))
            await session.close()
            assert len(sent) == 40 and all(len(m.batch) == 0 for m in sent)
            return read

    assert loop.run(scenario()) == [b"s"] * 20


def test_big_items_travel_alone() -> None:
    # Each item travels with the object bytes it carries, as its builder counted them.
    small = [(_put(i, f"s{i}", b"x" * 10, ts(1)), 10) for i in range(3)]
    big_size = MAX_BATCHED_BYTES + 1
    big = _put(9, "big", b"y" * big_size, ts(1))
    packed = pack_requests([small[0], (big, big_size), small[1], small[2]])
    assert [len(m.batch) for m in packed] == [3, 0]
    assert packed[1] is big
    assert pack_requests([(big, big_size)]) == [big]
    assert pack_requests([small[0], (big, big_size)]) == [small[0][0], big]
    response = pb.SessionResponse(id=4)
    response.get.chunk.data = b"z" * big_size
    packed_responses = pack_responses(
        [(pb.SessionResponse(id=1), 0), (response, big_size), (pb.SessionResponse(id=2), 0)]
    )
    assert [len(m.batch) for m in packed_responses] == [2, 0]
