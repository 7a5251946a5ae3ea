"""In-process calls to this storage node's own servicers, for a proxy inside the node.

A storage node can serve the public object API itself (``storage.node_proxy_listen``;
``cumulo up`` does): its proxy then reaches the replicas and index shards on its
OWN devices by calling the node's servicers directly instead of over gRPC to
itself, which saves a serialization, a socket round trip and a stream message on
both sides for every replica that is local.  With three nodes and three replicas
every node holds a replica of every partition, so a GET reads its bytes from the
local disk and a PUT sends two of its three copies over the network.

:class:`LocalNode` is what :class:`storage.proxy.placement.NodePool` takes: the
node's address in the ring (the pool answers calls to that address with these
objects), a :class:`LocalSession` with the same methods as
:class:`~storage.object.client.ObjectServerSession`, :class:`LocalStreams` for
streamed writes and reads (``put_object``, ``get_object`` as on the client), and a
:class:`LocalIndexStub` with the same calls as the ``ContainerServerService`` stub.
Errors keep their remote shapes: a session request or a stream raises its
``cumulo.errors`` failure, an index call raises
:class:`~cumulo.rpc.status.LocalCallError` (a ``grpc.RpcError``), so the proxy's
error handling, failover and quorum logic are the same code for local and remote
replicas.  Requests go through the same validation as remote ones
(the servicers' own methods); only the transport is skipped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as pb
from cumulo.rpc.status import LocalCallError
from storage.container.server import ContainerServerServicer
from storage.object.client import Body, Location, SessionCalls, get_request, put_requests
from storage.object.server import ObjectServerServicer

log = logging.getLogger("cumulo.storage.object.local")

T = TypeVar("T")


def _internal(what: str, exc: BaseException) -> errors.InternalError:
    log.error("in-process %s failed", what, exc_info=exc)
    return errors.InternalError(
        f"the node's own {what} failed: {exc!r}",
        hint="this is a server fault; the operator's log has details",
    )


class LocalSession(SessionCalls):
    """Small-object requests served by this node's :class:`ObjectServerServicer`."""

    def __init__(self, servicer: ObjectServerServicer) -> None:
        self._servicer = servicer
        #: Requests served (tests check that the local path was taken).
        self.requests = 0

    @property
    def ended(self) -> bool:
        """Never: there is no stream to lose (the pool's contract for sessions)."""
        return False

    async def _request(
        self, request: pb.SessionRequest | None = None, *, size: int = 0, **operation: Any
    ) -> pb.SessionResponse:
        if request is None:
            request = pb.SessionRequest(**operation)
        return await self._call("object request", self._servicer.session_operation(request))

    async def _send_put(self, request: pb.SessionRequest, data: bytes) -> pb.PutObjectResponse:
        """The servicer stores ``data`` as given: the bytes are not copied into a
        message and out of it again on their way to the local disk."""
        return await self._call("object write", self._servicer.put_whole(request.put, data))

    async def read_small(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> tuple[pb.GetObjectHeader, bytes]:
        """The servicer's own answer, header and bytes as read: no message is built
        (a 1 MiB object's bytes are not copied on their way to the proxy)."""
        request = get_request(location, start, end)
        return await self._call("object read", self._servicer.read_small(request))

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        self.requests += 1
        try:
            return await call
        except errors.CumuloError:
            raise
        except Exception as exc:
            raise _internal(what, exc) from None

    def abort(self) -> None:
        """Nothing to end (the pool calls it on every session at shutdown)."""


class LocalStreams:
    """Streamed writes and reads (``PutObject``, ``GetObject``) served by this node's
    servicer, for objects past what a session carries: the same ``put_object`` and
    ``get_object`` as :class:`~storage.object.client.ObjectServerClient`, without a
    gRPC stream to itself (whose two ends would both buffer in this process)."""

    def __init__(self, servicer: ObjectServerServicer) -> None:
        self._servicer = servicer
        #: Streams opened (tests check that the local path was taken).
        self.reads = 0
        self.writes = 0

    async def put_object(
        self, location: Location, timestamp: str, body: Body, **options: Any
    ) -> pb.ObjectMetadata:
        """Store ``body`` on the local device; ``options`` as for the client's
        ``put_object`` (content type, metadata, expected size and MD5, ...)."""
        self.writes += 1
        requests = put_requests(location, timestamp, body, **options)
        try:
            response = await self._servicer.PutObject(requests, None)  # type: ignore[arg-type]
        except errors.CumuloError:
            raise
        except Exception as exc:
            raise _internal("object write", exc) from None
        return response.object

    async def get_object(
        self, location: Location, start: int | None = None, end: int | None = None
    ) -> tuple[pb.GetObjectHeader, AsyncIterator[bytes]]:
        """The header and an iterator over the bytes (verified while read), or the
        read's ``cumulo.errors`` failure."""
        request = get_request(location, start, end)
        self.reads += 1
        # The servicer's method is an async generator (typed as an iterator).
        stream = cast(
            AsyncGenerator[pb.GetObjectResponse, None],
            self._servicer.GetObject(request, None),  # type: ignore[arg-type]
        )
        try:
            first = await anext(stream)
        except errors.CumuloError:
            await stream.aclose()
            raise
        except Exception as exc:
            await stream.aclose()
            raise _internal("object read", exc) from None
        if not first.HasField("header"):
            await stream.aclose()
            raise errors.InternalError("the node's own GetObject sent no header")

        async def body() -> AsyncIterator[bytes]:
            try:
                if first.HasField("chunk"):
                    yield first.chunk.data
                async for message in stream:
                    yield message.chunk.data
            except errors.CumuloError:
                raise
            except Exception as exc:
                raise _internal("object read", exc) from None
            finally:
                await stream.aclose()

        return first.header, body()


class LocalIndexStub:
    """``ContainerServerService`` calls answered by this node's index servicer.

    ``stub.UpdateIndex(request, metadata=..., timeout=...)`` and the other methods
    behave as the generated stub's do, failures included (:class:`LocalCallError`)."""

    def __init__(self, servicer: ContainerServerServicer) -> None:
        self._servicer = servicer
        #: Calls served, in all and by method (tests check that the local path was taken).
        self.calls = 0
        self.methods: collections.Counter[str] = collections.Counter()

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        handler = getattr(self._servicer, method)

        async def call(request: Any, metadata: object = None, timeout: float | None = None) -> Any:
            self.calls += 1
            self.methods[method] += 1
            try:
                async with asyncio.timeout(timeout):
                    return await handler(request, None)
            except errors.CumuloError as exc:
                raise LocalCallError(exc) from None
            except TimeoutError:
                raise LocalCallError(
                    errors.DeadlineExceeded(f"{method} took longer than {timeout} s")
                ) from None
            except Exception as exc:
                raise LocalCallError(_internal(f"index call {method}", exc)) from None

        return call


@dataclass
class LocalNode:
    """This node as its in-process proxy sees it."""

    #: The node's ``HOST:PORT`` as the ring names it (its object server's address).
    address: str
    session: LocalSession
    index: LocalIndexStub
    streams: LocalStreams

    @classmethod
    def of(
        cls, address: str, objects: ObjectServerServicer, index: ContainerServerServicer
    ) -> LocalNode:
        return cls(address, LocalSession(objects), LocalIndexStub(index), LocalStreams(objects))
