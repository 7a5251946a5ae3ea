"""The real ``python -m storage.object`` process: serve, survive kill -9, own its devices."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cumulo import errors
from storage.object.client import Location, ObjectServerClient
from storage.timestamp import Timestamp
from tests.helpers.storage import ObjectServerProcess

pytestmark = pytest.mark.integration

LOC = Location("d1", 3, "AUTH_it", "c", "object")
MIB = 1 << 20


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ObjectServerProcess]:
    process = ObjectServerProcess(tmp_path).start()
    yield process
    process.stop()


def ts(n: int) -> str:
    return Timestamp(1_732_712_345_00000 + n).internal


def test_serves_and_stops_cleanly(server: ObjectServerProcess) -> None:
    async def scenario() -> None:
        async with ObjectServerClient(server.address, server.credential) as client:
            await client.put_object(LOC, ts(1), b"hello world", content_type="text/plain")
            assert await client.read_object(LOC) == b"hello world"
            head = await client.head_object(LOC)
            assert head.object.etag == hashlib.md5(b"hello world").hexdigest()

    asyncio.run(scenario())
    assert (server.root / "credential").stat().st_mode & 0o777 == 0o600
    assert server.stop() == 0


def test_kill_9_mid_put_leaves_nothing_partial(server: ObjectServerProcess) -> None:
    partial = Location("d1", 3, "AUTH_it", "c", "partial")
    tmp_dir = server.root / "devices" / "d1" / "tmp"

    async def committed_then_interrupted() -> None:
        async with ObjectServerClient(server.address, server.credential) as client:
            await client.put_object(LOC, ts(1), b"acknowledged")
            reached_disk = asyncio.Event()

            async def body() -> AsyncIterator[bytes]:
                for _ in range(3):
                    yield b"p" * MIB
                reached_disk.set()
                await asyncio.sleep(60)
                yield b"never sent"

            upload = asyncio.ensure_future(client.put_object(partial, ts(2), body()))
            await reached_disk.wait()
            deadline = time.monotonic() + 10
            while not os.listdir(tmp_dir) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert os.listdir(tmp_dir), "the partial upload never reached the disk"
            server.kill()
            with pytest.raises(errors.CumuloError):
                await upload

    asyncio.run(committed_then_interrupted())
    assert os.listdir(tmp_dir), "kill -9 should have left the temporary file"
    server.start()
    assert os.listdir(tmp_dir) == [], "the restarted server should remove interrupted writes"

    async def after_restart() -> None:
        async with ObjectServerClient(server.address, server.credential) as client:
            assert await client.read_object(LOC) == b"acknowledged"
            with pytest.raises(errors.NotFound):
                await client.head_object(partial)
            entries = await client.list_partition("d1", 3)
            assert [e.object for e in entries] == ["object"]

    asyncio.run(after_restart())


def test_a_second_server_cannot_take_the_same_device(server: ObjectServerProcess) -> None:
    second = ObjectServerProcess(server.root)
    result = subprocess.run(second.argv(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "in use by another object server" in result.stderr


def test_large_object_streams_with_bounded_server_memory(server: ObjectServerProcess) -> None:
    """PUT and GET of a 192 MiB object each raise the server's peak RSS by far less
    than the object: it streams instead of buffering.

    Each phase's peak is measured on its own (``clear_refs``), so a failure says which
    direction buffered.  The bound is half the object: the first large PUT alone adds
    ~16-22 MiB for good (thread stacks, the pool of aligned buffers), and buffering the
    object would add ~192 MiB.
    """
    size = 192 * MIB
    block = os.urandom(MIB)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // MIB):
            yield block

    growth_mib: dict[str, float] = {}

    def phase_start() -> int:
        server.reset_peak_rss()
        return server.rss_kib()

    def phase_end(name: str, start_kib: int) -> None:
        growth_mib[name] = round((server.peak_rss_kib() - start_kib) / 1024, 1)

    async def scenario() -> None:
        async with ObjectServerClient(server.address, server.credential) as client:
            start = phase_start()
            await client.put_object(LOC, ts(1), body())
            phase_end("put", start)
            start = phase_start()
            _header, pieces = await client.get_object(LOC)
            received = 0
            async for piece in pieces:
                received += len(piece)
            phase_end("get", start)
            assert received == size

    asyncio.run(scenario())
    print("peak RSS growth MiB", growth_mib)
    assert max(growth_mib.values()) < size / MIB / 2, (
        f"server peak RSS grew by {growth_mib} MiB for a {size // MIB} MiB object"
    )
