"""The fixed flow-control window reaches every gRPC server and the storage channels."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from grpc import aio

from cumulo.rpc import flow, server
from storage.object import client as object_client


def test_the_window_is_fixed_and_bounded() -> None:
    options = dict(flow.BOUNDED_FLOW_CONTROL)
    assert options["grpc.http2.bdp_probe"] == 0
    assert 64 << 10 <= options["grpc.http2.lookahead_bytes"] <= 16 << 20


def test_servers_start_with_the_fixed_window(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real_server = aio.server

    def recording_server(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("options"))
        return real_server(*args, **kwargs)

    monkeypatch.setattr(server.aio, "server", recording_server)

    async def start_and_stop() -> None:
        started = await server.start_server("127.0.0.1:0", [])
        await started.server.stop(None)

    asyncio.run(start_and_stop())
    assert seen and set(flow.BOUNDED_FLOW_CONTROL) <= set(seen[0])


def test_object_server_channels_use_the_fixed_window(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def recording_channel(address: str, tls: Any, *, options: Any) -> Any:
        seen.append(options)
        return aio.insecure_channel(address, options=options)

    monkeypatch.setattr(object_client, "aio_channel", recording_channel)

    async def open_and_close() -> None:
        client = object_client.ObjectServerClient("127.0.0.1:1", "credential")
        await client.channel.close()

    asyncio.run(open_and_close())
    assert seen and set(flow.BOUNDED_FLOW_CONTROL) <= set(seen[0])
