"""The proxy's client of the index shards on the storage nodes (listings and statistics).

Placement: shard ``s`` of container ``c`` in account ``a`` lives at the ring
partition of ``(a, c, str(s))``; the account's container list at the partition of
``(a,)``.  An object ``o`` belongs to shard ``xxh3(o) % shards``.

* :meth:`IndexClient.update` writes rows to every primary of one shard at once and
  returns after a quorum applied them durably; a failing primary is replaced by the
  next handoff (as for objects).  Concurrent updates to one node travel in one
  ``UpdateIndex`` call and rows for the same shard are applied in one SQLite
  transaction there (group commit): a burst of small PUTs costs a few fsyncs, not
  one each.
* Small PUTs and DELETEs carry their listing update to the object servers
  (:class:`ListingPlan`):
  a node that holds one of the shard's replicas applies the row right after it stored
  the object (``then_list``, in-process, in the device's group commit), and
  :meth:`IndexClient.update` then sends ``UpdateIndex`` only to the replicas no object
  write confirmed.  With as many nodes as replicas (every node holds a replica of
  every partition) a small PUT makes no ``UpdateIndex`` call at all; in a bigger
  cluster the replicas that happen to share a node with the object's replicas are
  covered.  The order guarantee holds: a node lists an object only once it stored it.
* :meth:`IndexClient.list` asks every primary of every shard, ONE call per node
  covering all the shards it holds (the node merges them), then merges the nodes'
  answers with :func:`~storage.container.merge.merge_listings` (newest row per name
  wins).  Shards with fewer than a quorum of answers are also read from handoffs.
  Every acknowledged update is on a quorum of one shard's replicas, and at least a
  quorum of them is read, so every acknowledged write and delete is reflected.
* :meth:`IndexClient.stats` sums the shards' statistics, taking for each shard the
  replica that has seen the newest row.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.objectserver.v1 import objectserver_pb2 as ospb
from cumulo.rpc.status import ERROR_OF, error_from_rpc
from storage.container.index import Row
from storage.container.merge import group_frontier, merge_listings
from storage.container.server import row_from, row_message
from storage.object.store import xxh3_of
from storage.proxy.placement import NodeIter, NodePool
from storage.proxy.replicas import node_fault
from storage.ring import Ring
from storage.ring.devices import Device

log = logging.getLogger("cumulo.storage.proxy.index")

_CODES = {code.value[0]: code for code in grpc.StatusCode}
Rows = list[Row]  # (a name: IndexClient.list shadows the builtin inside the class)
#: Updates per UpdateIndex call at most.
_MAX_BATCH = 512


def shard_of(name: str, shards: int) -> int:
    """The index shard of object ``name`` in a container of ``shards`` shards."""
    return xxh3_of(name.encode("utf-8")) % shards if shards > 1 else 0


@dataclass(frozen=True)
class ShardId:
    account: str
    container: str
    shard: int


class _Batcher:
    """Coalesces concurrent UpdateIndex calls to one node (see the module docstring)."""

    def __init__(self, pool: NodePool, address: str, timeout: float) -> None:
        self.pool = pool
        self.address = address
        self.timeout = timeout
        self.pending: list[tuple[ipb.ShardUpdate, asyncio.Future[list[Row]]]] = []
        self.running = False
        self.task: asyncio.Future[None] | None = None

    async def submit(self, update: ipb.ShardUpdate) -> list[Row]:
        """Apply ``update`` durably on this node; the live rows it replaced there (of
        every name in the merged update of the same shard, callers filter)."""
        future: asyncio.Future[list[Row]] = asyncio.get_running_loop().create_future()
        self.pending.append((update, future))
        if not self.running:
            self.running = True
            self.task = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:_MAX_BATCH], self.pending[_MAX_BATCH:]
                await self._send(batch)
        finally:
            self.running = False

    async def _send(self, batch: list[tuple[ipb.ShardUpdate, asyncio.Future[list[Row]]]]) -> None:
        merged: dict[tuple[Any, ...], tuple[ipb.ShardUpdate, list[asyncio.Future[list[Row]]]]] = {}
        for update, future in batch:
            ref = update.shard
            key = (ref.device, ref.partition, ref.account, ref.container, ref.shard)
            if key in merged:
                merged[key][0].rows.extend(update.rows)
                merged[key][1].append(future)
            else:
                merged[key] = (update, [future])
        groups = list(merged.values())
        request = ipb.UpdateIndexRequest(updates=[u for u, _ in groups])
        try:
            response = await self.pool.index(self.address).UpdateIndex(
                request,
                metadata=self.pool.credential_metadata(self.address),
                timeout=self.timeout,
            )
        except grpc.RpcError as exc:
            error = error_from_rpc(exc)
            for _, futures in groups:
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for (_, futures), result in zip(groups, response.results, strict=False):
            for future in futures:
                if future.done():
                    continue
                if result.code == 0:
                    future.set_result([row_from(r) for r in result.replaced])
                else:
                    code = _CODES.get(result.code, grpc.StatusCode.UNKNOWN)
                    future.set_exception(ERROR_OF.get(code, errors.InternalError)(result.message))


class ListingPlan:
    """The listing update of one small PUT, handed to its object writes (see the module
    docstring).  :meth:`IndexClient.plan` makes it; the object writes call
    :meth:`attach`, then :meth:`applied` or :meth:`missed`; :meth:`IndexClient.update`
    with ``plan=`` finishes the job."""

    def __init__(
        self, client: IndexClient, shard: ShardId, part: int, primaries: list[Device]
    ) -> None:
        self._client = client
        self.shard = shard
        self.part = part
        self.primaries = primaries
        #: The row, set by the writer before the first attach (it knows the ETag).
        self.message = ipb.IndexRow()
        #: Primaries by server that no object write has been given yet.
        self._open = {device.server: device for device in primaries}
        #: Servers whose object write carries the update and has not answered yet.
        self.pending: set[str] = set()
        #: Servers that applied it (durably), with the live rows it replaced there.
        self.done: dict[str, list[Row]] = {}
        #: Servers whose object write failed or did not apply it.
        self.failed: set[str] = set()
        self._settled = False

    def set_row(self, row: Row) -> None:
        self.message = row_message(row)

    def attach(self, server: str) -> ospb.ListingUpdate | None:
        """The update for the object write to ``server``, if that server holds a
        primary replica of the shard not already covered; None otherwise."""
        device = self._open.pop(server, None)
        if device is None:
            return None
        self.pending.add(server)
        return ospb.ListingUpdate(
            shard=self._client._ref(device, self.part, self.shard), row=self.message
        )

    def applied(self, server: str, replaced: Sequence[ipb.IndexRow]) -> None:
        if server in self.pending:
            self.pending.discard(server)
            self.done[server] = [row_from(r) for r in replaced]

    def missed(self, server: str) -> None:
        """The object write to ``server`` failed or did not apply the update: after
        :meth:`IndexClient.update` returned, the proxy updates that replica itself."""
        if server not in self.pending:
            return
        self.pending.discard(server)
        self.failed.add(server)
        if self._settled:
            self._client._update_later(self, [d for d in self.primaries if d.server == server])

    def take_over(self) -> None:
        """The caller updates every replica not done itself, now: forget the rest (a
        write still pending may apply it too; a second apply changes nothing)."""
        self._settled = True
        self._open.clear()
        self.pending.clear()
        self.failed.clear()

    def settle(self) -> None:
        """The PUT is acknowledged: replicas never given to an object write, and those
        whose write failed, are updated in the background; later misses too."""
        self._settled = True
        later = [d for d in self.primaries if d.server in self._open or d.server in self.failed]
        self._open.clear()
        if later:
            self._client._update_later(self, later)


class IndexClient:
    """Index shards of the cluster through ``pool``; see the module docstring."""

    def __init__(self, ring: Ring, pool: NodePool, node_timeout: float = 10.0) -> None:
        self.ring = ring
        self.pool = pool
        self.node_timeout = node_timeout
        self._batchers: dict[str, _Batcher] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def quorum(self) -> int:
        return self.ring.replicas // 2 + 1

    def part_of(self, shard: ShardId) -> int:
        if not shard.container:
            return self.ring.get_part(shard.account)
        return self.ring.get_part(shard.account, shard.container, str(shard.shard))

    def _ref(self, device: Device, part: int, shard: ShardId) -> ipb.ShardRef:
        return ipb.ShardRef(
            device=device.device,
            partition=part,
            account=shard.account,
            container=shard.container,
            shard=shard.shard,
        )

    def _batcher(self, address: str) -> _Batcher:
        batcher = self._batchers.get(address)
        if batcher is None:
            batcher = self._batchers[address] = _Batcher(self.pool, address, self.node_timeout)
        return batcher

    async def drain(self) -> None:
        """Wait for background updates (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def plan(self, shard: ShardId) -> ListingPlan:
        """A :class:`ListingPlan` for a small PUT's object writes to carry."""
        part = self.part_of(shard)
        primaries = NodeIter(self.ring, part, self.pool).take_primaries()
        return ListingPlan(self, shard, part, primaries)

    def _update_later(self, plan: ListingPlan, devices: list[Device]) -> None:
        """Update these replicas of ``plan`` in the background (after the PUT's answer)."""
        nodes = NodeIter(self.ring, plan.part, self.pool)
        nodes.take_primaries()
        messages = [plan.message]

        async def one(device: Device) -> None:
            while True:
                ref = self._ref(device, plan.part, plan.shard)
                update = ipb.ShardUpdate(shard=ref, rows=messages)
                try:
                    await self._batcher(device.server).submit(update)
                except Exception as exc:
                    if node_fault(exc):
                        self.pool.failed(device.server)
                        replacement = next(nodes, None)
                        if replacement is not None:
                            device = replacement
                            continue
                    log.warning(
                        "listing update of %s on %s failed: %s", plan.shard, device.server, exc
                    )
                    return
                self.pool.succeeded(device.server)
                return

        for device in devices:
            task = asyncio.ensure_future(one(device))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def update(
        self, shard: ShardId, rows: Sequence[Row], plan: ListingPlan | None = None
    ) -> list[Row]:
        """Apply ``rows`` to a quorum of the shard's replicas (durably) before returning
        the live rows of these names they replaced on the replicas that answered
        (each stored version once).

        With ``plan`` (the one the PUT's object writes carried, ``rows`` its row): the
        replicas those writes applied count at once; if they make a quorum nothing is
        sent now (the others follow in the background, :meth:`ListingPlan.settle`),
        else every other primary is updated here as without a plan."""
        part = self.part_of(shard)
        nodes = NodeIter(self.ring, part, self.pool)
        messages = [row_message(r) for r in rows]
        primaries = nodes.take_primaries()
        done: list[Device] = []
        failures: list[BaseException] = []
        enough = asyncio.Event()
        names = {r.name for r in rows}
        replaced: dict[tuple[str, str], Row] = {}
        if plan is not None:
            for old in (row for rows_there in plan.done.values() for row in rows_there):
                if old.name in names:
                    replaced[(old.name, old.timestamp)] = old
            if len(plan.done) >= self.quorum:
                plan.settle()
                return list(replaced.values())
            # Not enough: every primary the writes did not cover is updated here, as
            # without a plan (those still pending too: a second apply changes nothing).
            done = [d for d in primaries if d.server in plan.done]
            primaries = [d for d in primaries if d.server not in plan.done]
            plan.take_over()

        async def one(device: Device) -> None:
            try:
                while True:
                    update = ipb.ShardUpdate(shard=self._ref(device, part, shard), rows=messages)
                    try:
                        for old in await self._batcher(device.server).submit(update):
                            if old.name in names:
                                replaced[(old.name, old.timestamp)] = old
                    except Exception as exc:
                        if node_fault(exc):
                            self.pool.failed(device.server)
                            replacement = next(nodes, None)
                            if replacement is not None:
                                device = replacement
                                continue
                        failures.append(exc)
                        return
                    self.pool.succeeded(device.server)
                    done.append(device)
                    return
            finally:
                finished = len(done) + len(failures)
                hopeless = any(not node_fault(e) for e in failures) or (
                    len(primaries) + already - len(failures) < self.quorum
                )
                if len(done) >= self.quorum or hopeless or finished == len(primaries) + already:
                    enough.set()

        already = len(done)
        for device in primaries:
            task = asyncio.ensure_future(one(device))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if not primaries:
            enough.set()
        await enough.wait()
        if len(done) >= self.quorum:
            return list(replaced.values())
        for exc in failures:
            if not node_fault(exc):
                raise exc
        raise errors.Unavailable(
            f"the listing index was updated on only {len(done)} of {self.quorum} required "
            f"replicas ({'; '.join(str(e) for e in failures)})",
            reason="QUORUM_NOT_REACHED",
            hint="storage nodes are down; retry the request",
        )

    async def _ask_nodes(
        self,
        wanted: dict[ShardId, list[tuple[Device, int]]],
        call: Any,
    ) -> tuple[dict[str, Any], dict[ShardId, int]]:
        """One call per node for the given shard replicas; answers and replicas read per shard."""
        by_node: dict[str, list[tuple[ShardId, ipb.ShardRef]]] = defaultdict(list)
        for shard, placements in wanted.items():
            for device, part in placements:
                by_node[device.server].append((shard, self._ref(device, part, shard)))

        async def ask(address: str, refs: list[ipb.ShardRef]) -> Any:
            try:
                result = await call(address, refs)
            except grpc.RpcError as exc:
                self.pool.failed(address)
                raise error_from_rpc(exc) from None
            self.pool.succeeded(address)
            return result

        addresses = list(by_node)
        results = await asyncio.gather(
            *(ask(a, [r for _, r in by_node[a]]) for a in addresses), return_exceptions=True
        )
        answers: dict[str, Any] = {}
        counts: dict[ShardId, int] = defaultdict(int)
        for address, result in zip(addresses, results, strict=True):
            if isinstance(result, BaseException):
                if not node_fault(result):
                    raise result
                log.warning("index read from %s failed: %s", address, result)
                continue
            answers[address] = result
            for shard, _ in by_node[address]:
                counts[shard] += 1
        return answers, counts

    async def _read(self, shards: Sequence[ShardId], call: Any) -> list[Any]:
        """Read a quorum of every shard's replicas: primaries, then handoffs where short."""
        iters = {s: NodeIter(self.ring, self.part_of(s), self.pool) for s in shards}
        wanted = {s: [(d, it.part) for d in it.take_primaries()] for s, it in iters.items()}
        collected: list[Any] = []
        read: dict[ShardId, int] = defaultdict(int)
        while wanted:
            answers, counts = await self._ask_nodes(wanted, call)
            collected.extend(answers.values())
            for shard, count in counts.items():
                read[shard] += count
            short = {s: self.quorum - read[s] for s in wanted if read[s] < self.quorum}
            wanted = {}
            for shard, missing in short.items():
                extra = [next(iters[shard], None) for _ in range(missing)]
                places = [(d, iters[shard].part) for d in extra if d is not None]
                if places:
                    wanted[shard] = places
        for shard in shards:
            if read[shard] == 0:
                raise errors.Unavailable(
                    "no replica of a listing shard answered",
                    reason="QUORUM_NOT_REACHED",
                    hint="storage nodes are down; retry later",
                )
        return collected

    async def list(
        self, shards: Sequence[ShardId], prefix: str, marker: str, limit: int
    ) -> tuple[list[Row], bool]:
        """Merged rows (tombstones included) of ``shards`` after ``marker``; see module doc."""
        rows, truncated, _ = await self.list_grouped(shards, prefix, marker, limit, "")
        return rows, truncated

    async def list_grouped(
        self, shards: Sequence[ShardId], prefix: str, marker: str, limit: int, delimiter: str
    ) -> tuple[Rows, bool, dict[str, str]]:
        """As :meth:`list`; with a delimiter the nodes return each group only up to their
        first live row in it, and the third value is each group's *frontier*: the smallest
        such row over the nodes that stopped early.  Up to its frontier a group's merged
        rows are exact; beyond it they are not (see storage/proxy/listing.py)."""

        async def call(address: str, refs: list[ipb.ShardRef]) -> ipb.ListIndexResponse:
            request = ipb.ListIndexRequest(
                shards=refs, prefix=prefix, marker=marker, limit=limit, delimiter=delimiter
            )
            return await self.pool.index(address).ListIndex(
                request, metadata=self.pool.credential_metadata(address), timeout=self.node_timeout
            )

        collected = await self._read(shards, call)
        lists = [([row_from(r) for r in answer.rows], answer.truncated) for answer in collected]
        frontier = group_frontier(lists, prefix, delimiter) if delimiter else {}
        merged, truncated = merge_listings(lists, limit)
        return merged, truncated, frontier

    async def stats(self, shards: Sequence[ShardId]) -> dict[ShardId, tuple[int, int]]:
        """Per shard: (object count, bytes) from its freshest replica that answered."""

        async def call(address: str, refs: list[ipb.ShardRef]) -> tuple[list[ipb.ShardRef], Any]:
            response = await self.pool.index(address).GetIndexStats(
                ipb.GetIndexStatsRequest(shards=refs),
                metadata=self.pool.credential_metadata(address),
                timeout=self.node_timeout,
            )
            return refs, response

        collected = await self._read(shards, call)
        best: dict[ShardId, ipb.ShardStats] = {}
        for refs, response in collected:
            for ref, stats in zip(refs, response.stats, strict=False):
                shard = ShardId(ref.account, ref.container, ref.shard)
                current = best.get(shard)
                if current is None or stats.max_timestamp > current.max_timestamp:
                    best[shard] = stats
        return {
            s: (best[s].object_count, best[s].bytes_used) if s in best else (0, 0) for s in shards
        }
