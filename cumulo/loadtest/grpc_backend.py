"""The Cumulo backend of the load runner: ``cumulo.object.v1.ObjectService`` over grpc.aio.

It calls the generated stubs directly on a few ``grpc.aio`` channels (round robin),
with ``authorization: Bearer <token>`` on every call, rather than through the
synchronous SDK client: a load generator must not spend a thread per request, and
the figures should show the proxy, not a client wrapper.

Big objects go up as a stream of ``chunk_size`` messages (1 MiB: the size the proxy
handles fastest); an object that fits in one message is one message carrying header
and data.  The final message has ``last`` set (and the header the size), so the proxy
can tell a finished upload from a cancelled one.  Failures are raised as
:mod:`cumulo.errors` classes (via the SDK's status table), so the runner counts them
by their stable reason, e.g. ``OBJECT_NOT_FOUND``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import grpc

from cumulo.loadtest.backend import ListPage
from cumulo.object.v1 import object_pb2, object_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel

MIB = 1024 * 1024
#: Above the 4 MiB the API allows per message, with room for the header.
MAX_MESSAGE_BYTES = 8 * MIB


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
    ) -> None:
        if channels < 1:
            raise ValueError("channels must be at least 1")
        self.endpoint = endpoint
        self.tls = tls
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
        self.channel_count = channels
        self.chunk_size = chunk_size
        self.project_id = project_id
        self._channels: list[grpc.aio.Channel] = []
        self._stubs: list[object_pb2_grpc.ObjectServiceStub] = []
        self._next: Iterator[int] = itertools.cycle(range(channels))

    def _stub(self) -> object_pb2_grpc.ObjectServiceStub:
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
        return self._stubs[next(self._next)]

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
        try:
            await self._stub().PutObject(
                self._put_messages(container, name, data), metadata=self.metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    async def get_object(self, container: str, name: str) -> int:
        request = object_pb2.GetObjectRequest(
            container=container, name=name, project_id=self.project_id
        )
        received = 0
        try:
            async for message in self._stub().GetObject(request, metadata=self.metadata):
                received += len(message.data)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        return received

    async def head_object(self, container: str, name: str) -> int:
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
        try:
            await self._stub().DeleteObject(request, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

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
        for channel in self._channels:
            await channel.close()
        self._channels.clear()
        self._stubs.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "cumulo",
            "api": "cumulo.object.v1.ObjectService",
            "endpoint": self.endpoint,
            "channels": self.channel_count,
            "chunk_size": self.chunk_size,
        }
