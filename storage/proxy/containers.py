"""Containers: records in the account's container list, and their statistics.

A container is one row of its account's index (the pseudo-container "" of the
account, one shard): the row's timestamp is the record's version, its ``extra`` the
JSON ``{"metadata": {...}, "created": <timestamp>, "shards": N}``, and a deletion is
a tombstone row.  The number of index shards is fixed when the container is created,
so every proxy places a given object's listing row in the same shard.

Records are cached per proxy for ``cache_ttl`` seconds (existence and shard count are
asked on every object PUT).  Another proxy's delete of a container is therefore seen
here within the TTL; a PUT into a container deleted that recently may still be
accepted (documented in docs/object-store.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cumulo import errors
from storage.container.index import Row
from storage.proxy.index import IndexClient, ShardId
from storage.proxy.refresh import RefreshAhead
from storage.timestamp import Timestamp

#: Most index shards a container may have (the node refuses shard numbers beyond 4096).
MAX_INDEX_SHARDS = 256


@dataclass(frozen=True)
class ContainerRecord:
    name: str
    version: str
    created: str
    shards: int
    metadata: dict[str, str] = field(default_factory=dict)

    def row(self) -> Row:
        extra = {"metadata": self.metadata, "created": self.created, "shards": self.shards}
        return Row(self.name, self.version, extra=json.dumps(extra).encode("utf-8"))

    @classmethod
    def from_row(cls, row: Row) -> ContainerRecord:
        extra = json.loads(row.extra or b"{}")
        return cls(
            name=row.name,
            version=row.timestamp,
            created=str(extra.get("created") or row.timestamp),
            shards=int(extra.get("shards") or 1),
            metadata={str(k): str(v) for k, v in (extra.get("metadata") or {}).items()},
        )

    def shard_ids(self, account: str) -> list[ShardId]:
        return [ShardId(account, self.name, s) for s in range(self.shards)]


def _not_found(name: str) -> errors.NotFound:
    return errors.NotFound(
        f"container {name!r} not found",
        field="container",
        reason="CONTAINER_NOT_FOUND",
        hint="create it with CreateContainer (`cumulo container create`)",
    )


class ContainerDirectory:
    """The containers of accounts; see the module docstring."""

    def __init__(self, index: IndexClient, *, cache_ttl: float = 5.0, shards: int = 8) -> None:
        self.index = index
        self.cache_ttl = cache_ttl
        self.shards = max(1, min(shards, MAX_INDEX_SHARDS))
        # Refreshed ahead of expiry while in use: no stall of every request in flight
        # each time a busy container's entry would have expired (refresh.py).
        self._cache: RefreshAhead[tuple[str, str], ContainerRecord] = RefreshAhead(
            self._load, cache_ttl
        )

    @staticmethod
    def list_shard(account: str) -> ShardId:
        return ShardId(account, "", 0)

    async def _lookup(self, account: str, name: str) -> Row | None:
        rows, _ = await self.index.list([self.list_shard(account)], name, "", 1)
        if rows and rows[0].name == name:
            return rows[0]
        return None

    async def get(self, account: str, name: str, *, cached: bool = True) -> ContainerRecord:
        key = (account, name)
        if cached:
            return await self._cache.get(key)
        record = await self._load(key)
        self._remember(account, record)
        return record

    async def _load(self, key: tuple[str, str]) -> ContainerRecord:
        account, name = key
        row = await self._lookup(account, name)
        if row is None or row.deleted:
            self._cache.drop(key)
            raise _not_found(name)
        return ContainerRecord.from_row(row)

    def _remember(self, account: str, record: ContainerRecord) -> None:
        self._cache.put((account, record.name), record)

    async def create(
        self, account: str, name: str, metadata: Mapping[str, str], *, exist_ok: bool
    ) -> ContainerRecord:
        row = await self._lookup(account, name)
        if row is not None and not row.deleted:
            if exist_ok:
                return ContainerRecord.from_row(row)
            raise errors.AlreadyExists(
                f"container {name!r} exists already", field="name", reason="CONTAINER_EXISTS"
            )
        now = Timestamp.now().internal
        record = ContainerRecord(name, now, now, self.shards, dict(metadata))
        await self.index.update(self.list_shard(account), [record.row()])
        self._remember(account, record)
        return record

    async def update_metadata(
        self, account: str, name: str, metadata: Mapping[str, str], *, replace: bool
    ) -> ContainerRecord:
        current = await self.get(account, name, cached=False)
        if replace:
            merged = dict(metadata)
        else:
            merged = dict(current.metadata)
            for key, value in metadata.items():
                if value:
                    merged[key] = value
                else:
                    merged.pop(key, None)
        record = ContainerRecord(
            name, Timestamp.now().internal, current.created, current.shards, merged
        )
        await self.index.update(self.list_shard(account), [record.row()])
        self._remember(account, record)
        return record

    async def delete(self, account: str, name: str) -> None:
        record = await self.get(account, name, cached=False)
        ((count, _used),) = (await self.stats(account, [record])).values()
        if count:
            raise errors.Conflict(
                f"container {name!r} still holds {count} object(s)",
                field="name",
                reason="CONTAINER_NOT_EMPTY",
                hint="delete its objects first",
            )
        tombstone = Row(name, Timestamp.now().internal, deleted=True)
        await self.index.update(self.list_shard(account), [tombstone])
        self._cache.drop((account, name))

    async def list(
        self, account: str, prefix: str, marker: str, limit: int
    ) -> tuple[list[ContainerRecord], bool]:
        """Live containers after ``marker``, at most ``limit``, and whether more may follow."""
        records: list[ContainerRecord] = []
        while True:
            rows, truncated = await self.index.list(
                [self.list_shard(account)], prefix, marker, min(limit + 16, 10_000)
            )
            for row in rows:
                if not row.deleted:
                    records.append(ContainerRecord.from_row(row))
                    if len(records) == limit:
                        return records, True
            if not truncated or not rows:
                return records, False
            marker = rows[-1].name

    async def stats(
        self, account: str, records: Sequence[ContainerRecord]
    ) -> dict[str, tuple[int, int]]:
        """(object count, bytes) per container: sums over each container's shards."""
        shards = [s for r in records for s in r.shard_ids(account)]
        if not shards:
            return {}
        per_shard = await self.index.stats(shards)
        totals: dict[str, tuple[int, int]] = {r.name: (0, 0) for r in records}
        for shard, (count, used) in per_shard.items():
            c, u = totals[shard.container]
            totals[shard.container] = (c + count, u + used)
        return totals

    async def account_stats(self, account: str) -> tuple[int, int, int]:
        """(containers, objects, bytes) of the account, over all its containers."""
        containers = objects = used = 0
        marker = ""
        while True:
            records, more = await self.list(account, "", marker, 1000)
            containers += len(records)
            if records:
                totals = await self.stats(account, records)
                objects += sum(c for c, _ in totals.values())
                used += sum(u for _, u in totals.values())
                marker = records[-1].name
            if not more:
                return containers, objects, used
