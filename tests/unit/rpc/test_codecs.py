"""CodecInterceptor (cumulo/rpc/codecs.py) over a real gRPC server and channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc import aio

from cumulo.object.v1 import object_pb2 as pb
from cumulo.object.v1 import object_pb2_grpc
from cumulo.rpc.codecs import Codec, CodecInterceptor
from cumulo.rpc.server import Service, start_server
from cumulo.services import object_wire as wire
from storage.proxy.session import SizedRequest, encode_response, parse_request

_SERVICE = "cumulo.object.v1.ObjectService"
HEADER = pb.GetObjectHeader(object=pb.ObjectInfo(name="n", size=3), start=0, end=3)


class Servicer(object_pb2_grpc.ObjectServiceServicer):
    """Answers GetSmallObject with wire bytes, HeadObject with a message, and records
    what ObjectSession's handler is given."""

    def __init__(self) -> None:
        self.session_items: list[Any] = []

    async def GetSmallObject(self, request: Any, context: Any) -> Any:
        return b"".join(wire.get_small_parts(HEADER.SerializeToString(), b"abc"))

    async def HeadObject(self, request: Any, context: Any) -> Any:
        return pb.HeadObjectResponse(object=pb.ObjectInfo(name=request.name))

    async def ObjectSession(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        async for item in request_iterator:
            self.session_items.append(item)
            yield wire.session_response([wire.session_result(7, "head", [])])


def run(check: Any) -> None:
    async def main() -> None:
        servicer = Servicer()
        codecs = CodecInterceptor(
            {
                f"/{_SERVICE}/ObjectSession": Codec(parse_request, encode_response),
                f"/{_SERVICE}/GetSmallObject": Codec(response_serializer=encode_response),
            }
        )
        service = Service(_SERVICE, servicer, object_pb2_grpc.add_ObjectServiceServicer_to_server)
        running = await start_server("127.0.0.1:0", [service], interceptors=[codecs])
        try:
            async with aio.insecure_channel(running.address) as channel:
                await check(object_pb2_grpc.ObjectServiceStub(channel), channel, servicer)
        finally:
            await running.server.stop(None)

    asyncio.run(main())


def test_wire_bytes_pass_through_and_other_methods_keep_their_codec() -> None:
    async def check(stub: Any, channel: Any, servicer: Servicer) -> None:
        got = await stub.GetSmallObject(pb.GetObjectRequest(name="n"))
        assert got == pb.GetSmallObjectResponse(header=HEADER, data=b"abc")
        head = await stub.HeadObject(pb.HeadObjectRequest(name="h"))
        assert head.object.name == "h"

    run(check)


def test_session_requests_arrive_with_their_operation_sizes() -> None:
    operations = [
        pb.SessionOperation(id=1, put=pb.PutSmallObjectRequest(data=b"x" * 1000)),
        pb.SessionOperation(id=2, get=pb.GetObjectRequest(name="g")),
    ]

    async def check(stub: Any, channel: Any, servicer: Servicer) -> None:
        call = stub.ObjectSession()
        await call.write(pb.ObjectSessionRequest(operations=operations))
        response = await call.read()
        assert [r.id for r in response.results] == [7] and response.results[0].HasField("head")
        await call.done_writing()
        assert await call.read() == aio.EOF
        (item,) = servicer.session_items
        assert isinstance(item, SizedRequest)
        assert list(item.message.operations) == operations
        assert item.sizes == [op.ByteSize() for op in operations]

    run(check)


def test_a_body_the_replaced_parser_refuses_is_invalid_argument() -> None:
    async def check(stub: Any, channel: Any, servicer: Servicer) -> None:
        session = channel.stream_stream(
            f"/{_SERVICE}/ObjectSession",
            request_serializer=None,
            response_deserializer=pb.ObjectSessionResponse.FromString,
        )
        call = session()
        await call.write(b"\x0a\x05abc")  # a field longer than the message
        with pytest.raises(grpc.RpcError) as failure:
            await call.read()
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid message" in failure.value.details()
        assert not servicer.session_items

    run(check)
