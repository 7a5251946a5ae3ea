"""How fast a listing page is when one container holds millions of objects.

Fills the index shards of one container directly (bulk SQLite inserts into the
shard files, at the paths a storage node uses), then times what a node does for a
ListObjects page - ``ContainerServerServicer.ListIndex`` over all the container's
shards (one SQLite range scan per shard, merged) - and the proxy's page logic on
top (``list_page`` with tombstone skipping and the delimiter, which is pushed down to
the node as in production), plus the container statistics.  Prints one JSON object.

    python bench/listing.py --objects 1000000 --shards 8
    python bench/listing.py --objects 10000000 --shards 16     # ~10 min to fill here
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from storage.container.index import IndexShard, Row, shard_file, shard_key
from storage.container.merge import group_frontier, merge_listings
from storage.container.server import ContainerServerServicer, IndexDevice, row_from
from storage.proxy.index import shard_of
from storage.proxy.listing import list_page

ACCOUNT, CONTAINER, PART = "bench-project", "big", 0


def name_of(i: int) -> str:
    # 1000 "directories" of names, so delimiter listings have something to roll up.
    return f"dir{i % 1000:04d}/object-{i:09d}.bin"


INSERT = "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def fill(device: Path, objects: int, shards: int) -> float:
    started = time.perf_counter()
    paths = [shard_file(str(device), PART, ACCOUNT, CONTAINER, s) for s in range(shards)]
    for s, path in enumerate(paths):
        IndexShard(path, shard_key(ACCOUNT, CONTAINER, s)).close()  # schema
    connections = [sqlite3.connect(p, isolation_level=None) for p in paths]
    for db in connections:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
    batches: list[list[tuple[object, ...]]] = [[] for _ in range(shards)]
    counts = [0] * shards
    for i in range(objects):
        name = name_of(i)
        s = shard_of(name, shards)
        counts[s] += 1
        row = (name, "1732712345.00000_0000", 0, 4096, "0" * 32, "", b"", counts[s])
        batches[s].append(row)
        if len(batches[s]) >= 20_000:
            connections[s].executemany(INSERT, batches[s])
            batches[s] = []
    for s, db in enumerate(connections):
        if batches[s]:
            db.executemany(INSERT, batches[s])
        db.execute(
            "UPDATE stats SET object_count = ?, bytes_used = ?, max_timestamp = ?, max_seq = ?",
            (counts[s], counts[s] * 4096, "1732712345.00000_0000", counts[s]),
        )
        db.execute("COMMIT")
        db.close()
    return time.perf_counter() - started


async def measure(
    device: Path, objects: int, shards: int, repeat: int
) -> dict[str, dict[str, float]]:
    executor = ThreadPoolExecutor(16)
    servicer = ContainerServerServicer({"d1": IndexDevice(str(device), executor)})
    refs = [
        ipb.ShardRef(device="d1", partition=PART, account=ACCOUNT, container=CONTAINER, shard=s)
        for s in range(shards)
    ]

    async def fetch(
        prefix: str, marker: str, limit: int, delimiter: str
    ) -> tuple[list[Row], bool, dict[str, str]]:
        request = ipb.ListIndexRequest(
            shards=refs, prefix=prefix, marker=marker, limit=limit, delimiter=delimiter
        )
        response = await servicer.ListIndex(request, None)  # type: ignore[arg-type]
        # What the proxy does with three replicas' answers (here: the same one three times).
        rows = [row_from(r) for r in response.rows]
        lists = [(rows, response.truncated)] * 3
        frontier = group_frontier(lists, prefix, delimiter) if delimiter else {}
        merged, truncated = merge_listings(lists, limit)
        return merged, truncated, frontier

    async def timed(label: str, page: object) -> tuple[str, dict[str, float]]:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            await page()  # type: ignore[operator]
            samples.append((time.perf_counter() - started) * 1000)
        return label, {
            "p50_ms": round(statistics.median(samples), 2),
            "max_ms": round(max(samples), 2),
        }

    rng = random.Random(1)
    middle = name_of(rng.randrange(objects))

    def page(prefix: str = "", marker: str = "", delimiter: str = "", limit: int = 1000) -> object:
        async def run() -> object:
            return await list_page(
                lambda cursor, n: fetch(prefix, cursor, n, delimiter),
                prefix=prefix,
                delimiter=delimiter,
                marker=marker,
                limit=limit,
            )

        return run

    async def stats() -> None:
        await servicer.GetIndexStats(ipb.GetIndexStatsRequest(shards=refs), None)  # type: ignore[arg-type]

    results = dict(
        [
            await timed("first_page_1000", page()),
            await timed("middle_page_1000", page(marker=middle)),
            await timed("prefix_page_1000", page(prefix="dir0042/")),
            await timed("delimiter_page_100_prefixes", page(delimiter="/", limit=100)),
            await timed("container_stats", stats),
        ]
    )
    servicer.close()
    executor.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, help="where to put the shard files (default: tmp)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=options.dir) as tmp:
        device = Path(tmp) / "d1"
        fill_seconds = fill(device, options.objects, options.shards)
        size = sum(p.stat().st_size for p in device.rglob("*.db"))
        timings = asyncio.run(measure(device, options.objects, options.shards, options.repeat))
    print(
        json.dumps(
            {
                "bench": "listing",
                "objects": options.objects,
                "shards": options.shards,
                "fill_seconds": round(fill_seconds, 1),
                "index_bytes": size,
                "pages": timings,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
