"""Object quotas in the proxy: a PUT that would pass the project's limits is refused.

The limits (``object_bytes``, ``object_count``) live in the controller's quota
service; the usage lives in the storage nodes' listing index.  For each account the
proxy keeps, for ``ttl`` seconds, the limits (``QuotaService/GetQuota`` called with the
caller's own token - a member may read its project's quota) and the usage (the
account's statistics summed over its containers), and bumps the cached usage with
every write it acknowledges.  A PUT whose size (or, for an upload of unknown size,
what has arrived before the check) would pass a limit is refused with
``RESOURCE_EXHAUSTED`` (``QuotaExceeded``) before anything is stored.

Approximations, by design (documented in docs/object-store.md): several proxies each
cache the usage, so together they may overshoot by what they accept within one TTL;
an overwrite counts as a new object until the next refresh; an upload of unknown size
is checked with the bytes known when it starts.  If the controller cannot be asked,
the PUT is allowed and the failure logged: storage stays writable when the controller
is down (the limit is enforced again at the next refresh).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from cumulo import errors
from cumulo.quota.v1 import quota_pb2, quota_pb2_grpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel
from storage.proxy.refresh import RefreshAhead

log = logging.getLogger("cumulo.storage.proxy.quota")

UNLIMITED = -1

#: ``(account) -> (containers, objects, bytes)``: the account's usage from the index.
UsageOf = Callable[[str], Awaitable[tuple[int, int, int]]]


@dataclass
class _Entry:
    bytes_limit: int
    count_limit: int
    bytes_used: int
    objects: int


class QuotaGuard:
    """Checks object PUTs against the project's object quotas; see the module docstring."""

    def __init__(
        self, controller: str, usage_of: UsageOf, ttl: float = 5.0, tls: Tls = PLAINTEXT
    ) -> None:
        self._channel = aio_channel(controller, tls) if controller else None
        self._stub = quota_pb2_grpc.QuotaServiceStub(self._channel) if self._channel else None
        self._usage_of = usage_of
        self.ttl = ttl
        #: The token (and whether it is the account's own) to read each account's quota
        #: with: the latest caller's, so a background refresh has one.
        self._readers: dict[str, tuple[str, bool]] = {}
        # Refreshed ahead of expiry while in use (refresh.py): PUTs do not all stall on
        # the controller and the index each time an account's entry would expire.
        self._cache: RefreshAhead[str, _Entry | None] = RefreshAhead(self._load, ttl)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def _limits(self, account: str, token: str, own: bool) -> tuple[int, int] | None:
        if self._stub is None:
            return None
        try:
            response = await self._stub.GetQuota(
                quota_pb2.GetQuotaRequest(project_id="" if own else account),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=5,
            )
        except grpc.RpcError as exc:
            log.warning("cannot read the object quota of %s: %s", account, exc.details())
            return None
        limits = {item.resource: item.limit for item in response.items}
        return limits.get("object_bytes", UNLIMITED), limits.get("object_count", UNLIMITED)

    async def _entry(self, account: str, token: str, own: bool) -> _Entry | None:
        if len(self._readers) > 100_000:
            self._readers.clear()
        self._readers[account] = (token, own)
        return await self._cache.get(account)

    async def _load(self, account: str) -> _Entry | None:
        """The account's limits and usage; None (allow, and log) when the controller
        cannot be asked - cached too, so a down controller is not asked by every PUT."""
        token, own = self._readers[account]
        limits = await self._limits(account, token, own)
        if limits is None:
            return None
        bytes_limit, count_limit = limits
        if bytes_limit == UNLIMITED and count_limit == UNLIMITED:
            objects = used = 0  # nothing to enforce: skip the (costly) usage sum
        else:
            _containers, objects, used = await self._usage_of(account)
        return _Entry(bytes_limit, count_limit, used, objects)

    async def check(self, account: str, token: str, own: bool, adding: int) -> None:
        """Raise QuotaExceeded if one more object of ``adding`` bytes passes a limit."""
        entry = await self._entry(account, token, own)
        if entry is None:
            return
        if entry.count_limit != UNLIMITED and entry.objects + 1 > entry.count_limit:
            raise errors.QuotaExceeded(
                f"quota exceeded for object_count: limit {entry.count_limit}, "
                f"in use {entry.objects}",
                reason="QUOTA_EXCEEDED",
                hint="delete objects, or ask a cloud admin to raise the quota",
            )
        if entry.bytes_limit != UNLIMITED and entry.bytes_used + adding > entry.bytes_limit:
            raise errors.QuotaExceeded(
                f"quota exceeded for object_bytes: limit {entry.bytes_limit}, in use "
                f"{entry.bytes_used}, this object {adding}",
                reason="QUOTA_EXCEEDED",
                hint="delete objects, or ask a cloud admin to raise the quota",
            )

    def stored(self, account: str, size: int) -> None:
        """Count an acknowledged PUT in the cached usage."""
        entry = self._cache.peek(account)
        if entry is not None:
            entry.objects += 1
            entry.bytes_used += size

    def deleted(self, account: str, size: int) -> None:
        entry = self._cache.peek(account)
        if entry is not None:
            entry.objects = max(0, entry.objects - 1)
            entry.bytes_used = max(0, entry.bytes_used - size)
