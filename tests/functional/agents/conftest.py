"""Fixtures for the agent-stream tests: a restartable controller and in-process agents.

Kept in this folder so they apply to these tests only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cumulo.client import Client
from tests.helpers.agents import AgentRunner, fast_config
from tests.helpers.identity import admin_client
from tests.helpers.servers import BackgroundLoop


class ControllerHarness:
    """A controller that can be stopped and started again on the same port and database."""

    def __init__(self, loop: BackgroundLoop, data_dir: Path, database_url: str) -> None:
        self.loop = loop
        self.data_dir = data_dir
        self.database_url = database_url
        self.running: Any = None
        self.port = 0
        self.extra: list[Any] = []

    def start(self, port: int | None = None) -> Any:
        from controller.server import start_controller

        listen = f"127.0.0.1:{port if port is not None else self.port}"
        config = fast_config(self.data_dir, self.database_url, listen)
        self.running = self.loop.run(start_controller(config))
        self.port = self.running.server.port
        return self.running

    def start_another(self) -> Any:
        """A second controller on the same database (another port)."""
        from controller.server import start_controller

        config = fast_config(self.data_dir, self.database_url)
        other = self.loop.run(start_controller(config))
        self.extra.append(other)
        return other

    def stop(self) -> None:
        if self.running is not None:
            self.loop.run(self.running.stop(grace=0.2))
            self.running = None

    def close(self) -> None:
        self.stop()
        for other in self.extra:
            self.loop.run(other.stop(grace=0.2))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> Client:
        return admin_client(self.address)


@pytest.fixture
def harness(
    tmp_path: Path, background_loop: BackgroundLoop, request: pytest.FixtureRequest
) -> Iterator[ControllerHarness]:
    """A running controller on SQLite (or on ``database_url`` when the test asks for it)."""
    url = ""
    if "database_url" in request.fixturenames:
        url = request.getfixturevalue("database_url")
    harness = ControllerHarness(background_loop, tmp_path / "data", url)
    harness.start(0)
    yield harness
    harness.close()


@pytest.fixture
def agents(background_loop: BackgroundLoop, harness: ControllerHarness) -> Iterator[AgentRunner]:
    # Depends on the harness so that agents stop before the controller does.
    runner = AgentRunner(background_loop)
    yield runner
    runner.stop_all()


@pytest.fixture
def client(harness: ControllerHarness) -> Iterator[Client]:
    with harness.client() as sdk:
        yield sdk
