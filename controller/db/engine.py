"""Opening the controller database: SQLite (WAL) by default, PostgreSQL by URL.

The controller serves gRPC on an asyncio loop while SQLAlchemy sessions are
synchronous; :meth:`Database.run` runs a unit of work in a worker thread so the
loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from cumulo import errors

T = TypeVar("T")


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across
    # application crashes (the WAL is fsynced at checkpoints).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; refuse unsupported databases with a clear error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise errors.InvalidArgument(
            f"database URL {redact_url(url)!r} is not a valid SQLAlchemy URL",
            hint="use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise errors.InvalidArgument(
            f"database {backend!r} is not supported", hint="use SQLite or PostgreSQL"
        )
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except NoSuchModuleError as exc:
        raise errors.InvalidArgument(f"no driver for {redact_url(url)}: {exc}") from None


class Database:
    """An engine plus a session factory; the one handle domain services receive."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.kind = self.engine.dialect.name  # "sqlite" | "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one transaction on a worker thread."""

        def unit() -> T:
            with self.session() as session:
                return work(session)

        return await asyncio.to_thread(unit)

    def server_version(self) -> str:
        with self.engine.connect() as connection:
            info = connection.dialect.server_version_info or ()
        return ".".join(str(part) for part in info)

    def dispose(self) -> None:
        self.engine.dispose()
