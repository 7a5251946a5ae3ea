"""Schema migrations, applied in order at controller start.

Each migration is a module ``mNNNN_<what>.py`` in this package with ``VERSION``
(the number NNNN), ``DESCRIPTION`` and ``upgrade(connection)``.  A migration
defines the tables it creates as they were at that point (never by importing the
live models, which move on), and never changes after it has landed: changes go
in a new migration.

:func:`migrate` applies every migration not yet recorded in ``schema_migrations``,
each in its own transaction, under a lock so that controllers starting together
do not race (PostgreSQL advisory lock; SQLite's write lock).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select, text
from sqlalchemy.engine import Connection, Engine

_meta = MetaData()
schema_migrations = Table(
    "schema_migrations",
    _meta,
    Column("version", Integer, primary_key=True),
    Column("description", String(255), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

#: Arbitrary constant naming Cumulo's migration lock in pg_advisory_xact_lock.
_PG_LOCK_KEY = 0x43554D554C4F


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    module: ModuleType


def all_migrations() -> list[Migration]:
    """Every migration module in this package, in version order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Migration(module.VERSION, module.DESCRIPTION, module))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:
        # Take SQLite's write lock now rather than at the first write.
        raw = connection.connection.driver_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


def applied_versions(connection: Connection) -> set[int]:
    return set(connection.execute(select(schema_migrations.c.version)).scalars())


def current_version(engine: Engine) -> int:
    """Highest applied migration, 0 for an empty database."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "schema_migrations"):
            return 0
        return max(applied_versions(connection), default=0)


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations; return the versions applied now (maybe none)."""
    applied_now = []
    with engine.begin() as connection:
        _lock(connection)
        _meta.create_all(connection, checkfirst=True)
    for migration in all_migrations():
        with engine.begin() as connection:
            _lock(connection)
            if migration.version in applied_versions(connection):
                continue
            migration.module.upgrade(connection)
            connection.execute(
                schema_migrations.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=datetime.now(UTC),
                )
            )
            applied_now.append(migration.version)
    return applied_now
