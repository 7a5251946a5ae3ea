"""The Cumulo backend of the load runner: ``cumulo.object.v1.ObjectService`` over grpc.aio.

It calls the generated stubs directly on a few ``grpc.aio`` channels (round robin),
with ``authorization: Bearer <token>`` on every call, rather than through the
synchronous SDK client: a load generator must not spend a thread per request, and
the figures should show the proxy, not a client wrapper.

Big objects go up as a stream of ``chunk_size`` messages (1 MiB: the size the proxy
handles fastest); an object that fits in one message is one message carrying header
and data.  The final message has ``last`` set (and the header the size), so the proxy
can tell a finished upload from a cancelled one.  Objects of at most 1 MiB (and GETs
of objects this backend stored with at most 1 MiB: the size is known from the
workload's PUT) take the cheaper path ``api`` names:

* ``"session"`` (the default): pipelined over ``sessions`` ``ObjectSession`` streams
  (:class:`~cumulo.services.object_session.AsyncObjectSession`, the SDK's), each
  operation on the next stream in turn; a stream's messages carry every operation
  that was ready, so gRPC's cost per call is paid per batch;
* ``"unary"``: one ``PutSmallObject`` / ``GetSmallObject`` call each (in grpc.aio a
  unary call costs both ends markedly less CPU than a stream);
* ``"stream"``: the ``PutObject`` / ``GetObject`` streams, as for big objects.

HEAD and DELETE are unary calls except with ``"session"``.  Failures are raised as
:mod:`cumulo.errors` classes (via the SDK's status table), so the runner counts them
by their stable reason, e.g. ``OBJECT_NOT_FOUND``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import grpc

from cumulo.loadtest.backend import DEFAULT_SESSIONS, ListPage
from cumulo.object.v1 import object_pb2, object_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel
from cumulo.services import object_wire as wire
from cumulo.services.object_session import AsyncObjectSession

MIB = 1024 * 1024
#: Above the 4 MiB the API allows per message, with room for the header.
MAX_MESSAGE_BYTES = 8 * MIB
#: The most the unary PutSmallObject / GetSmallObject carry.
SMALL_OBJECT = MIB
_SERVICE = "/cumulo.object.v1.ObjectService"
#: How objects of at most 1 MiB travel (see the module docstring).
APIS = ("session", "unary", "stream")


class CumuloObjectBackend:
    """An ``ObjectBackend`` for a Cumulo object proxy at ``endpoint`` (``HOST:PORT``).

    Channels are opened on first use, inside the running event loop, and closed by
    :meth:`close`.  ``project_id`` (cloud admins only) loads another project's account;
    ``tls`` secures the channels (plaintext by default).
    """

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        channels: int = 2,
        chunk_size: int = MIB,
        project_id: str = "",
        tls: Tls = PLAINTEXT,
        api: str = "session",
        sessions: int = DEFAULT_SESSIONS,
    ) -> None:
        if channels < 1:
            raise ValueError("channels must be at least 1")
        if api not in APIS:
            raise ValueError(f"api must be one of {APIS}, not {api!r}")
        if sessions < 1:
            raise ValueError("sessions must be at least 1")
        self.endpoint = endpoint
        self.tls = tls
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
        self.channel_count = channels
        self.chunk_size = chunk_size
        self.project_id = project_id
        self.api = api
        self.session_count = sessions
        self.token = token
        #: Objects stored with at most SMALL_OBJECT bytes (read with GetSmallObject).
        self._small: set[tuple[str, str]] = set()
        self._channels: list[grpc.aio.Channel] = []
        self._stubs: list[object_pb2_grpc.ObjectServiceStub] = []
        #: Per channel: PutSmallObject taking its request as wire bytes (wire.py).
        self._put_small_calls: list[grpc.aio.UnaryUnaryMultiCallable] = []
        self._next: Iterator[int] = itertools.cycle(range(channels))
        self._sessions: list[AsyncObjectSession] = []
        self._next_session: Iterator[int] = itertools.cycle(range(sessions))

    def _pick(self) -> int:
        if not self._stubs:
            self._open()
        return next(self._next)

    def _stub(self) -> object_pb2_grpc.ObjectServiceStub:
        return self._stubs[self._pick()]

    def _session(self) -> AsyncObjectSession | None:
        """The next session in turn, or None unless ``api`` is "session"."""
        if self.api != "session":
            return None
        if not self._sessions:
            self._pick()  # opens the channels
            # All on the first channel, opened one after another: its round robin then
            # spreads them evenly over the endpoint's servers (sessions alternating
            # between two channels put two of three on the first server).
            self._sessions = [
                AsyncObjectSession(self._channels[0], self.token, project_id=self.project_id)
                for _ in range(self.session_count)
            ]
        return self._sessions[next(self._next_session)]

    def _open(self) -> None:
        if not self._stubs:
            options = [
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # Separate channels must not share one TCP connection (subchannel pooling).
                ("grpc.use_local_subchannel_pool", 1),
            ]
            for index in range(self.channel_count):
                channel = aio_channel(
                    self.endpoint, self.tls, [*options, ("cumulo.loadtest.channel", index)]
                )
                self._channels.append(channel)
                self._stubs.append(object_pb2_grpc.ObjectServiceStub(channel))
                # No request serializer: wire.put_small_request builds the bytes.
                self._put_small_calls.append(
                    channel.unary_unary(
                        f"{_SERVICE}/PutSmallObject",
                        response_deserializer=object_pb2.PutObjectResponse.FromString,
                    )
                )

    async def prepare(self, container: str) -> None:
        request = object_pb2.CreateContainerRequest(
            name=container, exist_ok=True, project_id=self.project_id
        )
        try:
            await self._stub().CreateContainer(request, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    def _put_messages(
        self, container: str, name: str, data: memoryview
    ) -> Iterator[object_pb2.PutObjectRequest]:
        header = object_pb2.PutObjectHeader(
            container=container, name=name, size=len(data), project_id=self.project_id
        )
        chunk = self.chunk_size
        size = len(data)
        yield object_pb2.PutObjectRequest(
            header=header, data=bytes(data[:chunk]), last=size <= chunk
        )
        for offset in range(chunk, size, chunk):
            yield object_pb2.PutObjectRequest(
                data=bytes(data[offset : offset + chunk]), last=offset + chunk >= size
            )

    async def put_object(self, container: str, name: str, data: memoryview) -> None:
        small = self.api != "stream" and len(data) <= SMALL_OBJECT
        session = self._session() if small else None
        try:
            if session is not None:
                await session.put(container, name, data)
            elif small:
                header = object_pb2.PutObjectHeader(
                    container=container, name=name, size=len(data), project_id=self.project_id
                )
                put_small = self._put_small_calls[self._pick()]
                await put_small(
                    wire.put_small_request(header.SerializeToString(), data),
                    metadata=self.metadata,
                )
            else:
                await self._stub().PutObject(
                    self._put_messages(container, name, data), metadata=self.metadata
                )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        if small:
            self._small.add((container, name))
        else:
            self._small.discard((container, name))

    async def get_object(self, container: str, name: str) -> int:
        request = object_pb2.GetObjectRequest(
            container=container, name=name, project_id=self.project_id
        )
        received = 0
        small = (container, name) in self._small
        session = self._session() if small else None
        try:
            if session is not None:
                return len((await session.get(container, name)).data)
            if small:
                response = await self._stub().GetSmallObject(request, metadata=self.metadata)
                return len(response.data)
            async for message in self._stub().GetObject(request, metadata=self.metadata):
                received += len(message.data)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        return received

    async def head_object(self, container: str, name: str) -> int:
        session = self._session()
        if session is not None:
            return int((await session.head(container, name)).size)
        request = object_pb2.HeadObjectRequest(
            container=container, name=name, project_id=self.project_id
        )
        try:
            response = await self._stub().HeadObject(request, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        return int(response.object.size)

    async def delete_object(self, container: str, name: str) -> None:
        request = object_pb2.DeleteObjectRequest(
            container=container, name=name, project_id=self.project_id
        )
        session = self._session()
        try:
            if session is not None:
                await session.delete(container, name)
                return
            await self._stub().DeleteObject(request, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        finally:
            self._small.discard((container, name))

    async def list_objects(
        self, container: str, *, prefix: str, marker: str, limit: int
    ) -> ListPage:
        request = object_pb2.ListObjectsRequest(
            container=container,
            prefix=prefix,
            marker=marker,
            limit=limit,
            project_id=self.project_id,
        )
        try:
            response = await self._stub().ListObjects(request, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        names = [entry.name for entry in response.objects]
        return ListPage(names, bool(response.page.next_page_token))

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()
        self._sessions.clear()
        for channel in self._channels:
            await channel.close()
        self._channels.clear()
        self._stubs.clear()
        self._put_small_calls.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "cumulo",
            "api": "cumulo.object.v1.ObjectService",
            "endpoint": self.endpoint,
            "channels": self.channel_count,
            "chunk_size": self.chunk_size,
            "small_objects_api": self.api,
            "sessions": self.session_count if self.api == "session" else 0,
        }
