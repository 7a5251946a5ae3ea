"""Index sync logic: sequence numbers, sync points, change feeds, reclaim, push and pull.

Two or three replicas are local SQLite files; :class:`LocalPeer` plays the peer's node
in-process (no sockets), so the algorithm of storage/replication/index_sync.py is tested
exactly as the replicator runs it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storage.container.index import IndexShard, Row, parse_shard_key, shard_key
from storage.replication.index_sync import (
    PeerChanges,
    PeerPoint,
    ShardAddress,
    pull,
    push,
)

KEY = shard_key("AUTH_a", "c", 0)
ADDR = ShardAddress("d1", 0, "AUTH_a", "c", 0)


def ts(n: int) -> str:
    return f"1732712345.{n:05d}_0000"


async def run(fn: Any, *args: Any) -> Any:
    return fn(*args)


class LocalPeer:
    """The IndexPeer calls answered by one local IndexShard."""

    def __init__(self, shard: IndexShard) -> None:
        self.shard = shard
        self.calls = 0

    async def sync_points(
        self, shards: Sequence[ShardAddress], sources: Sequence[str]
    ) -> list[PeerPoint]:
        self.calls += 1
        out = []
        for _, source in zip(shards, sources, strict=True):
            state = self.shard.sync_state(source)
            out.append(PeerPoint(True, state.replica_id, state.max_seq, state.point))
        return out

    async def changes(
        self, shard: ShardAddress, after: int, limit: int, skip_tombstones_before: str
    ) -> PeerChanges:
        self.calls += 1
        found = self.shard.changes(after, limit, skip_tombstones_before)
        return PeerChanges(self.shard.replica_id, found)

    async def send(self, shard: ShardAddress, source: str, up_to: int, rows: list[Row]) -> int:
        self.calls += 1
        self.shard.apply(rows, source=source, up_to=up_to)
        return self.shard.sync_state(source).point


async def sync(a: IndexShard, b: IndexShard, cutoff: str = "", batch: int = 1000) -> int:
    """One primary's exchange with one peer, as the replicator does it: push, then pull."""
    peer = LocalPeer(b)
    (theirs,) = await peer.sync_points([ADDR], [a.replica_id])
    mine = a.sync_state("").max_seq
    await push(run, a, peer, ADDR, theirs.point, mine, cutoff, batch)
    point = a.sync_state(theirs.replica_id).point
    await pull(run, a, peer, ADDR, point, theirs.max_seq, cutoff, batch)
    return peer.calls


def content(shard: IndexShard) -> list[tuple[str, str, bool, int]]:
    return [(r.name, r.timestamp, r.deleted, r.size) for r in shard.list("", "", 100_000)]


def totals(shard: IndexShard) -> tuple[int, int]:
    stats = shard.stats()
    return stats.object_count, stats.bytes_used


def open_shard(path: Path) -> IndexShard:
    return IndexShard(str(path), KEY)


def test_every_stored_row_gets_the_next_sequence_and_changes_follow_it(tmp_path: Path) -> None:
    shard = open_shard(tmp_path / "a.db")
    shard.apply([Row("x", ts(1), size=1), Row("y", ts(1), size=2)])
    shard.apply([Row("x", ts(2), size=3), Row("z", ts(0))])  # x replaced; z new
    shard.apply([Row("y", ts(0), size=9)])  # older: not stored, no number used
    assert shard.sync_state("").max_seq == 4
    found = shard.changes(0, 10)
    assert [r.name for r in found.rows] == ["y", "x", "z"] and found.up_to == 4
    assert not found.more
    page = shard.changes(0, 2)
    assert [r.name for r in page.rows] == ["y", "x"] and page.up_to == 3 and page.more
    assert shard.changes(4, 10).rows == []
    shard.close()


def test_sync_points_commit_with_the_rows_and_never_go_back(tmp_path: Path) -> None:
    shard = open_shard(tmp_path / "a.db")
    shard.apply([Row("x", ts(1))], source="peer1", up_to=7)
    assert shard.sync_state("peer1").point == 7
    shard.apply([], source="peer1", up_to=3)  # a late, older batch
    assert shard.sync_state("peer1").point == 7
    assert shard.sync_state("someone-else").point == 0
    shard.close()


def test_replica_ids_differ_per_file_and_survive_reopening(tmp_path: Path) -> None:
    a, b = open_shard(tmp_path / "a.db"), open_shard(tmp_path / "b.db")
    assert a.replica_id != b.replica_id
    ident = a.replica_id
    a.close()
    again = IndexShard(str(tmp_path / "a.db"), "")  # key read back from the file
    assert again.replica_id == ident and again.key == KEY
    assert parse_shard_key(again.key) == ("AUTH_a", "c", 0)
    again.close()
    b.close()


def test_an_old_file_without_sequence_numbers_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        """
        CREATE TABLE rows (name TEXT PRIMARY KEY, timestamp TEXT NOT NULL,
            deleted INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
            content_type TEXT NOT NULL, extra BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE stats (id INTEGER PRIMARY KEY CHECK (id = 0), object_count INTEGER
            NOT NULL, bytes_used INTEGER NOT NULL, max_timestamp TEXT NOT NULL);
        CREATE TABLE shard (key TEXT NOT NULL);
        INSERT INTO stats VALUES (0, 2, 5, '1732712345.00001_0000');
        INSERT INTO shard VALUES ('/AUTH_a/c/0');
        INSERT INTO rows VALUES ('b', '1732712345.00001_0000', 0, 2, '', '', x'');
        INSERT INTO rows VALUES ('a', '1732712345.00001_0000', 0, 3, '', '', x'');
        """
    )
    db.close()
    shard = IndexShard(str(path), "")
    assert shard.sync_state("").max_seq == 2
    assert [r.name for r in shard.changes(0, 10).rows] == ["a", "b"]
    shard.apply([Row("c", ts(2), size=1)])
    assert shard.sync_state("").max_seq == 3 and totals(shard) == (3, 6)
    shard.close()


def test_push_and_pull_converge_two_diverged_replicas_with_exact_totals(tmp_path: Path) -> None:
    a, b = open_shard(tmp_path / "a.db"), open_shard(tmp_path / "b.db")
    a.apply([Row(f"o{i}", ts(1), size=i) for i in range(50)])
    b.apply([Row(f"o{i}", ts(2), deleted=True) for i in range(0, 50, 5)])  # b saw deletes
    b.apply([Row(f"p{i}", ts(3), size=1) for i in range(7)])  # and some PUTs a missed
    asyncio.run(sync(a, b, batch=8))  # small batches: resumes across calls
    assert content(a) == content(b)
    assert totals(a) == totals(b) == (40 + 7, sum(i for i in range(50) if i % 5) + 7)
    # In agreement now: the next exchange moves only the echo of what b just pulled.
    asyncio.run(sync(b, a))
    assert asyncio.run(sync(a, b)) == 1  # only the sync-points call
    a.close()
    b.close()


def test_replay_in_any_order_is_newest_wins(tmp_path: Path) -> None:
    rng = random.Random(7)
    # Distinct timestamps: two versions of one name never share one.
    stamps = rng.sample(range(1, 10_000), 300)
    updates = [
        Row(f"n{rng.randrange(20)}", ts(t), rng.random() < 0.3, rng.randrange(9)) for t in stamps
    ]
    shards = [open_shard(tmp_path / f"{i}.db") for i in range(3)]
    seen = []
    for update in updates:  # each replica saw a random half, in its own order
        for shard in shards:
            if rng.random() < 0.5:
                shard.apply([update])
                seen.append(update)
    for _ in range(2):
        for x in shards:
            for y in shards:
                if x is not y:
                    asyncio.run(sync(x, y, batch=5))
    truth = open_shard(tmp_path / "truth.db")
    truth.apply(seen)
    for shard in shards:
        assert content(shard) == content(truth)
        assert totals(shard) == totals(truth)
        shard.apply(list(reversed(seen)))  # replay everything again: no change
        assert content(shard) == content(truth) and totals(shard) == totals(truth)
    for shard in [*shards, truth]:
        shard.close()


def test_old_tombstones_are_reclaimed_and_never_sent(tmp_path: Path) -> None:
    a, b = open_shard(tmp_path / "a.db"), open_shard(tmp_path / "b.db")
    a.apply([Row("old", ts(1), deleted=True), Row("new", ts(9), deleted=True), Row("x", ts(1))])
    cutoff = ts(5)
    asyncio.run(sync(a, b, cutoff))
    assert [(r.name, r.deleted) for r in b.list("", "", 10)] == [("new", True), ("x", False)]
    assert a.reclaim(cutoff) == 1
    assert [r.name for r in a.list("", "", 10)] == ["new", "x"]
    assert totals(a) == totals(b) == (1, 0)
    # The peer's point moved past the skipped tombstone: nothing left to send.
    assert b.sync_state(a.replica_id).point == a.sync_state("").max_seq
    a.close()
    b.close()


def test_a_peer_that_had_a_row_does_not_get_it_back_after_the_delete_was_reclaimed(
    tmp_path: Path,
) -> None:
    """c holds a live row it already replicated; a and b delete it (c is away) and reclaim
    the tombstone.  c's sync points say a and b have its row, so c does not resend it."""
    a, b, c = (open_shard(tmp_path / f"{n}.db") for n in "abc")
    c.apply([Row("doomed", ts(1), size=4)])
    for x, y in [(a, c), (b, c), (c, a), (c, b)]:
        asyncio.run(sync(x, y))
    for x in (a, b):
        x.apply([Row("doomed", ts(2), deleted=True)])
    asyncio.run(sync(a, b))
    cutoff = ts(3)
    assert a.reclaim(cutoff) == b.reclaim(cutoff) == 1
    for x, y in [(c, a), (c, b), (a, c), (b, c)]:
        asyncio.run(sync(x, y, cutoff))
    assert content(a) == content(b) == []
    assert totals(a) == totals(b) == (0, 0)
    for x in (a, b, c):
        x.close()


def test_a_removed_file_is_exactly_what_was_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    shard = open_shard(path)
    shard.apply([Row("x", ts(1))])
    counter = shard.sync_state("").max_seq
    shard.apply([Row("y", ts(1))])  # written after the peers confirmed `counter`
    assert not shard.remove_if_unchanged(counter)
    assert shard.remove_if_unchanged(shard.sync_state("").max_seq)
    assert not path.exists()
