"""Index shards: small SQLite databases listing a container's objects or an account's containers.

Each shard is one file, ``<device>/indexes/<partition>/<key hash>.db``, holding one
row per name: the newest version the shard has heard of (a tombstone row for a
deletion, so a late, older update cannot resurrect a name) plus running totals of
the live rows.  Contract of :meth:`IndexShard.apply`: a row replaces the stored
row of its name only if its timestamp is newer, so replicas that receive the same
updates in any order converge; the transaction is fsynced (WAL, ``synchronous=FULL``)
before it returns, so an acknowledged update survives a crash.

Timestamps are compared as text: the internal form ``SSSSSSSSSS.FFFFF_OOOO`` is
fixed-width, so text order is time order (rows are normalised on the way in).
Names compare in SQLite's default BINARY collation, i.e. UTF-8 byte order, which is
code-point order, the same order Python's ``str`` comparison gives.

Why SQLite: a shard is a few thousand to a million rows, needs ordered range scans
(listings) and atomic multi-row updates, and is local to one device; SQLite in WAL
mode does that with one fsync per commit.  Why several files per container instead
of Swift's one: the index of a 10-million-object container is split so no single
file, lock or device carries it, and listings merge the shards (see merge.py).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass

from storage.timestamp import Timestamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    name TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    extra BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    max_timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shard (key TEXT NOT NULL);
INSERT INTO stats (id, object_count, bytes_used, max_timestamp)
    SELECT 0, 0, 0, '' WHERE NOT EXISTS (SELECT 1 FROM stats);
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One name's version in an index (a tombstone when ``deleted``)."""

    name: str
    timestamp: str
    deleted: bool = False
    size: int = 0
    etag: str = ""
    content_type: str = ""
    extra: bytes = b""


@dataclass(frozen=True, slots=True)
class Stats:
    exists: bool
    object_count: int
    bytes_used: int
    max_timestamp: str


def shard_key(account: str, container: str, shard: int) -> str:
    return f"/{account}/{container}/{shard}"


def shard_file(device_path: str, partition: int, account: str, container: str, shard: int) -> str:
    # A cryptographic hash of the key names the file: users choose account and
    # container names, and two keys must never share a file.
    digest = hashlib.blake2b(
        shard_key(account, container, shard).encode("utf-8"), digest_size=16
    ).hexdigest()
    return os.path.join(device_path, "indexes", str(partition), f"{digest}.db")


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class IndexShard:
    """One open shard database.  Thread-safe (one lock; each call is short)."""

    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if self._db.execute("SELECT COUNT(*) FROM shard").fetchone()[0] == 0:
            self._db.execute("INSERT INTO shard (key) VALUES (?)", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def apply(self, rows: list[Row]) -> int:
        """Store each row that is newer than its name's stored row; return how many were."""
        changed = 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                count, used, newest = db.execute(
                    "SELECT object_count, bytes_used, max_timestamp FROM stats"
                ).fetchone()
                for row in rows:
                    stamp = Timestamp.parse(row.timestamp).internal
                    old = db.execute(
                        "SELECT timestamp, deleted, size FROM rows WHERE name = ?", (row.name,)
                    ).fetchone()
                    if old is not None:
                        if old[0] >= stamp:
                            continue
                        if not old[1]:
                            count -= 1
                            used -= old[2]
                    db.execute(
                        "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            row.name,
                            stamp,
                            int(row.deleted),
                            0 if row.deleted else row.size,
                            row.etag,
                            row.content_type,
                            row.extra,
                        ),
                    )
                    if not row.deleted:
                        count += 1
                        used += row.size
                    newest = max(newest, stamp)
                    changed += 1
                db.execute(
                    "UPDATE stats SET object_count = ?, bytes_used = ?, max_timestamp = ?",
                    (count, used, newest),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return changed

    def list(self, prefix: str, marker: str, limit: int) -> list[Row]:
        """Rows after ``marker`` starting with ``prefix``, by name, at most ``limit``."""
        low = max(marker, prefix)
        inclusive = low == prefix and low != marker
        high = prefix_end(prefix) if prefix else None
        sql = "SELECT name, timestamp, deleted, size, etag, content_type, extra FROM rows WHERE "
        sql += "name >= ?" if inclusive else "name > ?"
        args: list[object] = [low]
        if high is not None:
            sql += " AND name < ?"
            args.append(high)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
        return [Row(n, t, bool(d), s, e, c, x) for n, t, d, s, e, c, x in found]

    def stats(self) -> Stats:
        with self._lock:
            count, used, newest = self._db.execute(
                "SELECT object_count, bytes_used, max_timestamp FROM stats"
            ).fetchone()
        return Stats(True, count, used, newest)


class ShardCache:
    """Open shards of one node, least recently used closed beyond ``capacity``."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._open: OrderedDict[str, IndexShard] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, key: str, *, create: bool) -> IndexShard | None:
        with self._lock:
            shard = self._open.get(path)
            if shard is not None:
                self._open.move_to_end(path)
                return shard
        if not create and not os.path.exists(path):
            return None
        opened = IndexShard(path, key)
        evicted: list[IndexShard] = []
        with self._lock:
            shard = self._open.setdefault(path, opened)
            self._open.move_to_end(path)
            while len(self._open) > self.capacity:
                evicted.append(self._open.popitem(last=False)[1])
        if shard is not opened:
            opened.close()
        for old in evicted:
            old.close()
        return shard

    def close(self) -> None:
        with self._lock:
            shards = list(self._open.values())
            self._open.clear()
        for shard in shards:
            shard.close()


__all__ = ["IndexShard", "Row", "ShardCache", "Stats", "prefix_end", "shard_file", "shard_key"]
