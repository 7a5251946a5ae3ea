"""The interceptor on every call shape: streams pass through, errors map mid-stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from cumulo import errors
from cumulo.rpc.server import Service, start_server
from cumulo.types.v1.types_pb2 import PageRequest, PageResponse

SERVICE = "cumulo.test.Echo"


async def unary_stream(request: PageRequest, context: Any) -> AsyncIterator[PageResponse]:
    for index in range(request.page_size):
        if request.page_token == "fail-midway" and index == 2:
            raise errors.OutOfRange("ran past the end", field="page_size")
        yield PageResponse(next_page_token=str(index))


async def stream_unary(requests: AsyncIterator[PageRequest], context: Any) -> PageResponse:
    total = 0
    async for request in requests:
        total += request.page_size
    return PageResponse(next_page_token=str(total))


async def stream_stream(
    requests: AsyncIterator[PageRequest], context: Any
) -> AsyncIterator[PageResponse]:
    async for request in requests:
        if request.page_size < 0:
            raise errors.InvalidArgument("negative size", field="page_size")
        yield PageResponse(next_page_token=str(request.page_size * 2))


def _register(_servicer: object, server: Any) -> None:
    kwargs = {
        "request_deserializer": PageRequest.FromString,
        "response_serializer": PageResponse.SerializeToString,
    }
    handlers = {
        "UnaryStream": grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs),
        "StreamUnary": grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs),
        "StreamStream": grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
def channel(background_loop: Any) -> Iterator[grpc.Channel]:
    running = background_loop.run(start_server("127.0.0.1:0", [Service(SERVICE, None, _register)]))
    with grpc.insecure_channel(running.address) as channel:
        yield channel
    background_loop.run(running.server.stop(0.1))


def _method(channel: grpc.Channel, kind: str, name: str) -> Any:
    factory = getattr(channel, kind)
    return factory(
        f"/{SERVICE}/{name}",
        request_serializer=PageRequest.SerializeToString,
        response_deserializer=PageResponse.FromString,
    )


def test_server_stream_passes_every_message(channel: grpc.Channel) -> None:
    call = _method(channel, "unary_stream", "UnaryStream")
    replies = [r.next_page_token for r in call(PageRequest(page_size=4), timeout=10)]
    assert replies == ["0", "1", "2", "3"]


def test_error_mid_stream_maps_to_its_status(channel: grpc.Channel) -> None:
    call = _method(channel, "unary_stream", "UnaryStream")
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for reply in call(PageRequest(page_size=4, page_token="fail-midway"), timeout=10):
            received.append(reply.next_page_token)
    assert received == ["0", "1"]
    assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "ran past the end" in caught.value.details()


def test_client_stream_is_parsed_message_by_message(channel: grpc.Channel) -> None:
    call = _method(channel, "stream_unary", "StreamUnary")
    reply = call(iter([PageRequest(page_size=n) for n in (1, 2, 3)]), timeout=10)
    assert reply.next_page_token == "6"


def test_malformed_message_inside_a_client_stream(channel: grpc.Channel) -> None:
    raw = channel.stream_unary(f"/{SERVICE}/StreamUnary")
    with pytest.raises(grpc.RpcError) as caught:
        raw(iter([PageRequest(page_size=1).SerializeToString(), b"\xff\xff"]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in caught.value.details()


def test_bidirectional_stream_and_its_errors(channel: grpc.Channel) -> None:
    call = _method(channel, "stream_stream", "StreamStream")
    replies = [r.next_page_token for r in call(iter([PageRequest(page_size=2)] * 3), timeout=10)]
    assert replies == ["4", "4", "4"]
    with pytest.raises(grpc.RpcError) as caught:
        list(call(iter([PageRequest(page_size=1), PageRequest(page_size=-1)]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
