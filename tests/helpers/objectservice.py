"""A fake ``cumulo.object.v1.ObjectService`` for load-runner tests and the client-cost bench.

In-memory containers behind a real grpc.aio server; every call needs
``authorization: Bearer test-token``.  Switches: ``page_cap`` (largest listing page),
``fail_put_every`` (every n-th PUT answers UNAVAILABLE).  Not a model of the proxy:
only enough of the API for a load generator.  ``ObjectSession`` is the proxy's own
session machinery (storage/proxy/session.py) over this fake's unary handlers: a
handler's ``context.abort`` becomes the operation's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from cumulo import errors
from cumulo.object.v1 import object_pb2, object_pb2_grpc
from cumulo.rpc.status import DETAILS_KEY, ERROR_OF, error_from_rpc, status_for
from storage.proxy.auth import OPERATION_CHECK
from storage.proxy.session import Operations, run_session

TOKEN = "test-token"
MIB = 1024 * 1024


class FakeObjectService(object_pb2_grpc.ObjectServiceServicer):
    """In-memory containers; every call needs ``authorization: Bearer test-token``."""

    def __init__(self, *, page_cap: int = 1000, fail_put_every: int = 0) -> None:
        self.containers: dict[str, dict[str, bytes]] = {}
        self.page_cap = page_cap
        self.fail_put_every = fail_put_every
        self.puts = 0
        self.put_messages: list[int] = []
        #: Calls of the unary PutSmallObject / GetSmallObject.
        self.small_calls = 0
        #: Operations served by ObjectSession streams, and the streams opened.
        self.session_operations = 0
        self.sessions = 0
        #: Request messages received on ObjectSession streams (each carries >= 1 operation).
        self.session_messages = 0
        #: Seconds each session GET takes (to keep operations outstanding in a test).
        self.session_get_delay = 0.0

    async def _check(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        if metadata.get("authorization") != f"Bearer {TOKEN}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no token")

    async def _objects(self, container: str, context: grpc.aio.ServicerContext) -> dict[str, bytes]:
        await self._check(context)
        if container not in self.containers:
            await self._not_found(context, "CONTAINER_NOT_FOUND", container)
        return self.containers[container]

    async def _not_found(self, context: grpc.aio.ServicerContext, reason: str, what: str) -> None:
        code, message, blob = status_for(errors.NotFound(f"{what} not found", reason=reason), "r")
        await context.abort(code, message, trailing_metadata=((DETAILS_KEY, blob),))

    async def CreateContainer(self, request: Any, context: Any) -> Any:
        await self._check(context)
        self.containers.setdefault(request.name, {})
        return object_pb2.CreateContainerResponse(container=object_pb2.Container(name=request.name))

    async def PutObject(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        header = None
        parts = []
        messages = 0
        last = False
        async for message in request_iterator:
            messages += 1
            if header is None:
                header = message.header
            assert not last, "a message after the one marked last"
            last = message.last
            parts.append(message.data)
        assert header is not None
        if not last:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no message marked last")
        objects = await self._objects(header.container, context)
        self.puts += 1
        if self.fail_put_every and self.puts % self.fail_put_every == 0:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "injected: no quorum")
        data = b"".join(parts)
        if header.HasField("size") and header.size != len(data):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "size mismatch")
        objects[header.name] = data
        self.put_messages.append(messages)
        return object_pb2.PutObjectResponse(
            object=object_pb2.ObjectInfo(
                container=header.container, name=header.name, size=len(data)
            )
        )

    async def PutSmallObject(self, request: Any, context: Any) -> Any:
        header = request.header
        objects = await self._objects(header.container, context)
        self.puts += 1
        if self.fail_put_every and self.puts % self.fail_put_every == 0:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "injected: no quorum")
        if header.HasField("size") and header.size != len(request.data):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "size mismatch")
        objects[header.name] = request.data
        self.put_messages.append(1)
        self.small_calls += not isinstance(context, _OperationContext)
        return object_pb2.PutObjectResponse(
            object=object_pb2.ObjectInfo(
                container=header.container, name=header.name, size=len(request.data)
            )
        )

    async def GetSmallObject(self, request: Any, context: Any) -> Any:
        objects = await self._objects(request.container, context)
        data = objects.get(request.name)
        if data is None:
            await self._not_found(context, "OBJECT_NOT_FOUND", request.name)
            return None
        self.small_calls += not isinstance(context, _OperationContext)
        info = object_pb2.ObjectInfo(container=request.container, name=request.name, size=len(data))
        header = object_pb2.GetObjectHeader(object=info, start=0, end=len(data))
        return object_pb2.GetSmallObjectResponse(header=header, data=data)

    async def GetObject(self, request: Any, context: Any) -> AsyncIterator[Any]:
        objects = await self._objects(request.container, context)
        data = objects.get(request.name)
        if data is None:
            await self._not_found(context, "OBJECT_NOT_FOUND", request.name)
            return
        info = object_pb2.ObjectInfo(container=request.container, name=request.name, size=len(data))
        header = object_pb2.GetObjectHeader(object=info, start=0, end=len(data))
        yield object_pb2.GetObjectResponse(header=header, data=data[:MIB])
        for offset in range(MIB, len(data), MIB):
            yield object_pb2.GetObjectResponse(data=data[offset : offset + MIB])

    async def HeadObject(self, request: Any, context: Any) -> Any:
        objects = await self._objects(request.container, context)
        if request.name not in objects:
            await self._not_found(context, "OBJECT_NOT_FOUND", request.name)
        info = object_pb2.ObjectInfo(name=request.name, size=len(objects[request.name]))
        return object_pb2.HeadObjectResponse(object=info)

    async def DeleteObject(self, request: Any, context: Any) -> Any:
        objects = await self._objects(request.container, context)
        if objects.pop(request.name, None) is None:
            await self._not_found(context, "OBJECT_NOT_FOUND", request.name)
        return object_pb2.DeleteObjectResponse(version="1")

    async def ObjectSession(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        await self._check(context)
        self.sessions += 1
        operation_context = _OperationContext(context)

        def run(handler: Any, delay: float = 0.0) -> Any:
            async def one(request: Any) -> Any:
                self.session_operations += 1
                if delay:
                    await asyncio.sleep(delay)
                return await handler(request, operation_context)

            return one

        async def anyone(method: str) -> None:
            return None

        OPERATION_CHECK.set(anyone)  # type: ignore[arg-type]
        operations = Operations(
            put=run(self.PutSmallObject),
            get=run(self.GetSmallObject, self.session_get_delay),
            head=run(self.HeadObject),
            delete=run(self.DeleteObject),
        )

        async def counted() -> AsyncIterator[Any]:
            async for message in request_iterator:
                self.session_messages += 1
                yield message

        # run_session yields wire bytes (the real proxy's codec passes them through);
        # this fake is registered with the generated serializer, so it sends messages.
        async for response in run_session(counted(), operations):
            yield object_pb2.ObjectSessionResponse.FromString(response)

    async def ListObjects(self, request: Any, context: Any) -> Any:
        objects = await self._objects(request.container, context)
        limit = min(request.limit or 1000, self.page_cap)
        names = sorted(n for n in objects if n.startswith(request.prefix) and n > request.marker)
        page = names[:limit]
        response = object_pb2.ListObjectsResponse(
            objects=[object_pb2.ObjectEntry(name=n, size=len(objects[n])) for n in page]
        )
        if len(names) > limit:
            response.page.next_page_token = page[-1]
        return response


class _OperationContext:
    """The stream's context for one operation's handler: ``abort`` raises the
    matching :mod:`cumulo.errors` class instead of ending the stream."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def invocation_metadata(self) -> Any:
        return self._context.invocation_metadata()

    async def abort(self, code: grpc.StatusCode, message: str, trailing_metadata: Any = ()) -> None:
        failed = _Failed(code, message, trailing_metadata)
        raise error_from_rpc(failed) if trailing_metadata else ERROR_OF[code](message)


class _Failed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, message: str, trailers: Any) -> None:
        self._code, self._message, self._trailers = code, message, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> Any:
        return self._trailers


async def serve(servicer: FakeObjectService) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 8 * MIB),
            ("grpc.max_send_message_length", 8 * MIB),
        ]
    )
    object_pb2_grpc.add_ObjectServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
