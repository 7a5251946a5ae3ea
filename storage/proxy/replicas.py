"""Quorum writes and newest-wins reads of an object's replicas.

Writes (:meth:`ReplicaIO.put_small`, :meth:`ReplicaIO.put_stream`,
:meth:`ReplicaIO.delete`) go to every primary at once; a primary that fails with a
node or device fault (UNAVAILABLE - connection refused, DEVICE_FULL, DEVICE_ERROR -,
DEADLINE_EXCEEDED, an unknown device) is replaced by the next handoff from the same
:class:`~storage.proxy.placement.NodeIter`.  The call returns once a quorum
(``replicas // 2 + 1``: 2 of 3) has acknowledged - each acknowledgement means the
replica is fsynced and renamed into place; the remaining replicas finish in the
background.  A client fault (bad checksum, size, name) fails the whole write at once
and is never retried elsewhere.  A streamed write cannot replay bytes it has
already passed on, so a suspect primary is swapped for a handoff before the stream
starts and a replica that fails mid-stream is dropped (the write still needs a
quorum of the rest).

Reads: :meth:`ReplicaIO.head` asks every primary (handoffs when fewer than a quorum
answer) and the newest timestamp wins - a tombstone newer than any data means
NOT_FOUND.  :meth:`ReplicaIO.get` takes a fast path that is still quorum-safe: it
reads from the first primary while asking the second for its version; when the
second knows nothing newer, the first's bytes are served (with W=2 of N=3, two
replicas always include one that saw the last acknowledged write).  Otherwise it
falls back to a full :meth:`head` and reads from a replica holding the newest
version.  A streamed read whose node fails mid-way resumes at the same byte on another
replica of the same version.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from storage.container.index import Row
from storage.object.client import Location
from storage.object.server import SESSION_MAX_BYTES
from storage.object.store import xxh3_of
from storage.proxy.placement import NodeIter, NodePool
from storage.ring import Ring
from storage.ring.devices import Device

if TYPE_CHECKING:  # index.py imports this module
    from storage.proxy.index import ListingPlan

log = logging.getLogger("cumulo.storage.proxy")

T = TypeVar("T")

#: Largest object written or read over a multiplexed session (the object server's limit).
SMALL_OBJECT = SESSION_MAX_BYTES
#: Small objects at least this large have their MD5 computed in a thread.
_MD5_IN_THREAD = 256 << 10


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


_RETRY_REASONS = {"DEVICE_FULL", "DEVICE_ERROR", "UNKNOWN_DEVICE"}


def node_fault(exc: BaseException) -> bool:
    """True when ``exc`` says the node or device failed, not the request."""
    if isinstance(exc, errors.Unavailable | errors.DeadlineExceeded | errors.InternalError):
        return True
    if isinstance(exc, errors.Aborted | errors.DataCorruption):
        return True
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return isinstance(exc, errors.CumuloError) and exc.reason in _RETRY_REASONS


def _already_done(exc: BaseException) -> bool:
    # The same timestamp already stored on that replica: a retry that had succeeded.
    return isinstance(exc, errors.Conflict) and exc.reason == "SAME_TIMESTAMP"


@dataclass
class _Quorum:
    """Collects replica outcomes; done at a quorum of successes or when it cannot come.

    A quorum is ``needed`` successful replicas on at least ``servers_needed``
    distinct servers: two devices of one server fail together, so a write that
    landed on one server only (its primaries' servers down, handoffs on the
    survivor) is not acknowledged as durable on two nodes.
    """

    needed: int
    servers_needed: int
    total: int
    results: list[Any] = field(default_factory=list)
    servers: set[str] = field(default_factory=set)
    failures: list[BaseException] = field(default_factory=list)
    finished: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reached(self) -> bool:
        return len(self.results) >= self.needed and len(self.servers) >= self.servers_needed

    def success(self, result: Any, server: str) -> None:
        self.results.append(result)
        self.servers.add(server)
        self.finished += 1
        if self.reached or self.finished >= self.total:
            self.done.set()

    def failure(self, exc: BaseException) -> None:
        self.failures.append(exc)
        self.finished += 1
        if (
            not node_fault(exc)
            or self.total - len(self.failures) < self.needed
            or self.finished >= self.total
        ):
            self.done.set()

    def outcome(self, what: str) -> list[Any]:
        if self.reached:
            return self.results
        for exc in self.failures:
            if not node_fault(exc):
                raise exc
        if len(self.results) >= self.needed:
            raise errors.Unavailable(
                f"{what}: {len(self.results)} replicas succeeded but on only "
                f"{len(self.servers)} server(s); {self.servers_needed} are required",
                reason="QUORUM_NOT_REACHED",
                hint="too many storage servers are down; retry when they are back",
            )
        reasons = "; ".join(sorted({str(e) for e in self.failures})) or "no replica answered"
        raise errors.Unavailable(
            f"{what}: only {len(self.results)} of {self.needed} required replicas succeeded "
            f"({reasons})",
            reason="QUORUM_NOT_REACHED",
            hint="storage nodes are down or full; retry later",
        )


def _report(listing: ListingPlan, server: str, result: spb.ListingResult) -> None:
    """Tell ``listing`` what the write to ``server`` did with its listing update."""
    if result.applied:
        listing.applied(server, result.replaced)
    else:
        listing.missed(server)


class ReplicaIO:
    """Reads and writes the replicas of objects through ``pool``; see the module docstring."""

    def __init__(self, ring: Ring, pool: NodePool, node_timeout: float = 10.0) -> None:
        self.ring = ring
        self.pool = pool
        self.node_timeout = node_timeout
        self._background: set[asyncio.Task[Any]] = set()
        self._servers_of_version = (-1, 0)

    @property
    def quorum(self) -> int:
        return self.ring.replicas // 2 + 1

    @property
    def server_count(self) -> int:
        """Distinct servers in the ring (a one-server ring still takes writes)."""
        version = self.ring.version
        if self._servers_of_version[0] != version:
            servers = {d.server for d in self.ring.devices if d is not None}
            self._servers_of_version = (version, len(servers))
        return self._servers_of_version[1]

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)

        def forget(done: asyncio.Task[Any]) -> None:
            self._background.discard(done)
            if not done.cancelled():
                done.exception()  # retrieved: a straggler's failure is not an error

        task.add_done_callback(forget)

    async def drain(self) -> None:
        """Wait for background replica writes (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _attempt(self, device: Device, call: Callable[[Device], Awaitable[T]]) -> T:
        try:
            # asyncio.timeout, not wait_for: no extra task per replica request.
            async with asyncio.timeout(self.node_timeout):
                result = await call(device)
        except BaseException as exc:
            if node_fault(exc) and not isinstance(exc, asyncio.CancelledError):
                self.pool.failed(device.server)
            raise
        self.pool.succeeded(device.server)
        return result

    async def _write_all(
        self, nodes: NodeIter, call: Callable[[Device], Awaitable[T]], what: str
    ) -> list[T]:
        """Run ``call`` on every primary at once, a handoff replacing each that fails."""
        primaries = nodes.take_primaries()
        quorum = _Quorum(self.quorum, min(self.quorum, self.server_count), len(primaries))

        async def one(device: Device) -> None:
            while True:
                try:
                    quorum.success(await self._attempt(device, call), device.server)
                    return
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    if _already_done(exc):
                        quorum.success(None, device.server)
                        return
                    if node_fault(exc):
                        log.warning(
                            "%s on %s/%s failed: %s", what, device.server, device.device, exc
                        )
                        replacement = next(nodes, None)
                        if replacement is not None:
                            device = replacement
                            continue
                    quorum.failure(exc)
                    return

        for device in primaries:
            self._keep(asyncio.ensure_future(one(device)))
        await quorum.done.wait()
        return quorum.outcome(what)

    # -- writes -------------------------------------------------------------------------

    async def put_small(
        self,
        account: str,
        container: str,
        name: str,
        timestamp: str,
        data: bytes,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        compute_sha256: bool = False,
        expected_md5: str = "",
        listing: ListingPlan | None = None,
    ) -> spb.ObjectMetadata:
        """Store an object of at most :data:`SMALL_OBJECT` bytes over the sessions.

        The MD5 (the ETag) and the XXH3 are computed here once for all replicas; each
        replica checks the XXH3 and takes the MD5 as given (``trusted_md5``) instead
        of hashing the bytes again (1.4 ms/MiB per replica).  With ``listing``, each
        write to a node holding a replica of the object's index shard carries the
        listing row, which that node applies once it stored the object
        (storage/proxy/index.py, ListingPlan)."""
        part = self.ring.get_part(account, container, name)
        if len(data) >= _MD5_IN_THREAD:
            # hashlib releases the GIL: the event loop keeps serving meanwhile.
            md5 = await asyncio.to_thread(_md5_hex, data)
        else:
            md5 = _md5_hex(data)
        digest = xxh3_of(data) if data else None
        if listing is not None:
            listing.set_row(Row(name, timestamp, False, len(data), md5, content_type))

        async def call(device: Device) -> spb.ObjectMetadata:
            then_list = listing.attach(device.server) if listing is not None else None
            try:
                response = await self.pool.session(device.server).put_object_listed(
                    Location(device.device, part, account, container, name),
                    timestamp,
                    data,
                    content_type=content_type,
                    metadata=metadata,
                    compute_sha256=compute_sha256,
                    expected_md5=expected_md5,
                    trusted_md5=md5,
                    xxh3=digest,
                    then_list=then_list,
                )
            except BaseException:
                if listing is not None and then_list is not None:
                    listing.missed(device.server)
                raise
            if listing is not None and then_list is not None:
                _report(listing, device.server, response.listing)
            return response.object

        results = await self._write_all(NodeIter(self.ring, part, self.pool), call, "PUT")
        return next(r for r in results if r is not None) if any(results) else spb.ObjectMetadata()

    async def put_stream(
        self,
        account: str,
        container: str,
        name: str,
        timestamp: str,
        body: AsyncIterator[bytes],
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        compute_sha256: bool = False,
        expected_size: int | None = None,
        expected_md5: str = "",
        expected_sha256: str = "",
    ) -> spb.ObjectMetadata:
        """Stream ``body`` to every replica at once; commit only if it ends normally.

        If ``body`` raises (the client cancelled, a check failed) every replica stream
        is cancelled before its commit, so nothing is stored."""
        part = self.ring.get_part(account, container, name)
        nodes = NodeIter(self.ring, part, self.pool)
        targets: list[Device] = []
        for device in nodes.take_primaries():
            if self.pool.suspect(device.server):
                device = next(nodes, device)
            targets.append(device)
        feeds = [_Feed() for _ in targets]
        sha = hashlib.sha256() if expected_sha256 else None

        async def replica(device: Device, feed: _Feed) -> spb.ObjectMetadata:
            client = self.pool.streams(device.server)
            try:
                return await client.put_object(
                    Location(device.device, part, account, container, name),
                    timestamp,
                    feed.pieces(),
                    content_type=content_type,
                    metadata=metadata,
                    compute_sha256=compute_sha256 or bool(expected_sha256),
                    expected_size=expected_size,
                    expected_md5=expected_md5,
                )
            except BaseException as exc:
                if node_fault(exc) and not isinstance(exc, asyncio.CancelledError):
                    self.pool.failed(device.server)
                raise
            finally:
                feed.close()

        tasks = [asyncio.ensure_future(replica(d, f)) for d, f in zip(targets, feeds, strict=True)]
        try:
            total = 0
            async for piece in body:
                total += len(piece)
                if sha is not None:
                    sha.update(piece)
                live = [f for f in feeds if not f.closed]
                if len(live) < self.quorum:
                    failures = [t.exception() for t in tasks if t.done() and not t.cancelled()]
                    for exc in failures:
                        if exc is not None and not node_fault(exc):
                            raise exc
                    raise errors.Unavailable(
                        f"PUT: fewer than {self.quorum} replicas are still receiving "
                        f"({'; '.join(str(e) for e in failures if e)})",
                        reason="QUORUM_NOT_REACHED",
                        hint="storage nodes are down or full; retry later",
                    )
                for feed in live:
                    await feed.put(piece)
            if expected_size is not None and total != expected_size:
                raise errors.InvalidArgument(
                    f"the upload has {total} bytes, not the {expected_size} announced",
                    field="header.size",
                    reason="SIZE_MISMATCH",
                )
            if sha is not None and sha.hexdigest() != expected_sha256.lower():
                raise errors.InvalidArgument(
                    f"the object's SHA-256 is {sha.hexdigest()}, not the expected "
                    f"{expected_sha256}",
                    field="header.expected_sha256",
                    reason="CHECKSUM_MISMATCH",
                )
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for feed in feeds:
            await feed.finish()
        quorum = _Quorum(self.quorum, min(self.quorum, self.server_count), len(tasks))
        server_of = {task: device.server for task, device in zip(tasks, targets, strict=True)}

        def settle(task: asyncio.Task[spb.ObjectMetadata]) -> None:
            if task.cancelled():
                quorum.failure(errors.Aborted("the replica write was cancelled"))
                return
            exc = task.exception()
            if exc is not None:
                quorum.failure(exc)
            else:
                quorum.success(task.result(), server_of[task])

        for task in tasks:
            task.add_done_callback(settle)
            self._keep(task)
        await quorum.done.wait()
        return quorum.outcome("PUT")[0]  # type: ignore[no-any-return]

    async def delete(
        self,
        account: str,
        container: str,
        name: str,
        timestamp: str,
        listing: ListingPlan | None = None,
    ) -> None:
        """Store a tombstone on a quorum; with ``listing`` the writes carry its deleted
        row to the nodes that hold a replica of the index shard (as :meth:`put_small`)."""
        part = self.ring.get_part(account, container, name)
        if listing is not None:
            listing.set_row(Row(name, timestamp, True))

        async def call(device: Device) -> spb.DeleteObjectResponse:
            then_list = listing.attach(device.server) if listing is not None else None
            try:
                response = await self.pool.session(device.server).delete_object(
                    Location(device.device, part, account, container, name), timestamp, then_list
                )
            except BaseException:
                if listing is not None and then_list is not None:
                    listing.missed(device.server)
                raise
            if listing is not None and then_list is not None:
                _report(listing, device.server, response.listing)
            return response

        await self._write_all(NodeIter(self.ring, part, self.pool), call, "DELETE")

    def _streamer(
        self, loc: Location, start: int | None, end: int | None
    ) -> Callable[[Device], Awaitable[tuple[spb.GetObjectHeader, AsyncIterator[bytes]]]]:
        async def stream(device: Device) -> tuple[spb.GetObjectHeader, AsyncIterator[bytes]]:
            return await self.pool.streams(device.server).get_object(loc, start, end)

        return stream

    # -- reads --------------------------------------------------------------------------

    async def head(
        self, account: str, container: str, name: str
    ) -> tuple[spb.ObjectMetadata, list[Device]]:
        """The newest version among a quorum of replicas and the devices holding it."""
        part = self.ring.get_part(account, container, name)
        nodes = NodeIter(self.ring, part, self.pool)

        async def ask(device: Device) -> tuple[Device, spb.HeadObjectResponse | None]:
            try:
                response = await self._attempt(
                    device,
                    lambda d: self.pool.session(d.server).head_object(
                        Location(d.device, part, account, container, name), include_deleted=True
                    ),
                )
            except errors.NotFound as exc:
                if node_fault(exc):
                    raise
                return device, None
            return device, response

        answers: list[tuple[Device, spb.HeadObjectResponse | None]] = []
        pending = nodes.take_primaries()
        while pending:
            results = await asyncio.gather(*(ask(d) for d in pending), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    if not node_fault(result):
                        raise result
                else:
                    answers.append(result)
            missing = self.quorum - len(answers)
            pending = [d for d in (next(nodes, None) for _ in range(max(missing, 0))) if d]
        if len(answers) < self.quorum and not answers:
            raise errors.Unavailable(
                "no replica of the object answered", reason="QUORUM_NOT_REACHED"
            )
        newest: spb.HeadObjectResponse | None = None
        for _, response in answers:
            if response is not None and (
                newest is None or response.object.timestamp > newest.object.timestamp
            ):
                newest = response
        if newest is None or newest.deleted:
            raise errors.NotFound(
                f"object {name!r} not found in container {container!r}",
                reason="OBJECT_NOT_FOUND",
            )
        holders = [
            d for d, r in answers if r is not None and r.object.timestamp == newest.object.timestamp
        ]
        return newest.object, holders

    async def every_primary(
        self, account: str, container: str, name: str
    ) -> list[spb.HeadObjectResponse | None]:
        """What each primary holds of the object: its current version (tombstones
        included) or None for nothing.  Unlike :meth:`head` it needs an answer from
        EVERY primary, and raises Unavailable (reason ``PRIMARY_UNAVAILABLE``)
        otherwise: for callers that delete on the strength of the answer (the segment
        reaper), a version only the silent primary holds must not be missed."""
        part = self.ring.get_part(account, container, name)

        async def ask(device: Device) -> spb.HeadObjectResponse | None:
            try:
                return await self._attempt(
                    device,
                    lambda d: self.pool.session(d.server).head_object(
                        Location(d.device, part, account, container, name), include_deleted=True
                    ),
                )
            except errors.NotFound as exc:
                if node_fault(exc):
                    raise
                return None

        primaries = NodeIter(self.ring, part, self.pool).take_primaries()
        answers = await asyncio.gather(*(ask(d) for d in primaries), return_exceptions=True)
        for device, answer in zip(primaries, answers, strict=True):
            if isinstance(answer, BaseException):
                if not node_fault(answer):
                    raise answer
                raise errors.Unavailable(
                    f"primary {device.server}/{device.device} of {container}/{name} did not "
                    f"answer: {answer}",
                    reason="PRIMARY_UNAVAILABLE",
                )
        return [a for a in answers if not isinstance(a, BaseException)]

    async def get(
        self,
        account: str,
        container: str,
        name: str,
        start: int | None = None,
        end: int | None = None,
    ) -> tuple[spb.GetObjectHeader, AsyncIterator[bytes]]:
        """The newest version's header (served range) and its bytes; see module docstring."""
        part = self.ring.get_part(account, container, name)
        primaries = NodeIter(self.ring, part, self.pool).take_primaries()
        if len(primaries) >= 2:
            first, second = primaries[0], primaries[1]
            loc = Location(first.device, part, account, container, name)
            other = Location(second.device, part, account, container, name)
            # The check runs as a task while this one reads (one task, not gather's
            # two: this is the hot path of every small GET).
            check = asyncio.ensure_future(
                self._attempt(
                    second,
                    # Only the version: served from the replica's memory of recent
                    # writes, without reading the object (server.py, _head_version).
                    lambda d: self.pool.session(d.server).head_object(
                        other, include_deleted=True, timestamp_only=True
                    ),
                )
            )
            got: object
            seen: object
            try:
                try:
                    got = await self._attempt(
                        first, lambda d: self.pool.session(d.server).read_small(loc, start, end)
                    )
                except Exception as exc:
                    got = exc
                try:
                    seen = await check
                except Exception as exc:
                    seen = exc
            finally:
                check.cancel()  # only if this task was cancelled: it is done otherwise
            seen_stamp = ""
            if isinstance(seen, spb.HeadObjectResponse):
                seen_stamp = seen.object.timestamp
            elif isinstance(seen, BaseException) and not isinstance(seen, errors.NotFound):
                seen_stamp = "?"  # unknown: the full path decides
            if isinstance(got, tuple):  # (header, bytes)
                header, data = got
                if seen_stamp != "?" and seen_stamp <= header.object.timestamp:
                    return header, _one(data)
            elif isinstance(got, errors.OutOfRange):
                if seen_stamp != "?" and not seen_stamp:
                    raise got
            elif isinstance(got, errors.Conflict) and got.reason == "USE_GET_OBJECT":
                try:
                    header, body = await self._attempt(first, self._streamer(loc, start, end))
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    if not node_fault(exc):
                        raise
                else:
                    if seen_stamp != "?" and seen_stamp <= header.object.timestamp:
                        return header, self._resuming(account, container, name, first, header, body)
                    await body.aclose()  # type: ignore[attr-defined]
        newest, holders = await self.head(account, container, name)
        failure: BaseException | None = None
        for device in holders:
            loc = Location(device.device, part, account, container, name)
            try:
                header, body = await self._attempt(device, self._streamer(loc, start, end))
            except errors.OutOfRange:
                raise
            except BaseException as exc:
                if not node_fault(exc):
                    raise
                failure = exc
                continue
            if header.object.timestamp == newest.timestamp:
                return header, self._resuming(account, container, name, device, header, body)
            await body.aclose()  # type: ignore[attr-defined]
        raise failure or errors.Unavailable("no replica could serve the object")

    async def _resuming(
        self,
        account: str,
        container: str,
        name: str,
        device: Device,
        header: spb.GetObjectHeader,
        body: AsyncIterator[bytes],
    ) -> AsyncIterator[bytes]:
        """``body``; if its node fails mid-stream, the rest from another replica of the same
        version (the client sees one uninterrupted stream, as with Swift's proxy)."""
        part = self.ring.get_part(account, container, name)
        offset, end, version = header.start, header.end, header.object.timestamp
        tried = {device.id}
        current: AsyncIterator[bytes] | None = body
        try:
            while True:
                assert current is not None
                try:
                    async for piece in current:
                        offset += len(piece)
                        yield piece
                    return
                except Exception as exc:
                    if not node_fault(exc) or offset >= end:
                        raise
                    self.pool.failed(device.server)
                    failure: BaseException = exc
                await current.aclose()  # type: ignore[attr-defined]
                current = None
                _, holders = await self.head(account, container, name)
                for candidate in holders:
                    if candidate.id in tried:
                        continue
                    tried.add(candidate.id)
                    loc = Location(candidate.device, part, account, container, name)
                    try:
                        resumed, rest = await self._attempt(
                            candidate, self._streamer(loc, offset, end)
                        )
                    except Exception as exc:
                        if not node_fault(exc):
                            raise
                        continue
                    if resumed.object.timestamp != version:
                        await rest.aclose()  # type: ignore[attr-defined]
                        continue
                    log.warning(
                        "GET %s/%s/%s resumed at byte %d on %s after: %s",
                        account,
                        container,
                        name,
                        offset,
                        candidate.server,
                        failure,
                    )
                    device, current = candidate, rest
                    break
                else:
                    raise failure
        finally:
            if current is not None:
                await current.aclose()  # type: ignore[attr-defined]


async def _one(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


class _Feed:
    """A bounded queue of pieces for one replica's upload stream."""

    def __init__(self, depth: int = 4) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(depth)
        self.closed = False

    async def put(self, piece: bytes) -> None:
        if not self.closed:
            await self.queue.put(piece)

    async def finish(self) -> None:
        if not self.closed:
            await self.queue.put(None)

    def close(self) -> None:
        # The replica's stream ended (failed): drop what is queued so the feeder never blocks.
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()

    async def pieces(self) -> AsyncIterator[bytes]:
        while True:
            piece = await self.queue.get()
            if piece is None:
                return
            yield piece
