"""Fixtures shared by every test tier.

* ``database_url``: a fresh, empty database per test, once on SQLite and once on
  PostgreSQL (a schema of its own inside ``$CUMULO_TEST_PG_URL``).  Without that
  variable the PostgreSQL half skips, unless ``CUMULO_REQUIRE_PG=1`` (set by
  ``make test``) makes it fail instead.
* ``controller``: an in-process controller on 127.0.0.1 port 0 (SQLite), whose
  admin (user ``admin`` on project ``admin``) has the password
  ``tests.helpers.identity.ADMIN_PASSWORD``; ``admin_client`` is an SDK client
  logged in as that admin.
* ``start_controller``: start more controllers (e.g. on ``database_url``); all
  are stopped at the end of the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from cumulo.client import Client
from tests.helpers.identity import admin_client as make_admin_client
from tests.helpers.identity import configure_identity
from tests.helpers.servers import BackgroundLoop


def _pg_base_url() -> str:
    return os.environ.get("CUMULO_TEST_PG_URL", "")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'controller.db'}"
        return
    base = _pg_base_url()
    if not base:
        if os.environ.get("CUMULO_REQUIRE_PG") == "1":
            pytest.fail("CUMULO_REQUIRE_PG=1 but CUMULO_TEST_PG_URL is not set (run `make test`)")
        pytest.skip("PostgreSQL not configured: set CUMULO_TEST_PG_URL or run `make test`")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def background_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


@pytest.fixture
def start_controller(
    tmp_path: Path, background_loop: BackgroundLoop
) -> Iterator[Callable[..., Any]]:
    """``start(database_url="", **identity_overrides)`` -> a running controller."""
    from controller.server import start_controller as start
    from cumulo.config import load_config

    running: list[Any] = []

    def launch(database_url: str = "", **identity: Any) -> Any:
        config = load_config(environ={}, data_dir=tmp_path / f"data{len(running)}")
        config.controller.listen = "127.0.0.1:0"
        config.controller.database_url = database_url
        configure_identity(config)
        for key, value in identity.items():
            setattr(config.identity, key, value)
        controller = background_loop.run(start(config))
        running.append(controller)
        return controller

    yield launch
    for controller in reversed(running):
        background_loop.run(controller.stop(grace=0.5))


@pytest.fixture
def controller(start_controller: Callable[..., Any]) -> Any:
    """A running in-process controller; ``controller.address`` is ``127.0.0.1:PORT``."""
    return start_controller()


@pytest.fixture
def admin_client(controller: Any) -> Iterator[Client]:
    with make_admin_client(controller.address) as client:
        yield client
