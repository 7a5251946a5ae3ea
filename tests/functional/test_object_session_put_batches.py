"""Session PUTs through a real object server: batched small ones and one-hop larger ones."""

from __future__ import annotations

import asyncio
import os

import pytest

from cumulo import errors
from storage.object.client import Location
from storage.object.server import BATCHED_PUT_MAX_BYTES
from tests.functional.test_object_server import Node, ts
from tests.functional.test_object_server import node as node  # the fixture


def test_concurrent_session_puts_each_get_their_own_answer(node: Node) -> None:
    sizes = [0, 1, 4096, BATCHED_PUT_MAX_BYTES, BATCHED_PUT_MAX_BYTES + 1, 300_000]

    def where(n: int) -> Location:
        return Location("d1", n % 5, "AUTH_test", "c", f"o{n}")

    async def scenario() -> None:
        async with node.client.session() as session:
            await session.put_object(where(0), ts(10), b"newest")
            bodies = {n: os.urandom(sizes[n % len(sizes)]) for n in range(1, 60)}
            results = await asyncio.gather(
                session.put_object(where(0), ts(5), b"stale"),  # older than what is there
                *(session.put_object(where(n), ts(1), body) for n, body in bodies.items()),
                return_exceptions=True,
            )
            assert isinstance(results[0], errors.Conflict)
            assert results[0].reason == "NEWER_VERSION_EXISTS"
            for (n, body), result in zip(bodies.items(), results[1:], strict=True):
                assert not isinstance(result, BaseException), result
                assert await session.read_object(where(n)) == body
            assert await session.read_object(where(0)) == b"newest"

    node.run(scenario())
    assert os.listdir(node.device.tmp_dir) == []
    assert node.device.group is None or node.device.group.stats.batches >= 1


@pytest.mark.parametrize("size", [10, BATCHED_PUT_MAX_BYTES + 10])
def test_a_refused_session_put_leaves_nothing(node: Node, size: int) -> None:
    async def scenario() -> None:
        async with node.client.session() as session:
            with pytest.raises(errors.InvalidArgument):
                await session.put_object(
                    Location("d1", 1, "AUTH_test", "c", "x"),
                    ts(1),
                    b"x" * size,
                    expected_md5="0" * 32,
                )

    node.run(scenario())
    assert os.listdir(node.device.tmp_dir) == []
