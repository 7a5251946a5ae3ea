"""Serialising writers that must not interleave, on SQLite and PostgreSQL alike.

* :func:`lock_row` - PostgreSQL ``SELECT ... FOR UPDATE`` on one row; on SQLite the
  whole database's write lock (``BEGIN IMMEDIATE``), SQLite's only kind of lock.
* :func:`write_lock` - a named cluster-wide lock for one transaction
  (``pg_advisory_xact_lock``; SQLite's write lock).

Both hold until the session's transaction ends, so check-then-insert sequences
inside that transaction (quota checks, bootstrap) cannot race another
controller or thread.  Call them first in the transaction: on SQLite, a
transaction that already read and then asks for the write lock can deadlock.
"""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session


def _sqlite_begin_immediate(session: Session) -> None:
    raw = session.connection().connection.driver_connection
    # pysqlite opens transactions lazily at the first write; take the write lock now.
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def write_lock(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) | (0x43554D << 32)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        _sqlite_begin_immediate(session)


def lock_row(session: Session, column: Any, value: Any) -> bool:
    """Lock the row whose ``column`` equals ``value``; False when there is no such row."""
    if session.get_bind().dialect.name == "postgresql":
        statement = select(column).where(column == value).with_for_update()
    else:
        _sqlite_begin_immediate(session)
        statement = select(column).where(column == value)
    return session.execute(statement).first() is not None
