"""Index shards: small SQLite databases listing a container's objects or an account's containers.

Each shard is one file, ``<device>/indexes/<partition>/<key hash>.db``, holding one
row per name: the newest version the shard has heard of (a tombstone row for a
deletion, so a late, older update cannot resurrect a name) plus running totals of
the live rows.  Contract of :meth:`IndexShard.apply`: a row replaces the stored
row of its name only if its timestamp is newer, so replicas that receive the same
updates in any order converge; the transaction is fsynced (WAL, ``synchronous=FULL``)
before it returns, so an acknowledged update survives a crash - or, with
``durable=False``, the caller syncs the file system before it acknowledges anything
(the index servicer's group commit: one ``syncfs`` for every shard of a batch).

Timestamps are compared as text: the internal form ``SSSSSSSSSS.FFFFF_OOOO`` is
fixed-width, so text order is time order (rows are normalised on the way in).
Names compare in SQLite's default BINARY collation, i.e. UTF-8 byte order, which is
code-point order, the same order Python's ``str`` comparison gives.

Replication (``storage/replication/index_replicator.py``): every stored row carries a
*sequence number* from a per-database counter that only grows (a replaced row gets a
new one), each database file has a random *replica id*, and a database remembers per
source replica the highest sequence it has applied from it (a *sync point*,
Swift's incoming sync).  Rows applied from a peer and the peer's new sync point
commit in one transaction, so a crash can neither lose rows nor skip them.

Why SQLite: a shard is a few thousand to a million rows, needs ordered range scans
(listings) and atomic multi-row updates, and is local to one device; SQLite in WAL
mode does that with one fsync per commit.  Why several files per container instead
of Swift's one: the index of a 10-million-object container is split so no single
file, lock or device carries it, and listings merge the shards (see merge.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from cumulo import errors
from storage.timestamp import Timestamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    name TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    extra BLOB NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    max_timestamp TEXT NOT NULL,
    max_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS shard (key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replica (id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_points (
    source TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO stats (id, object_count, bytes_used, max_timestamp)
    SELECT 0, 0, 0, '' WHERE NOT EXISTS (SELECT 1 FROM stats);
"""

# After the migration (older files have no seq column to index yet).  The partial
# index makes finding old tombstones cheap and costs nothing for live rows.
_INDEXES = """
CREATE INDEX IF NOT EXISTS rows_by_seq ON rows (seq);
CREATE INDEX IF NOT EXISTS tombstones_by_time ON rows (timestamp) WHERE deleted = 1;
"""

_COLUMNS = "name, timestamp, deleted, size, etag, content_type, extra"


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


@dataclass(frozen=True, slots=True)
class SyncState:
    """One replica's position, as a peer compares it (see :meth:`IndexShard.sync_state`)."""

    #: This database file's replica id.
    replica_id: str
    #: The highest sequence number this database has handed out (0: never written).
    max_seq: int
    #: The highest sequence of the asked-about source replica applied here (0: none).
    point: int
    stats: Stats


@dataclass(frozen=True, slots=True)
class Changes:
    """Rows changed after a sequence number, in sequence order (:meth:`IndexShard.changes`)."""

    rows: list[Row]
    #: The sequence of the last row scanned (rows filtered out included), or the
    #: database's counter when no row follows; the caller's next ``after``.
    up_to: int
    #: True when more rows may follow ``up_to``.
    more: bool


def shard_key(account: str, container: str, shard: int) -> str:
    return f"/{account}/{container}/{shard}"


def shard_file(device_path: str, partition: int, account: str, container: str, shard: int) -> str:
    # A cryptographic hash of the key names the file: users choose account and
    # container names, and two keys must never share a file.
    digest = hashlib.blake2b(
        shard_key(account, container, shard).encode("utf-8"), digest_size=16
    ).hexdigest()
    return os.path.join(device_path, "indexes", str(partition), f"{digest}.db")


def parse_shard_key(key: str) -> tuple[str, str, int]:
    """``(account, container, shard)`` of a :func:`shard_key` (ValueError if malformed).

    Account and container names contain no ``/`` (storage/names.py), so the split is
    unambiguous."""
    empty, account, container, number = key.split("/")
    if empty or not account or not number.isdigit():
        raise ValueError(f"not a shard key: {key!r}")
    return account, container, int(number)


def local_databases(device_path: str) -> list[tuple[int, str]]:
    """``(partition, path)`` of every shard database on a device, by partition then name."""
    root = os.path.join(device_path, "indexes")
    found: list[tuple[int, str]] = []
    try:
        parts = os.listdir(root)
    except FileNotFoundError:
        return found
    for part in parts:
        if not part.isdigit():
            continue
        try:
            names = os.listdir(os.path.join(root, part))
        except (FileNotFoundError, NotADirectoryError):
            continue
        found.extend((int(part), os.path.join(root, part, n)) for n in names if n.endswith(".db"))
    return sorted(found)


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class IndexShard:
    """One open shard database.  Thread-safe (one lock; each call is short).

    ``key`` is stored when the file is created; pass "" to open an existing file
    whose key is not known yet (it is then read from the file: :attr:`key`).
    After :meth:`remove_if_unchanged` removed the file, every call raises
    Unavailable (the caller retries; the next open creates a fresh database)."""

    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._closed = False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._synchronous_full = True
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.executescript(_INDEXES)
        stored = self._db.execute("SELECT key FROM shard").fetchone()
        if stored is None and key:
            self._db.execute("INSERT INTO shard (key) VALUES (?)", (key,))
        self.key: str = stored[0] if stored is not None else key
        replica = self._db.execute("SELECT id FROM replica").fetchone()
        if replica is None:
            # A new file is a new replica: peers start syncing it from scratch.
            replica = (uuid.uuid4().hex,)
            self._db.execute("INSERT INTO replica (id) VALUES (?)", replica)
        self.replica_id: str = replica[0]

    def _migrate(self) -> None:
        """Number the rows of a file written before sequence numbers existed (1, 2, ...)."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(rows)")}
        if "seq" in columns:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("ALTER TABLE rows ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
            db.execute("ALTER TABLE stats ADD COLUMN max_seq INTEGER NOT NULL DEFAULT 0")
            names = [r[0] for r in db.execute("SELECT name FROM rows ORDER BY name")]
            db.executemany(
                "UPDATE rows SET seq = ? WHERE name = ?", ((i, n) for i, n in enumerate(names, 1))
            )
            db.execute("UPDATE stats SET max_seq = ?", (len(names),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise errors.Unavailable(
                f"index database {self.path} was handed off and removed; retry",
                reason="INDEX_MOVED",
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()

    def apply(
        self,
        rows: list[Row],
        *,
        source: str = "",
        up_to: int = 0,
        replaced: list[Row] | None = None,
        durable: bool = True,
    ) -> int:
        """Store each row that is newer than its name's stored row; return how many were.

        Each stored row gets the next sequence number.  With ``source`` (a peer's
        replica id) the sync point for it becomes ``max(point, up_to)`` in the same
        transaction: the peer's rows up to ``up_to`` are then known to be here.
        ``replaced`` (when given) receives the live rows that newer ones replaced.

        ``durable=False`` commits without syncing the write-ahead log
        (``synchronous=NORMAL``: the file stays consistent, but a crash may roll the
        transaction back); the caller then makes it durable with one ``syncfs`` of the
        file system for every shard it touched (:class:`storage.container.server.
        _IndexCommitter`) before it reports success to anyone."""
        changed = 0
        with self._lock:
            self._check_open()
            db = self._db
            if durable != self._synchronous_full:
                db.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
                self._synchronous_full = durable
            db.execute("BEGIN IMMEDIATE")
            try:
                count, used, newest, seq = db.execute(
                    "SELECT object_count, bytes_used, max_timestamp, max_seq FROM stats"
                ).fetchone()
                for row in rows:
                    stamp = Timestamp.parse(row.timestamp).internal
                    old = db.execute(
                        "SELECT timestamp, deleted, size, etag FROM rows WHERE name = ?",
                        (row.name,),
                    ).fetchone()
                    if old is not None:
                        if old[0] >= stamp:
                            continue
                        if not old[1]:
                            count -= 1
                            used -= old[2]
                            if replaced is not None:
                                replaced.append(Row(row.name, old[0], False, old[2], old[3]))
                    seq += 1
                    db.execute(
                        "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            row.name,
                            stamp,
                            int(row.deleted),
                            0 if row.deleted else row.size,
                            row.etag,
                            row.content_type,
                            row.extra,
                            seq,
                        ),
                    )
                    if not row.deleted:
                        count += 1
                        used += row.size
                    newest = max(newest, stamp)
                    changed += 1
                db.execute(
                    "UPDATE stats SET object_count = ?, bytes_used = ?, max_timestamp = ?, "
                    "max_seq = ?",
                    (count, used, newest, seq),
                )
                if source:
                    db.execute(
                        "INSERT INTO sync_points (source, seq) VALUES (?, ?) ON CONFLICT "
                        "(source) DO UPDATE SET seq = max(seq, excluded.seq)",
                        (source, up_to),
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
        sql = f"SELECT {_COLUMNS} FROM rows WHERE "
        sql += "name >= ?" if inclusive else "name > ?"
        args: list[object] = [low]
        if high is not None:
            sql += " AND name < ?"
            args.append(high)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        with self._lock:
            self._check_open()
            found = self._db.execute(sql, args).fetchall()
        return [Row(n, t, bool(d), s, e, c, x) for n, t, d, s, e, c, x in found]

    def stats(self) -> Stats:
        with self._lock:
            self._check_open()
            count, used, newest = self._db.execute(
                "SELECT object_count, bytes_used, max_timestamp FROM stats"
            ).fetchone()
        return Stats(True, count, used, newest)

    def sync_state(self, source: str) -> SyncState:
        """This replica's id, counter and totals, and its sync point for ``source``."""
        with self._lock:
            self._check_open()
            count, used, newest, seq = self._db.execute(
                "SELECT object_count, bytes_used, max_timestamp, max_seq FROM stats"
            ).fetchone()
            point = self._db.execute(
                "SELECT seq FROM sync_points WHERE source = ?", (source,)
            ).fetchone()
        return SyncState(
            self.replica_id, seq, point[0] if point else 0, Stats(True, count, used, newest)
        )

    def changes(self, after: int, limit: int, skip_tombstones_before: str = "") -> Changes:
        """Up to ``limit`` rows with a sequence above ``after``, in sequence order.

        Tombstones older than ``skip_tombstones_before`` (internal timestamp text) are
        scanned but left out: they are being reclaimed, and sending one would bring
        it back to a replica that reclaimed it already."""
        with self._lock:
            self._check_open()
            found = self._db.execute(
                f"SELECT {_COLUMNS}, seq FROM rows WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
            (counter,) = self._db.execute("SELECT max_seq FROM stats").fetchone()
        rows = [
            Row(n, t, bool(d), s, e, c, x)
            for n, t, d, s, e, c, x, _ in found
            if not (d and t < skip_tombstones_before)
        ]
        more = len(found) >= limit
        # Without more rows, nothing is left up to the counter (numbers of replaced or
        # reclaimed rows are gone), so the reader may move its point there.
        up_to = found[-1][7] if more else max(counter, after)
        return Changes(rows, up_to, more)

    def reclaim(self, before: str) -> int:
        """Remove tombstone rows older than ``before``; return how many.  Totals count
        live rows only, so they do not change."""
        with self._lock:
            self._check_open()
            cursor = self._db.execute(
                "DELETE FROM rows WHERE deleted = 1 AND timestamp < ?", (before,)
            )
        return cursor.rowcount

    def remove_if_unchanged(self, max_seq: int) -> bool:
        """Close and delete this database file if nothing was written since its counter
        was ``max_seq`` (a handoff whose rows every primary confirmed); False if it
        changed meanwhile, so what is removed is exactly what was confirmed."""
        with self._lock:
            if self._closed:
                return False
            (current,) = self._db.execute("SELECT max_seq FROM stats").fetchone()
            if current != max_seq:
                return False
            self._closed = True
            self._db.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + suffix)
        return True


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

    def forget(self, shard: IndexShard) -> None:
        """Drop ``shard`` from the cache (after it was removed from disk)."""
        with self._lock:
            if self._open.get(shard.path) is shard:
                del self._open[shard.path]

    def close(self) -> None:
        with self._lock:
            shards = list(self._open.values())
            self._open.clear()
        for shard in shards:
            shard.close()


__all__ = [
    "Changes",
    "IndexShard",
    "Row",
    "ShardCache",
    "Stats",
    "SyncState",
    "local_databases",
    "parse_shard_key",
    "prefix_end",
    "shard_file",
    "shard_key",
]
