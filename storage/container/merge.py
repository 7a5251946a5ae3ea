"""Merging index listings: several sorted row lists into one, newest version of each name.

Used twice with the same rules: by a node over the shards it holds, and by the proxy
over the answers of every replica of every shard.  The contract of
:func:`merge_listings`:

* each input list is sorted by name and holds at most one row per name;
* an input that was cut short by its limit (``truncated``) says nothing about names
  after its last row, so the merged answer stops at the smallest such last name
  (the *cutoff*) and reports itself truncated: the caller continues from there;
* for a name present in several inputs the row with the newest timestamp wins, so a
  tombstone on one replica hides an older live row on another (a replica that missed
  a delete cannot bring the name back into the listing);
* tombstones stay in the answer; the caller drops them after the last merge.

:func:`list_grouped` is the node's side of a delimiter listing (see its docstring and
``storage/proxy/listing.py`` for why returning each group only up to its first live
row is enough for the proxy to decide exactly, even when replicas disagree).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from storage.container.index import IndexShard, Row

#: Sorts after every character a name may contain: "g" + MAX_CHAR is past every name under "g".
MAX_CHAR = chr(0x10FFFF)


def merge_listings(
    lists: Sequence[tuple[Sequence[Row], bool]], limit: int
) -> tuple[list[Row], bool]:
    """Merge ``(rows, truncated)`` inputs; at most ``limit`` rows, and whether more may exist."""
    cutoff: str | None = None
    for rows, truncated in lists:
        if truncated and rows:
            last = rows[-1].name
            cutoff = last if cutoff is None or last < cutoff else cutoff
    merged: list[Row] = []
    truncated_out = cutoff is not None
    streams = [rows for rows, _ in lists if rows]
    for row in heapq.merge(*streams, key=lambda r: r.name):
        if cutoff is not None and row.name > cutoff:
            break
        if merged and merged[-1].name == row.name:
            if row.timestamp > merged[-1].timestamp:
                merged[-1] = row
            continue
        if len(merged) == limit:
            truncated_out = True
            break
        merged.append(row)
    return merged, truncated_out


class _Cursor:
    """Rows of one shard in name order, fetched in small batches, able to skip a group."""

    def __init__(self, shard: IndexShard | None, prefix: str, marker: str, limit: int) -> None:
        self.shard = shard
        self.prefix = prefix
        self.marker = marker
        # Small reads first: after a group's first live row the rest of the group is
        # skipped, so rows read ahead within a group are wasted.  Reads double while
        # rows are consumed one by one (tombstones, names outside groups).
        self.batch = 8
        self.limit = limit
        self.skipped = False
        self.rows: list[Row] = []
        self.pos = 0
        self.done = shard is None

    def peek(self) -> Row | None:
        if self.pos >= len(self.rows):
            if self.done:
                return None
            assert self.shard is not None
            if self.rows and not self.skipped:
                self.batch = min(self.batch * 2, 256, self.limit)
            self.skipped = False
            self.rows = self.shard.list(self.prefix, self.marker, self.batch)
            self.pos = 0
            if len(self.rows) < self.batch:
                self.done = True
            if not self.rows:
                return None
            self.marker = self.rows[-1].name
        return self.rows[self.pos]

    def pop(self) -> None:
        self.pos += 1

    def skip(self, group: str) -> None:
        """Drop every row starting with ``group`` (re-querying past it when needed)."""
        while self.pos < len(self.rows) and self.rows[self.pos].name.startswith(group):
            self.pos += 1
        if self.pos >= len(self.rows) and not self.done and self.marker.startswith(group):
            self.marker = group + MAX_CHAR
            self.skipped = True


def list_grouped(
    shards: Sequence[IndexShard | None], prefix: str, marker: str, delimiter: str, limit: int
) -> tuple[list[Row], bool]:
    """A node's delimiter listing over its shards (blocking; run it on a thread).

    Rows in name order, newest version per name; a row whose name continues past
    ``prefix`` with ``delimiter`` belongs to a group, and of each group only the rows
    up to and including the first live one are returned (the group is then skipped).
    Returns whether more rows may follow the last one.
    """
    cursors = [_Cursor(s, prefix, marker, limit) for s in shards]
    out: list[Row] = []
    while True:
        heads = [(c, c.peek()) for c in cursors]
        live_heads = [(c, r) for c, r in heads if r is not None]
        if not live_heads:
            return out, False
        if len(out) == limit:
            return out, True
        name = min(r.name for _, r in live_heads)  # type: ignore[union-attr]
        best: Row | None = None
        for cursor, row in live_heads:
            assert row is not None
            if row.name == name:
                cursor.pop()
                if best is None or row.timestamp > best.timestamp:
                    best = row
        assert best is not None
        out.append(best)
        at = name.find(delimiter, len(prefix))
        if at >= 0 and not best.deleted:
            group = name[: at + len(delimiter)]
            for cursor in cursors:
                cursor.skip(group)


def group_frontier(
    lists: Sequence[tuple[Sequence[Row], bool]], prefix: str, delimiter: str
) -> dict[str, str]:
    """Per group, the smallest row at which an answer of :func:`list_grouped` stopped early.

    Such an answer's last row in a group is live (its first live row there); every other
    answer reported all its rows of the group up to that name, so the merge is exact up
    to it and not beyond.
    """
    frontier: dict[str, str] = {}
    for rows, _ in lists:
        last_in_group: dict[str, Row] = {}
        for row in rows:
            at = row.name.find(delimiter, len(prefix))
            if at >= 0:
                last_in_group[row.name[: at + len(delimiter)]] = row
        for group, row in last_in_group.items():
            if not row.deleted and (group not in frontier or row.name < frontier[group]):
                frontier[group] = row.name
    return frontier
