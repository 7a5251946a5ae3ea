"""Where replicas live and how the proxy reaches them: NodeIter and the connection pool.

:class:`NodeIter` yields a partition's primary devices in replica order, then its
handoffs best first (Swift's ``NodeIter``): writers take the next device from the
iterator when a primary fails, readers walk it until one answers.  Devices whose
server failed in the last ``error_suppression`` seconds are tried last, so a dead
node costs one failed attempt per interval, not one per request.

:class:`NodePool` keeps ONE long-lived channel per storage server (created on first
use, never per request) and ONE multiplexed ``RunSession`` stream per server for
small requests (re-opened when it ends), plus the index stub on the same channel.
Reconnect backoff is shortened from gRPC's default (up to two minutes) to a few
seconds, so a restarted node is used again quickly.  A proxy running inside a
storage node gives the pool that node as ``local``
(:class:`storage.object.local.LocalNode`): its session and index calls are then
served in-process, and :class:`NodeIter` puts its primaries first, so reads come
from the local disk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cumulo.containerserver.v1 import containerserver_pb2_grpc
from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.object.client import Location, ObjectServerClient, ObjectServerSession
from storage.ring import Ring
from storage.ring.devices import Device

if TYPE_CHECKING:
    from storage.object.client import SessionCalls
    from storage.object.local import LocalNode

_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)


class NodePool:
    """Long-lived clients, sessions and index stubs, one per storage server address."""

    def __init__(
        self,
        credential: str,
        error_suppression: float = 5.0,
        tls: Tls = PLAINTEXT,
        local: LocalNode | None = None,
    ) -> None:
        self._credential = credential
        #: The storage node this proxy runs in, served in-process (None: a proxy process).
        self.local = local
        self._tls = tls
        self._clients: dict[str, ObjectServerClient] = {}
        self._sessions: dict[str, ObjectServerSession] = {}
        self._index: dict[str, Any] = {}
        self._failed_at: dict[str, float] = {}
        self.error_suppression = error_suppression

    def client(self, address: str) -> ObjectServerClient:
        client = self._clients.get(address)
        if client is None:
            client = ObjectServerClient(
                address, self._credential, options=_CHANNEL_OPTIONS, tls=self._tls
            )
            self._clients[address] = client
        return client

    def streams(self, address: str) -> Any:
        """What serves streamed writes and reads (``put_object``, ``get_object``) of
        ``address``: its client, or the local node's in-process streams."""
        if self.local is not None and address == self.local.address:
            return self.local.streams
        return self.client(address)

    def is_local(self, address: str) -> bool:
        return self.local is not None and address == self.local.address

    def session(self, address: str) -> SessionCalls:
        if self.local is not None and address == self.local.address:
            return self.local.session
        session = self._sessions.get(address)
        if session is None or session.ended:
            session = self.client(address).session()
            self._sessions[address] = session
        return session

    def index(self, address: str) -> Any:
        """The ``ContainerServerService`` stub of ``address`` (same channel as its objects;
        in-process for the local node)."""
        if self.local is not None and address == self.local.address:
            return self.local.index
        stub = self._index.get(address)
        if stub is None:
            stub = containerserver_pb2_grpc.ContainerServerServiceStub(self.client(address).channel)
            self._index[address] = stub
        return stub

    def credential_metadata(self, address: str) -> tuple[tuple[str, str], ...]:
        return self.client(address).metadata  # type: ignore[return-value]

    def failed(self, address: str) -> None:
        """Remember that ``address`` just failed (it is tried last for a while)."""
        self._failed_at[address] = time.monotonic()

    def succeeded(self, address: str) -> None:
        self._failed_at.pop(address, None)

    def suspect(self, address: str) -> bool:
        at = self._failed_at.get(address)
        return at is not None and time.monotonic() - at < self.error_suppression

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            session.abort()
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._sessions.clear()
        self._index.clear()


class NodeIter:
    """A partition's primaries (replica order), then handoffs (best first); see module doc.

    Primaries whose server is suspect move behind the healthy primaries but stay
    ahead of the handoffs: a brief outage must not send reads to handoffs that
    hold nothing.  A healthy primary on the pool's local node comes first.
    """

    def __init__(self, ring: Ring, part: int, pool: NodePool | None = None) -> None:
        self.ring = ring
        self.part = part
        primaries: list[Device] = list(ring.get_part_nodes(part))
        if pool is not None:
            # Stable: keeps replica order among healthy remote primaries.
            primaries.sort(key=lambda d: (pool.suspect(d.server), not pool.is_local(d.server)))
        self.primaries = primaries
        self._pool = pool
        self._handoffs: Iterator[Device] | None = None
        self._next = 0

    def _handoff_iter(self) -> Iterator[Device]:
        devices = self.ring.devices
        deferred: list[Device] = []
        for dev_id in self.ring.handoffs(self.part):
            device = devices[dev_id]
            if device is None:
                continue
            if self._pool is not None and self._pool.suspect(device.server):
                deferred.append(device)
                continue
            yield device
        yield from deferred

    def __iter__(self) -> NodeIter:
        return self

    def __next__(self) -> Device:
        if self._next < len(self.primaries):
            self._next += 1
            return self.primaries[self._next - 1]
        if self._handoffs is None:
            self._handoffs = self._handoff_iter()
        return next(self._handoffs)

    def take_primaries(self) -> list[Device]:
        """All primaries at once (writers start on every primary together)."""
        taken = self.primaries[self._next :]
        self._next = len(self.primaries)
        return taken


def location(device: Device, part: int, account: str, container: str, obj: str) -> Location:
    return Location(device.device, part, account, container, obj)
