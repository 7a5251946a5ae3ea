"""A busy ObjectSession holds its next message back a moment so operations travel
together (cumulo/rpc/linger.py), and a quiet one sends at once; over a real socket to
the fake object API (tests/helpers/objectservice.py), whose sessions are the proxy's."""

from __future__ import annotations

import asyncio
import time

from cumulo.rpc.tls import PLAINTEXT, aio_channel
from cumulo.services.object_session import AsyncObjectSession
from tests.helpers.objectservice import TOKEN, FakeObjectService, serve


def _run(fake: FakeObjectService, work, linger_seconds: float):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        server, address = await serve(fake)
        channel = aio_channel(address, PLAINTEXT)
        try:
            session = AsyncObjectSession(channel, TOKEN, linger_seconds=linger_seconds)
            async with session:
                return await work(session)
        finally:
            await channel.close()
            await server.stop(None)

    return asyncio.run(main())


def _fake_with_objects(count: int, get_delay: float) -> FakeObjectService:
    fake = FakeObjectService()
    fake.containers["c"] = {f"o{i}": f"body {i}".encode() for i in range(count)}
    fake.session_get_delay = get_delay
    return fake


def test_operations_arriving_one_by_one_on_a_busy_session_share_messages() -> None:
    fake = _fake_with_objects(8, get_delay=0.5)

    async def work(session: AsyncObjectSession) -> list[bytes]:
        # Four GETs at once: one message; they stay outstanding for 0.5 s.
        first = [asyncio.create_task(session.get("c", f"o{i}")) for i in range(4)]
        # Until the server has them (a few ms: well inside the 20 ms moving-average gap
        # that allows holds), so the count below starts after their message.
        deadline = time.monotonic() + 5
        while fake.session_operations < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        sent_before = fake.session_messages
        # Four more, one every millisecond, while those four are outstanding.
        later = []
        for i in range(4, 8):
            later.append(asyncio.create_task(session.get("c", f"o{i}")))
            await asyncio.sleep(0.001)
        results = await asyncio.gather(*first, *later)
        work.later_messages = fake.session_messages - sent_before  # type: ignore[attr-defined]
        return [r.data for r in results]

    # A long hold: it ends when the fourth is queued (as many as are outstanding).
    data = _run(fake, work, linger_seconds=2.0)
    assert data == [f"body {i}".encode() for i in range(8)]
    assert work.later_messages == 1, work.later_messages  # type: ignore[attr-defined]
    assert fake.session_operations == 8

    # With the hold turned off each goes out as soon as it is submitted.
    fake = _fake_with_objects(8, get_delay=0.5)
    _run(fake, work, linger_seconds=0.0)
    assert work.later_messages >= 2, work.later_messages  # type: ignore[attr-defined]


def test_a_lone_operation_is_not_held() -> None:
    fake = _fake_with_objects(3, get_delay=0.0)

    async def work(session: AsyncObjectSession) -> float:
        started = time.monotonic()
        for i in range(3):
            assert (await session.get("c", f"o{i}")).data == f"body {i}".encode()
        return time.monotonic() - started

    # One operation at a time: nothing outstanding, so none waits for the 5 s hold.
    assert _run(fake, work, linger_seconds=5.0) < 4.0
    assert fake.session_messages == 3
