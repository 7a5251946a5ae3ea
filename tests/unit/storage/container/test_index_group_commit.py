"""The index servicer's group commit: concurrent UpdateIndex calls share hops and transactions."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from cumulo.containerserver.v1 import containerserver_pb2 as pb
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
