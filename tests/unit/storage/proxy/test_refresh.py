"""RefreshAhead (storage/proxy/refresh.py): single flight, reloads ahead of expiry, never
serving a value past its TTL, failures not cached, put/drop winning over reloads."""

from __future__ import annotations

import asyncio

import pytest

from cumulo import errors
from storage.proxy.refresh import RefreshAhead


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts loads; each returns the next version; ``gate`` holds them while cleared."""

    def __init__(self) -> None:
        self.loads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: BaseException | None = None

    async def __call__(self, key: str) -> str:
        self.loads += 1
        version = self.loads
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return f"{key}-v{version}"


def make(ttl: float = 10.0) -> tuple[RefreshAhead[str, str], Loader, Clock]:
    loader, clock = Loader(), Clock()
    return RefreshAhead(loader, ttl, ahead=0.25, clock=clock), loader, clock


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_concurrent_misses_share_one_load() -> None:
    async def main() -> None:
        cache, loader, _ = make()
        loader.gate.clear()
        waiting = [asyncio.ensure_future(cache.get("k")) for _ in range(20)]
        await settle()
        loader.gate.set()
        assert await asyncio.gather(*waiting) == ["k-v1"] * 20
        assert loader.loads == 1

    asyncio.run(main())


def test_a_busy_entry_is_reloaded_before_it_expires_and_never_served_stale() -> None:
    async def main() -> None:
        cache, loader, clock = make(ttl=10)
        assert await cache.get("k") == "k-v1"
        clock.now += 5  # mid-life: a plain hit
        assert await cache.get("k") == "k-v1" and loader.loads == 1
        clock.now += 3  # in the last quarter: answered at once, one reload started
        loader.gate.clear()
        assert await cache.get("k") == "k-v1"
        assert await cache.get("k") == "k-v1"
        await settle()
        assert loader.loads == 2  # one reload, not one per hit
        loader.gate.set()
        await settle()
        clock.now += 5  # past the first load's TTL: the reloaded value, no wait
        assert await cache.get("k") == "k-v2" and loader.loads == 2

    asyncio.run(main())


def test_past_its_ttl_an_entry_is_never_served_even_while_reloading() -> None:
    async def main() -> None:
        cache, _loader, clock = make(ttl=10)
        await cache.get("k")
        clock.now += 11
        assert cache.peek("k") is None
        assert await cache.get("k") == "k-v2"

    asyncio.run(main())


def test_failures_are_shared_and_not_cached() -> None:
    async def main() -> None:
        cache, loader, clock = make()
        loader.fail = errors.Unavailable("controller down")
        results = await asyncio.gather(cache.get("k"), cache.get("k"), return_exceptions=True)
        assert all(isinstance(r, errors.Unavailable) for r in results)
        assert loader.loads == 1
        loader.fail = None
        assert await cache.get("k") == "k-v2"
        # A failed background reload leaves the entry to expire, then the miss retries.
        loader.fail = errors.Unavailable("down again")
        clock.now += 8
        assert await cache.get("k") == "k-v2"
        await settle()
        clock.now += 3
        with pytest.raises(errors.Unavailable):
            await cache.get("k")

    asyncio.run(main())


def test_put_and_drop_win_over_a_reload_already_running() -> None:
    async def main() -> None:
        cache, loader, clock = make()
        await cache.get("k")
        clock.now += 8
        loader.gate.clear()
        assert await cache.get("k") == "k-v1"  # starts a reload, held at the gate
        cache.drop("k")  # say the container was deleted through this proxy
        loader.gate.set()
        await settle()
        assert cache.peek("k") is None  # the reload did not bring it back
        cache.put("k", "mine")
        assert await cache.get("k") == "mine"

    asyncio.run(main())


def test_a_zero_ttl_caches_nothing() -> None:
    async def main() -> None:
        cache, _loader, _ = make(ttl=0)
        assert await cache.get("k") == "k-v1"
        assert await cache.get("k") == "k-v2"

    asyncio.run(main())
