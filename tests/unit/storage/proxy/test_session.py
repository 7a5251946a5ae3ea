"""run_session (storage/proxy/session.py) against fake operations: ids, errors per
operation, authorisation per operation, batching, the in-progress budget, stream errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from storage.proxy.auth import CALLER, OPERATION_CHECK
from storage.proxy.session import (
    MAX_RESPONSE_BYTES,
    METHOD_OF,
    Operations,
    SessionLimits,
    SizedRequest,
    SmallObject,
    parse_request,
    run_session,
)

MIB = 1 << 20


class Requests:
    """A request stream the test feeds message by message, then ends."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[pb.ObjectSessionRequest | None] = asyncio.Queue()

    def send(self, *operations: pb.SessionOperation) -> None:
        self.queue.put_nowait(pb.ObjectSessionRequest(operations=operations))

    def end(self) -> None:
        self.queue.put_nowait(None)

    async def stream(self) -> AsyncIterator[pb.ObjectSessionRequest]:
        while (message := await self.queue.get()) is not None:
            yield message


def get(op_id: int, name: str) -> pb.SessionOperation:
    return pb.SessionOperation(id=op_id, get=pb.GetObjectRequest(container="c", name=name))


def put(op_id: int, name: str, data: bytes = b"x") -> pb.SessionOperation:
    header = pb.PutObjectHeader(container="c", name=name)
    return pb.SessionOperation(id=op_id, put=pb.PutSmallObjectRequest(header=header, data=data))


class Store:
    """Operations over a dict; names starting "wait" block until released."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {"a": b"A", "big": b"B" * MIB}
        self.started: list[str] = []
        self.release = asyncio.Event()
        self.callers: list[Any] = []

    async def _maybe_wait(self, name: str) -> None:
        self.started.append(name)
        self.callers.append(CALLER.get())
        if name.startswith("wait"):
            await self.release.wait()

    async def put(self, request: pb.PutSmallObjectRequest) -> pb.PutObjectResponse:
        await self._maybe_wait(request.header.name)
        self.objects[request.header.name] = request.data
        return pb.PutObjectResponse(object=pb.ObjectInfo(name=request.header.name))

    async def get(self, request: pb.GetObjectRequest) -> pb.GetSmallObjectResponse:
        await self._maybe_wait(request.name)
        if request.name == "boom":
            raise RuntimeError("a bug, with a secret in its message")
        if request.name not in self.objects:
            raise errors.NotFound(f"no object {request.name!r}", reason="OBJECT_NOT_FOUND")
        return pb.GetSmallObjectResponse(data=self.objects[request.name])

    async def head(self, request: pb.HeadObjectRequest) -> pb.HeadObjectResponse:
        return pb.HeadObjectResponse(object=pb.ObjectInfo(name=request.name))

    async def delete(self, request: pb.DeleteObjectRequest) -> pb.DeleteObjectResponse:
        return pb.DeleteObjectResponse(version="1")

    def operations(self) -> Operations:
        return Operations(put=self.put, get=self.get, head=self.head, delete=self.delete)


Check = Callable[[str], Awaitable[Any]]


def allow_all(checked: list[str]) -> Check:
    async def check(method: str) -> str:
        checked.append(method)
        return f"caller-for-{method.rsplit('/', 1)[1]}"

    return check


async def collect(responses: AsyncIterator[bytes]) -> list[list[Any]]:
    return [list(pb.ObjectSessionResponse.FromString(raw).results) async for raw in responses]


async def next_message(responses: AsyncIterator[bytes]) -> pb.ObjectSessionResponse:
    return pb.ObjectSessionResponse.FromString(await anext(responses))


def by_id(messages: list[list[pb.SessionResult]]) -> dict[int, pb.SessionResult]:
    return {result.id: result for message in messages for result in message}


def test_every_operation_gets_its_result_and_failures_stay_per_operation() -> None:
    async def main() -> None:
        store = Store()
        checked: list[str] = []
        OPERATION_CHECK.set(allow_all(checked))
        requests = Requests()
        requests.send(get(1, "a"), get(2, "missing"), put(3, "new", b"N"))
        requests.send(
            get(4, "boom"),
            pb.SessionOperation(id=5, head=pb.HeadObjectRequest(name="h")),
            pb.SessionOperation(id=6, delete=pb.DeleteObjectRequest(name="d")),
        )
        requests.end()
        results = by_id(await collect(run_session(requests.stream(), store.operations())))
        assert sorted(results) == [1, 2, 3, 4, 5, 6]
        assert results[1].get.data == b"A"
        assert results[2].error.code == 5  # NOT_FOUND
        assert results[2].error.detail.reason == "OBJECT_NOT_FOUND"
        assert "missing" in results[2].error.message
        assert results[3].put.object.name == "new" and store.objects["new"] == b"N"
        # A server fault is INTERNAL with a request id, and says nothing of the bug.
        assert results[4].error.code == 13
        assert "secret" not in results[4].error.message
        assert results[4].error.detail.request_id.endswith(".4")
        assert results[5].head.object.name == "h" and results[6].delete.version == "1"
        # Each operation was authorised as its unary call, and ran as that caller.
        assert sorted(checked) == sorted(
            METHOD_OF[k] for k in ("get", "get", "put", "get", "head", "delete")
        )
        assert "caller-for-PutSmallObject" in store.callers

    asyncio.run(main())


def test_an_operation_the_caller_may_not_do_fails_alone() -> None:
    async def main() -> None:
        store = Store()

        async def reader_only(method: str) -> str:
            if method == METHOD_OF["put"]:
                raise errors.PermissionDenied(f"{method} needs the member role")
            return "reader"

        OPERATION_CHECK.set(reader_only)  # type: ignore[arg-type]
        requests = Requests()
        requests.send(put(1, "mine"), get(2, "a"))
        requests.end()
        results = by_id(await collect(run_session(requests.stream(), store.operations())))
        assert results[1].error.code == 7  # PERMISSION_DENIED
        assert "mine" not in store.objects and "mine" not in store.started
        assert results[2].get.data == b"A"

    asyncio.run(main())


def test_a_session_without_a_token_check_fails_each_operation() -> None:
    async def main() -> None:
        OPERATION_CHECK.set(None)
        requests = Requests()
        requests.send(get(1, "a"))
        requests.end()
        results = by_id(await collect(run_session(requests.stream(), Store().operations())))
        assert results[1].error.code == 16  # UNAUTHENTICATED

    asyncio.run(main())


def test_results_that_finish_during_a_write_go_out_together() -> None:
    async def main() -> None:
        store = Store()
        OPERATION_CHECK.set(allow_all([]))
        requests = Requests()
        responses = run_session(requests.stream(), store.operations())
        requests.send(get(1, "a"))
        first = await next_message(responses)
        assert [r.id for r in first.results] == [1]
        # Nobody pulls the next message while these finish: they wait and share it.
        requests.send(*(get(n, "a") for n in range(2, 12)))
        while len(store.started) < 11:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        second = await next_message(responses)
        assert sorted(r.id for r in second.results) == list(range(2, 12))
        requests.end()
        assert await collect(responses) == []

    asyncio.run(main())


def test_big_results_are_spread_over_messages_under_the_limit() -> None:
    async def main() -> None:
        store = Store()
        OPERATION_CHECK.set(allow_all([]))
        requests = Requests()
        requests.send(*(get(n, "big") for n in range(1, 9)))
        requests.end()
        messages = await collect(run_session(requests.stream(), store.operations()))
        assert sorted(by_id(messages)) == list(range(1, 9))
        for message in messages:
            data = sum(len(r.get.data) for r in message)
            assert data <= MAX_RESPONSE_BYTES or len(message) == 1
        assert len(messages) >= 3  # 8 MiB cannot fit in fewer messages of 3 MiB

    asyncio.run(main())


def test_past_the_budget_the_session_stops_reading_until_results_are_sent() -> None:
    async def main() -> None:
        store = Store()
        OPERATION_CHECK.set(allow_all([]))
        requests = Requests()
        limits = SessionLimits(operations=2, put_bytes=10)
        responses = run_session(requests.stream(), store.operations(), limits)
        pulled = asyncio.ensure_future(next_message(responses))
        requests.send(get(1, "wait-1"), get(2, "wait-2"), get(3, "a"))
        await asyncio.sleep(0.05)
        assert store.started == ["wait-1", "wait-2"]  # the third waits for room
        store.release.set()
        seen = {r.id for r in (await pulled).results}
        while len(seen) < 3:
            seen |= {r.id for r in (await next_message(responses)).results}
        assert seen == {1, 2, 3} and store.started[2] == "a"
        # Put bytes count too: one 8-byte put at a time under a 10-byte budget, but a
        # put bigger than the whole budget still runs when it is alone.
        requests.send(put(4, "p4", b"12345678"), put(5, "p5", b"12345678"))
        requests.send(put(6, "p6", b"x" * 64))
        requests.end()
        seen = {r.id for message in await collect(responses) for r in message}
        assert seen == {4, 5, 6} and store.objects["p6"] == b"x" * 64

    asyncio.run(main())


@pytest.mark.parametrize(
    "bad, reason",
    [
        (pb.SessionOperation(id=9), "names no operation"),
        (get(1, "again"), "already in progress"),
    ],
)
def test_a_malformed_operation_ends_the_stream_and_cancels_the_rest(
    bad: pb.SessionOperation, reason: str
) -> None:
    async def main() -> None:
        store = Store()
        OPERATION_CHECK.set(allow_all([]))
        requests = Requests()
        requests.send(get(1, "wait-forever"))
        requests.send(bad)
        responses = run_session(requests.stream(), store.operations())
        with pytest.raises(errors.InvalidArgument, match=reason):
            await collect(responses)
        assert "again" not in store.started

    asyncio.run(main())


def test_ending_the_requests_lets_the_operations_in_progress_finish() -> None:
    async def main() -> None:
        store = Store()
        OPERATION_CHECK.set(allow_all([]))
        requests = Requests()
        requests.send(get(1, "wait-a"), put(2, "wait-b"))
        requests.end()
        responses = run_session(requests.stream(), store.operations())
        collecting = asyncio.ensure_future(collect(responses))
        await asyncio.sleep(0.05)
        assert not collecting.done()
        store.release.set()
        assert sorted(by_id(await collecting)) == [1, 2]

    asyncio.run(main())


def test_sized_requests_are_charged_their_given_sizes_and_small_objects_go_out_as_wire() -> None:
    async def main() -> None:
        store = Store()
        header = pb.GetObjectHeader(object=pb.ObjectInfo(name="s", size=4), end=4)

        async def get_small(request: pb.GetObjectRequest) -> SmallObject:
            return SmallObject(header, b"data")

        operations = Operations(put=store.put, get=get_small, head=store.head, delete=store.delete)
        OPERATION_CHECK.set(allow_all([]))
        queue: asyncio.Queue[SizedRequest | None] = asyncio.Queue()

        async def stream() -> AsyncIterator[SizedRequest]:
            while (item := await queue.get()) is not None:
                yield item

        limits = SessionLimits(operations=8, put_bytes=100)
        responses = run_session(stream(), operations, limits)
        pulled = asyncio.ensure_future(next_message(responses))
        # Two 64-byte puts: the wire form's sizes (~80 bytes each) admit one at a time...
        raw = pb.ObjectSessionRequest(
            operations=[put(1, "wait-1", b"x" * 64), put(2, "wait-2", b"x" * 64)]
        ).SerializeToString()
        queue.put_nowait(parse_request(raw))
        await asyncio.sleep(0.05)
        assert store.started == ["wait-1"]
        # ...while sizes given as 1 byte each admit both (the session trusts the sizes
        # its server's parser measured; it does not re-measure the messages).
        sized = parse_request(
            pb.ObjectSessionRequest(
                operations=[put(3, "wait-3", b"x" * 64), put(4, "wait-4", b"x" * 64)]
            ).SerializeToString()
        )
        store.release.set()
        seen = by_id([list((await pulled).results)])  # wait-1's; its bytes are given
        seen.update(by_id([list((await next_message(responses)).results)]))  # back, wait-2
        assert store.started == ["wait-1", "wait-2"]
        store.release.clear()
        queue.put_nowait(SizedRequest(sized.message, [1, 1]))
        await asyncio.sleep(0.05)
        assert store.started[2:] == ["wait-3", "wait-4"]  # both running at once
        store.release.set()
        last = pb.ObjectSessionRequest(operations=[get(5, "s")]).SerializeToString()
        queue.put_nowait(parse_request(last))
        queue.put_nowait(None)
        seen.update(by_id(await collect(responses)))
        assert sorted(seen) == [1, 2, 3, 4, 5]
        assert seen[5].get == pb.GetSmallObjectResponse(header=header, data=b"data")

    asyncio.run(main())
