"""Fixtures shared by every test tier.

* ``database_url``: a fresh, empty database per test, once on SQLite and once on
  PostgreSQL (a schema of its own inside ``$CUMULO_TEST_PG_URL``).  Without that
  variable the PostgreSQL half skips, unless ``CUMULO_REQUIRE_PG=1`` (set by
  ``make test``) makes it fail instead.
* ``controller``: an in-process controller on 127.0.0.1 port 0 (SQLite).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

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
def controller(tmp_path: Path, background_loop: BackgroundLoop) -> Iterator[object]:
    """A running in-process controller; ``controller.address`` is ``127.0.0.1:PORT``."""
    from controller.server import start_controller
    from cumulo.config import load_config

    config = load_config(environ={}, data_dir=tmp_path / "data")
    config.controller.listen = "127.0.0.1:0"
    running = background_loop.run(start_controller(config))
    yield running
    background_loop.run(running.stop(grace=0.5))
