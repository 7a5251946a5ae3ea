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
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from storage.container.index import Row


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
