"""In-process controllers and agents with tiny timings, for the agent-stream tests.

Everything runs on one :class:`BackgroundLoop`; test bodies stay synchronous and
poll with :func:`wait_until`.  :class:`RawStream` speaks the protocol by hand, for
tests that send what a well-behaved agent never would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc import aio

from agent.drivers import NoopDriver
from agent.inventory import HostInventory
from agent.reconciler import Reconciler
from agent.stream import CREDENTIAL_KEY, AgentStream, StreamOptions
from cumulo.agent.v1 import agent_pb2, agent_pb2_grpc
from cumulo.config import Config, load_config
from tests.helpers.identity import configure_identity
from tests.helpers.servers import BackgroundLoop

T = TypeVar("T")

#: Timings small enough that liveness tests take about a second.
HEARTBEAT_INTERVAL = 0.1
HEARTBEAT_TIMEOUT = 0.8


def fast_config(data_dir: Path, database_url: str = "", listen: str = "127.0.0.1:0") -> Config:
    config = load_config(environ={}, data_dir=data_dir)
    config.controller.listen = listen
    config.controller.database_url = database_url
    config.controller.heartbeat_timeout = HEARTBEAT_TIMEOUT
    config.controller.liveness_check_interval = 0.1
    config.controller.last_seen_flush_interval = 0.1
    config.controller.progress_notify_interval = 0.3
    config.controller.register_timeout = 1.0
    configure_identity(config)
    return config


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def fake_inventory() -> HostInventory:
    return HostInventory(hostname="test-host", vcpus=4, memory_bytes=8 << 30, disk_bytes=1 << 40)


@dataclass
class RunningAgent:
    stream: AgentStream
    task: asyncio.Task[None]
    driver: NoopDriver
    state_dir: Path


class AgentRunner:
    """Starts and stops in-process agents on a background loop."""

    def __init__(self, loop: BackgroundLoop) -> None:
        self.loop = loop
        self.agents: list[RunningAgent] = []

    def start(
        self,
        address: Callable[[], str] | str,
        credential_file: Path,
        state_dir: Path,
        *,
        driver: NoopDriver | None = None,
        name: str = "test-node",
    ) -> RunningAgent:
        resolve = address if callable(address) else (lambda: address)  # type: ignore[misc]
        driver = driver or NoopDriver()
        options = StreamOptions(
            address=resolve,  # type: ignore[arg-type]
            credential_file=credential_file,
            node_name=name,
            heartbeat_interval=HEARTBEAT_INTERVAL,
            backoff_min=0.05,
            backoff_max=0.3,
            resync_interval=3600,
        )

        async def launch() -> RunningAgent:
            stream = AgentStream(options, Reconciler(state_dir, [driver]), fake_inventory)
            return RunningAgent(stream, asyncio.create_task(stream.run()), driver, state_dir)

        agent = self.loop.run(launch())
        self.agents.append(agent)
        return agent

    def stop(self, agent: RunningAgent) -> None:
        async def cancel() -> None:
            agent.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await agent.task

        self.loop.run(cancel())
        if agent in self.agents:
            self.agents.remove(agent)

    def stop_all(self) -> None:
        for agent in list(self.agents):
            self.stop(agent)


class RawStream:
    """A hand-driven Connect stream: send any message, read the replies, see the status."""

    #: Every stream opened, so a fixture can close them before the loop goes.
    opened: list[RawStream] = []

    def __init__(self, loop: BackgroundLoop, address: str, credential: str | None) -> None:
        RawStream.opened.append(self)
        self.loop = loop
        self._outgoing: asyncio.Queue[Any] = asyncio.Queue()

        async def open_call() -> Any:
            self.channel = aio.insecure_channel(address)
            stub = agent_pb2_grpc.AgentServiceStub(self.channel)
            metadata = [(CREDENTIAL_KEY, credential)] if credential else []
            return stub.Connect(self._requests(), metadata=metadata)

        self.call = loop.run(open_call())

    async def _requests(self) -> AsyncIterator[Any]:
        while True:
            item = await self._outgoing.get()
            if item is None:
                return
            yield item

    def send(self, **kind: Any) -> None:
        message = agent_pb2.AgentMessage(**kind)
        self.loop.loop.call_soon_threadsafe(self._outgoing.put_nowait, message)

    def send_empty(self) -> None:
        self.loop.loop.call_soon_threadsafe(self._outgoing.put_nowait, agent_pb2.AgentMessage())

    def read(self, timeout: float = 5.0) -> agent_pb2.ControllerMessage:
        """The next controller message; raises grpc.RpcError when the stream failed."""

        async def read() -> Any:
            async with asyncio.timeout(timeout):
                return await self.call.read()

        message = self.loop.run(read())
        if message is aio.EOF:
            raise EOFError("stream ended")
        return message  # type: ignore[no-any-return]

    def read_until(self, kind: str, timeout: float = 5.0) -> agent_pb2.ControllerMessage:
        deadline = time.monotonic() + timeout
        while True:
            message = self.read(max(0.01, deadline - time.monotonic()))
            if message.WhichOneof("kind") == kind:
                return message

    def failure(self, timeout: float = 5.0) -> grpc.RpcError:
        """Read until the stream fails; return the error."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.read(max(0.01, deadline - time.monotonic()))
        except grpc.RpcError as exc:
            return exc
        raise AssertionError("the stream did not fail")

    def close(self) -> None:
        async def close() -> None:
            self._outgoing.put_nowait(None)
            self.call.cancel()
            await self.channel.close()

        self.loop.run(close())

    @classmethod
    def close_all(cls) -> None:
        while cls.opened:
            cls.opened.pop().close()
