"""Migrations and the database handle, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy
from sqlalchemy import inspect

from controller.db import Base, Database
from controller.db.migrations import all_migrations, current_version, migrate


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        applied = migrate(database.engine)
        assert applied == [m.version for m in all_migrations()]
        inspector = inspect(database.engine)
        tables = set(inspector.get_table_names()) - {"schema_migrations"}
        assert tables == set(Base.metadata.tables)
        for name, table in Base.metadata.tables.items():
            columns = {c["name"]: c for c in inspector.get_columns(name)}
            assert set(columns) == {c.name for c in table.columns}, name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
    finally:
        database.dispose()


def test_migrate_twice_applies_nothing_the_second_time(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate(database.engine)
        assert migrate(database.engine) == []
        assert current_version(database.engine) == all_migrations()[-1].version
    finally:
        database.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with database.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert mode == "wal"
    finally:
        database.dispose()


def test_controller_serves_info_from_postgresql_and_sqlite(database_url, start_controller) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers.identity import admin_client

    running = start_controller(database_url)
    with admin_client(running.address) as client:
        info = client.system.get_info(["database"])
    expected = sqlalchemy.engine.make_url(database_url).get_backend_name()
    assert info.database.kind == expected
    assert info.database.schema_version == all_migrations()[-1].version
    assert "cumulo_test:" not in info.database.url or "***" in info.database.url
