"""An in-memory :class:`ObjectBackend` for runner tests (no sockets)."""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

from cumulo.loadtest.backend import ListPage, OpError


class MemoryBackend:
    """A dict per container; ``fail_every`` makes every n-th call fail with ``HTTP_503``."""

    def __init__(self, *, fail_every: int = 0, delay: float = 0.0) -> None:
        self.containers: dict[str, dict[str, bytes]] = {}
        self.fail_every = fail_every
        self.delay = delay
        self.calls = 0
        self.closed = False

    async def _tick(self) -> None:
        self.calls += 1
        call = self.calls
        await asyncio.sleep(self.delay)
        if self.fail_every and call % self.fail_every == 0:
            raise OpError("HTTP_503", "injected failure")

    async def prepare(self, container: str) -> None:
        self.containers.setdefault(container, {})

    async def put_object(self, container: str, name: str, data: memoryview) -> None:
        await self._tick()
        self.containers[container][name] = bytes(data)

    async def get_object(self, container: str, name: str) -> int:
        await self._tick()
        try:
            return len(self.containers[container][name])
        except KeyError:
            raise OpError("NOT_FOUND") from None

    async def head_object(self, container: str, name: str) -> int:
        return await self.get_object(container, name)

    async def delete_object(self, container: str, name: str) -> None:
        await self._tick()
        if self.containers[container].pop(name, None) is None:
            raise OpError("NOT_FOUND")

    async def list_objects(
        self, container: str, *, prefix: str, marker: str, limit: int
    ) -> ListPage:
        await self._tick()
        names = sorted(n for n in self.containers[container] if n.startswith(prefix))
        start = bisect.bisect_right(names, marker) if marker else 0
        page = names[start : start + limit]
        return ListPage(page, start + limit < len(names))

    async def close(self) -> None:
        self.closed = True

    def describe(self) -> dict[str, Any]:
        return {"kind": "memory"}
