"""Delimiter listings pushed down to the nodes stay exact when replicas disagree.

Each "node" is an index shard holding one replica; replicas miss updates at random (a
stale live row where the others have a newer tombstone, or the reverse).  The listing
the proxy computes from the nodes' grouped answers (first live row per group, then the
frontier rule) must equal the listing of the true newest version of every name.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from storage.container.index import IndexShard, Row
from storage.container.merge import group_frontier, list_grouped, merge_listings
from storage.proxy.listing import list_page


def ts(n: int) -> str:
    return f"1732712345.{n:05d}_0000"


def scenario(rng: random.Random, tmp: Path) -> tuple[list[IndexShard], dict[str, Row]]:
    names = [f"{g}/{i:02d}" for g in "abcdefg" for i in range(rng.randrange(1, 12))]
    names += ["plain1", "plain2", "z"]
    nodes = [IndexShard(str(tmp / f"n{n}.db"), "/a/c/0") for n in range(3)]
    truth: dict[str, Row] = {}
    for name in names:
        versions = [
            Row(name, ts(v), deleted=rng.random() < 0.6, size=v)
            for v in sorted(rng.sample(range(1, 99), 3))
        ]
        truth[name] = versions[-1]
        # The newest version reached two replicas (a quorum); the third has an older one
        # or nothing, as if it had been down.
        stale = rng.randrange(3)
        for n, node in enumerate(nodes):
            if n != stale:
                node.apply([versions[-1]])
            elif rng.random() < 0.7:
                node.apply([versions[rng.randrange(2)]])
    return nodes, truth


def expected(truth: dict[str, Row], prefix: str, delimiter: str) -> list[str]:
    out: list[str] = []
    for name in sorted(truth):
        row = truth[name]
        if row.deleted or not name.startswith(prefix):
            continue
        at = name.find(delimiter, len(prefix)) if delimiter else -1
        entry = name[: at + len(delimiter)] if at >= 0 else name
        if not out or out[-1] != entry:
            out.append(entry)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_grouped_listing_equals_the_truth(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    nodes, truth = scenario(rng, tmp_path)
    prefix = rng.choice(["", "", "c", "plain"])
    delimiter = rng.choice(["/", "/", ""])
    node_limit = rng.choice([1, 2, 3, 7, 100])

    async def fetch(cursor: str, count: int) -> tuple[list[Row], bool, dict[str, str]]:
        n = min(count, node_limit)  # small node answers exercise every cut-off
        lists = [list_grouped([node], prefix, cursor, delimiter, n) for node in nodes]
        if not delimiter:
            lists = [(node.list(prefix, cursor, n), True) for node in nodes]
            lists = [(rows, len(rows) == n) for rows, _ in lists]
        frontier = group_frontier(lists, prefix, delimiter) if delimiter else {}
        rows, truncated = merge_listings(lists, n)
        return rows, truncated, frontier

    want = expected(truth, prefix, delimiter)
    got: list[str] = []
    marker, is_prefix = "", False
    page_size = rng.choice([1, 2, 5, 1000])
    for _ in range(200):
        page = asyncio.run(
            list_page(
                fetch,
                prefix=prefix,
                delimiter=delimiter,
                marker=marker,
                limit=page_size,
                marker_is_prefix=is_prefix,
            )
        )
        got += page.order
        if not page.next_token:
            break
        marker, is_prefix = page.order[-1], page.order[-1] in page.prefixes
    assert got == want
    for node in nodes:
        node.close()
