"""Whole small PUTs in batches: ObjectDevice.commit_many and the LoopBatcher behind put_whole."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cumulo import errors
from storage.object import diskfile, groupsync
from storage.object.groupsync import LoopBatcher
from storage.object.store import (
    ObjectMetadata,
    ObjectName,
    ObjectNotFound,
    PendingPut,
    TimestampConflict,
    xxh3_of,
)
from storage.timestamp import Timestamp
from tests.unit.storage.object.conftest import Harness

PART = 3


def ts(n: int) -> Timestamp:
    return Timestamp(1_732_712_345_00000 + n)


def pending(
    harness: Harness,
    name: str,
    data: bytes,
    stamp: Timestamp,
    *,
    xxh3: int | None = None,
    expected_size: int | None = None,
) -> PendingPut:
    writer = harness.device.create_writer(PART, ObjectName("AUTH_t", "c", name), stamp)
    pieces: list[tuple[bytes, int | None]] = (
        [(data, xxh3_of(data) if xxh3 is None else xxh3)] if data else []
    )
    return PendingPut(writer, pieces, expected_size)


def read(harness: Harness, name: str) -> bytes:
    with harness.device.open(PART, ObjectName("AUTH_t", "c", name)) as reader:
        return b"".join(piece for piece, _ in reader.iter_range())


def test_commit_many_gives_each_put_its_own_outcome(harness: Harness) -> None:
    first = pending(harness, "a", b"one", ts(5))
    assert isinstance(harness.device.commit_many([first])[0], ObjectMetadata)
    puts = [
        pending(harness, "b", b"two", ts(1)),
        pending(harness, "a", b"stale", ts(4)),  # older than what is there
        pending(harness, "c", b"three", ts(1), xxh3=12345),  # checksum refused
        pending(harness, "d", b"", ts(1), expected_size=7),  # size refused
        pending(harness, "a", b"newer", ts(6)),
    ]
    outcomes = harness.device.commit_many(puts)
    assert isinstance(outcomes[0], ObjectMetadata) and outcomes[0].size == 3
    assert isinstance(outcomes[1], TimestampConflict)
    assert isinstance(outcomes[2], errors.InvalidArgument)
    assert isinstance(outcomes[3], errors.InvalidArgument)
    assert isinstance(outcomes[4], ObjectMetadata)
    assert read(harness, "b") == b"two"
    assert read(harness, "a") == b"newer"
    for name in ("c", "d"):
        with pytest.raises(ObjectNotFound):
            harness.device.head(PART, ObjectName("AUTH_t", "c", name))
    for put in puts:  # every writer finished: commit or abort, nothing left open
        with pytest.raises(errors.Conflict):
            put.writer.write(b"x")


@pytest.mark.skipif(not groupsync.syncfs_available(), reason="syncfs is Linux's")
def test_a_disk_batch_shares_one_group_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = diskfile.DiskDevice(tmp_path / "d1")
    harness = Harness(device, lambda *_: None)
    events: list[str] = []
    real_rename, real_listdir = os.rename, os.listdir
    assert device.group is not None
    real_sync = device.group.sync

    def rename(src: str, dst: str) -> None:
        events.append("rename")
        real_rename(src, dst)

    def sync() -> None:
        events.append("syncfs")
        real_sync()

    def forbidden(*_: object) -> None:
        raise AssertionError("a grouped write must not sync file by file")

    monkeypatch.setattr(diskfile.os, "rename", rename)
    monkeypatch.setattr(diskfile.os, "fdatasync", forbidden)
    monkeypatch.setattr(diskfile, "fsync_dir", forbidden)
    monkeypatch.setattr(device.group, "sync", sync)
    outcomes = device.commit_many([pending(harness, f"o{n}", b"x" * n, ts(1)) for n in range(5)])
    assert all(isinstance(o, ObjectMetadata) for o in outcomes)
    assert events == ["syncfs"] + ["rename"] * 5 + ["syncfs"]
    assert device.group.stats.batches == 1
    assert real_listdir(device.tmp_dir) == []


def test_the_batcher_runs_what_queued_together_in_one_call() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def run(jobs: list[int]) -> list[int | BaseException]:
        gate.wait(5)
        calls.append(list(jobs))
        return [ValueError(job) if job == 3 else job * 10 for job in jobs]

    async def main() -> None:
        with ThreadPoolExecutor(2) as pool:
            batcher: LoopBatcher[int, int] = LoopBatcher(pool, run)
            first = asyncio.ensure_future(batcher.submit(0))
            await asyncio.sleep(0.05)  # the first batch is running (held by the gate)
            rest = [asyncio.ensure_future(batcher.submit(n)) for n in range(1, 6)]
            await asyncio.sleep(0)
            gate.set()
            assert await first == 0
            results = await asyncio.gather(*rest, return_exceptions=True)
            assert results[:2] == [10, 20] and isinstance(results[2], ValueError)
            assert results[3:] == [40, 50]
            assert batcher.stats.batches == 2

    asyncio.run(main())
    assert calls == [[0], [1, 2, 3, 4, 5]]


def test_a_job_cancelled_before_its_batch_is_discarded_not_run() -> None:
    ran: list[int] = []
    discarded: list[int] = []
    gate = threading.Event()

    def run(jobs: list[int]) -> list[int | BaseException]:
        gate.wait(5)
        ran.extend(jobs)
        return list(jobs)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher: LoopBatcher[int, int] = LoopBatcher(pool, run, discard=discarded.append)
            first = asyncio.ensure_future(batcher.submit(1))
            await asyncio.sleep(0.05)
            second = asyncio.ensure_future(batcher.submit(2))
            await asyncio.sleep(0)
            second.cancel()
            gate.set()
            assert await first == 1
            with pytest.raises(asyncio.CancelledError):
                await second
            while batcher._draining:
                await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ran == [1] and discarded == [2]


def test_a_failing_batch_fails_each_of_its_jobs() -> None:
    def run(jobs: list[int]) -> list[int | BaseException]:
        raise OSError(5, "Input/output error")

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher: LoopBatcher[int, int] = LoopBatcher(pool, run)
            results = await asyncio.gather(
                *(batcher.submit(n) for n in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, OSError) for r in results)
            assert await asyncio.wait_for(asyncio.shield(asyncio.sleep(0, 1)), 1) == 1

    asyncio.run(main())
