"""The index servicer's group commit: concurrent UpdateIndex calls share hops and transactions."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from cumulo.containerserver.v1 import containerserver_pb2 as pb
from storage.container import server
from storage.container.index import IndexShard
from storage.container.server import ContainerServerServicer, IndexDevice


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.jobs = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def ts(n: int) -> str:
    return f"1732712345.{n:05d}_0000"


def _update(name: str, stamp: str, shard: int = 0, device: str = "d1") -> pb.UpdateIndexRequest:
    ref = pb.ShardRef(device=device, partition=3, account="acct", container="c", shard=shard)
    row = pb.IndexRow(name=name, timestamp=stamp, size=len(name), etag="e")
    return pb.UpdateIndexRequest(updates=[pb.ShardUpdate(shard=ref, rows=[row])])


def _servicer(tmp_path: Path) -> tuple[ContainerServerServicer, CountingExecutor]:
    executor = CountingExecutor()
    return ContainerServerServicer({"d1": IndexDevice(str(tmp_path), executor)}), executor


def test_concurrent_calls_share_thread_hops_and_transactions(tmp_path: Path) -> None:
    servicer, executor = _servicer(tmp_path)
    transactions = 0
    original = IndexShard.apply

    def counted(self: IndexShard, *args: Any, **kwargs: Any) -> int:
        nonlocal transactions
        transactions += 1
        return original(self, *args, **kwargs)

    async def burst() -> list[pb.UpdateIndexResponse]:
        calls = [servicer.UpdateIndex(_update(f"o{i:02d}", ts(1)), None) for i in range(40)]
        return await asyncio.gather(*calls)  # type: ignore[arg-type]

    IndexShard.apply = counted  # type: ignore[method-assign]
    try:
        answers = asyncio.run(burst())
    finally:
        IndexShard.apply = original  # type: ignore[method-assign]
    assert all(a.results[0].code == 0 for a in answers)
    # 40 calls, every one applied, in far fewer hops and transactions than calls.
    assert executor.jobs <= 3 and transactions <= 3, (executor.jobs, transactions)
    stats = asyncio.run(
        servicer.GetIndexStats(
            pb.GetIndexStatsRequest(shards=[_update("x", ts(1)).updates[0].shard]),
            None,  # type: ignore[arg-type]
        )
    )
    assert stats.stats[0].object_count == 40
    servicer.close()
    executor.shutdown()


def test_each_caller_gets_the_rows_replaced_in_its_shard(tmp_path: Path) -> None:
    servicer, executor = _servicer(tmp_path)
    asyncio.run(servicer.UpdateIndex(_update("big", ts(1)), None))  # type: ignore[arg-type]

    async def both() -> tuple[pb.UpdateIndexResponse, pb.UpdateIndexResponse]:
        return await asyncio.gather(
            servicer.UpdateIndex(_update("big", ts(2)), None),  # type: ignore[arg-type]
            servicer.UpdateIndex(_update("other", ts(2), shard=1), None),  # type: ignore[arg-type]
        )

    first, second = asyncio.run(both())
    assert [(r.name, r.timestamp) for r in first.results[0].replaced] == [("big", ts(1))]
    assert list(second.results[0].replaced) == []
    servicer.close()
    executor.shutdown()


def test_a_bad_reference_fails_only_its_own_update(tmp_path: Path) -> None:
    servicer, executor = _servicer(tmp_path)
    request = _update("fine", ts(1))
    request.updates.extend(_update("lost", ts(1), device="nowhere").updates)
    answer = asyncio.run(servicer.UpdateIndex(request, None))  # type: ignore[arg-type]
    assert answer.results[0].code == 0
    assert answer.results[1].code == grpc.StatusCode.NOT_FOUND.value[0]
    servicer.close()
    executor.shutdown()


def _record_applies(monkeypatch: Any) -> list[bool]:
    """Record the ``durable`` flag of every IndexShard.apply."""
    flags: list[bool] = []
    original = IndexShard.apply

    def recorded(self: IndexShard, *args: Any, **kwargs: Any) -> int:
        flags.append(kwargs.get("durable", True))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IndexShard, "apply", recorded)
    return flags


def _burst(servicer: ContainerServerServicer, count: int) -> list[pb.UpdateIndexResponse]:
    async def burst() -> list[pb.UpdateIndexResponse]:
        calls = [
            servicer.UpdateIndex(_update(f"o{i:02d}", ts(1), shard=i % 4), None)  # type: ignore[arg-type]
            for i in range(count)
        ]
        return await asyncio.gather(*calls)

    return asyncio.run(burst())


def test_a_batch_of_shards_is_made_durable_by_one_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servicer, executor = _servicer(tmp_path)
    flags = _record_applies(monkeypatch)
    synced: list[str] = []
    monkeypatch.setattr(server, "syncfs_available", lambda: True)
    monkeypatch.setattr(server, "syncfs", synced.append)
    answers = _burst(servicer, 40)
    assert all(a.results[0].code == 0 for a in answers)
    # Every transaction skipped its own log sync; each batch (one thread hop) ended
    # with one syncfs of the device: fewer syncs than transactions (4 shards at least).
    assert flags and not any(flags)
    assert synced == [str(tmp_path)] * executor.jobs
    assert executor.jobs <= 3 < len(flags), (executor.jobs, len(flags))
    servicer.close()
    # The rows are in the files, for a fresh connection too.
    counts = []
    for shard in range(4):
        ref = _update("x", ts(1), shard=shard).updates[0].shard
        reopened = ContainerServerServicer({"d1": IndexDevice(str(tmp_path), executor)})
        stats = asyncio.run(
            reopened.GetIndexStats(pb.GetIndexStatsRequest(shards=[ref]), None)  # type: ignore[arg-type]
        )
        counts.append(stats.stats[0].object_count)
        reopened.close()
    assert counts == [10, 10, 10, 10]
    executor.shutdown()


def test_a_failed_sync_fails_every_update_of_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servicer, executor = _servicer(tmp_path)

    def broken(path: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(server, "syncfs_available", lambda: True)
    monkeypatch.setattr(server, "syncfs", broken)
    answers = _burst(servicer, 8)
    codes = {a.results[0].code for a in answers}
    assert codes == {grpc.StatusCode.UNAVAILABLE.value[0]}
    assert "could not be synced" in answers[0].results[0].message
    servicer.close()
    executor.shutdown()


def test_without_syncfs_each_transaction_syncs_its_own_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servicer, executor = _servicer(tmp_path)
    flags = _record_applies(monkeypatch)

    def forbidden(path: str) -> None:
        raise AssertionError("syncfs must not be called where it is unavailable")

    monkeypatch.setattr(server, "syncfs_available", lambda: False)
    monkeypatch.setattr(server, "syncfs", forbidden)
    answers = _burst(servicer, 8)
    assert all(a.results[0].code == 0 for a in answers)
    assert flags and all(flags)
    servicer.close()
    executor.shutdown()
