"""Index shards (SQLite) and the merge of listings: newest wins, stats, cut-offs."""

from __future__ import annotations

from pathlib import Path

from storage.container.index import IndexShard, Row, prefix_end
from storage.container.merge import merge_listings


def ts(n: int) -> str:
    return f"1732712345.{n:05d}_0000"


def test_apply_keeps_the_newest_row_and_counts_live_rows(tmp_path: Path) -> None:
    shard = IndexShard(str(tmp_path / "s.db"), "/a/c/0")
    assert shard.apply([Row("a", ts(2), size=10), Row("b", ts(2), size=5)]) == 2
    assert shard.apply([Row("a", ts(1), size=99)]) == 0  # older: ignored
    assert shard.apply([Row("a", ts(2), size=99)]) == 0  # same version: ignored
    stats = shard.stats()
    assert (stats.object_count, stats.bytes_used, stats.max_timestamp) == (2, 15, ts(2))
    assert shard.apply([Row("a", ts(3), deleted=True)]) == 1
    assert shard.apply([Row("a", ts(1), size=7)]) == 0  # a late old PUT cannot resurrect it
    stats = shard.stats()
    assert (stats.object_count, stats.bytes_used) == (1, 5)
    rows = shard.list("", "", 10)
    assert [(r.name, r.deleted) for r in rows] == [("a", True), ("b", False)]
    shard.close()


def test_apply_reports_the_live_rows_it_replaced(tmp_path: Path) -> None:
    shard = IndexShard(str(tmp_path / "s.db"), "/a/c/0")
    replaced: list[Row] = []
    shard.apply([Row("big", ts(1), size=9, etag="e" * 32 + "-3")], replaced=replaced)
    assert replaced == []  # nothing stored before
    shard.apply([Row("big", ts(2), size=4, etag="small")], replaced=replaced)
    assert [(r.name, r.timestamp, r.size, r.etag) for r in replaced] == [
        ("big", ts(1), 9, "e" * 32 + "-3")
    ]
    replaced.clear()
    shard.apply([Row("big", ts(1), size=1)], replaced=replaced)  # older: not applied
    shard.apply([Row("big", ts(3), deleted=True)], replaced=replaced)
    shard.apply([Row("big", ts(4), size=1)], replaced=replaced)  # over a tombstone
    assert [r.timestamp for r in replaced] == [ts(2)]
    shard.close()


def test_list_prefix_marker_limit(tmp_path: Path) -> None:
    shard = IndexShard(str(tmp_path / "s.db"), "/a/c/0")
    names = ["a", "a/1", "a/2", "ab", "b", "b/1", "\u00e4", "\u2603"]
    shard.apply([Row(n, ts(1)) for n in names])
    assert [r.name for r in shard.list("", "", 100)] == sorted(names)
    assert [r.name for r in shard.list("a/", "", 100)] == ["a/1", "a/2"]
    assert [r.name for r in shard.list("a", "a/1", 100)] == ["a/2", "ab"]
    assert [r.name for r in shard.list("", "b", 2)] == ["b/1", "\u00e4"]
    assert [r.name for r in shard.list("\u2603", "", 5)] == ["\u2603"]
    assert prefix_end("ab") == "ac" and prefix_end("") is None
    shard.close()


def test_merge_takes_the_newest_version_of_each_name() -> None:
    one = [Row("a", ts(1)), Row("b", ts(5), deleted=True), Row("c", ts(1))]
    two = [Row("a", ts(2), size=3), Row("b", ts(4)), Row("d", ts(1))]
    merged, truncated = merge_listings([(one, False), (two, False)], 10)
    assert [(r.name, r.timestamp, r.deleted) for r in merged] == [
        ("a", ts(2), False),
        ("b", ts(5), True),
        ("c", ts(1), False),
        ("d", ts(1), False),
    ]
    assert not truncated


def test_merge_stops_at_the_first_truncated_inputs_last_row() -> None:
    # Input one was cut at "c": it says nothing about names after "c", so neither may we.
    one = [Row("a", ts(1)), Row("c", ts(1))]
    two = [Row("b", ts(1)), Row("d", ts(1)), Row("e", ts(1))]
    merged, truncated = merge_listings([(one, True), (two, False)], 10)
    assert [r.name for r in merged] == ["a", "b", "c"] and truncated
    merged, truncated = merge_listings([(one, False), (two, False)], 2)
    assert [r.name for r in merged] == ["a", "b"] and truncated


def test_apply_without_a_log_sync_commits_and_the_next_durable_apply_syncs_again(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    shard = IndexShard(path, "k")
    assert shard.apply([Row("a", "1732712345.00001_0000", False, 1, "e")], durable=False) == 1
    assert shard._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert shard.apply([Row("b", "1732712345.00001_0000", False, 2, "e")]) == 1
    assert shard._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    shard.close()
    reopened = IndexShard(path, "")
    assert [r.name for r in reopened.list("", "", 10)] == ["a", "b"]
    reopened.close()
