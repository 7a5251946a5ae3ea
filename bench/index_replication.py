"""How long an index replication pass takes: a node that missed N listing rows heals.

Three in-process object servers (one device each, so every node holds every shard),
one container of ``--shards`` shards.  Nodes 1 and 2 get ``--rows`` rows (batches of
1000 per UpdateIndex); node 0 gets one row per shard (so its databases exist) and
then runs a pass that pulls everything it missed.  Then every node runs two more
passes: the first moves the echo (rows a node received come back once, applied as
no-ops), the second finds every replica in agreement (one sync-points call per
partition and peer).  JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.containerserver.v1 import containerserver_pb2_grpc
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.objectserver.v1 import replication_pb2_grpc
from storage.object.client import ObjectServerClient
from storage.object.main import ObjectServer, open_devices, start_object_server
from storage.replication.daemons import ReplicationSettings
from storage.ring import Ring, RingBuilder
from storage.timestamp import Timestamp

CREDENTIAL = "bench-index-replication-credential-0123"
ACCOUNT, CONTAINER = "AUTH_bench", "c"


async def main(rows: int, shards: int, root: Path) -> dict[str, object]:
    settings = ReplicationSettings(
        ring_file=root / "object.ring", replication_enabled=False, audit_enabled=False
    )
    servers: list[ObjectServer] = []
    for n in range(3):
        devices = open_devices(
            root / f"node{n}", [f"n{n}d0"], chunk_size=1 << 20, threads_per_device=8, create=True
        )
        servers.append(
            await start_object_server(
                listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL, replication=settings
            )
        )
    builder = RingBuilder(6, 3, min_part_hours=0)
    for n, server in enumerate(servers):
        builder.add_device(
            region=1, zone=n + 1, ip="127.0.0.1", port=server.server.port,
            device=f"n{n}d0", weight=1,
        )  # fmt: skip
    builder.rebalance()
    builder.write_ring(settings.ring_file)
    ring = Ring(settings.ring_file)
    clients = [ObjectServerClient(s.address, CREDENTIAL) for s in servers]
    stubs = [containerserver_pb2_grpc.ContainerServerServiceStub(c.channel) for c in clients]
    parts = [ring.get_part(ACCOUNT, CONTAINER, str(s)) for s in range(shards)]
    stamp = Timestamp.now().internal

    def ref(node: int, shard: int) -> ipb.ShardRef:
        return ipb.ShardRef(
            device=f"n{node}d0", partition=parts[shard], account=ACCOUNT,
            container=CONTAINER, shard=shard,
        )  # fmt: skip

    async def update(node: int, batch: dict[int, list[ipb.IndexRow]]) -> None:
        request = ipb.UpdateIndexRequest(
            updates=[ipb.ShardUpdate(shard=ref(node, s), rows=r) for s, r in batch.items()]
        )
        await stubs[node].UpdateIndex(request, metadata=clients[node].metadata)

    begun = time.perf_counter()
    for start in range(0, rows, 1000):
        batch: dict[int, list[ipb.IndexRow]] = {}
        for i in range(start, min(rows, start + 1000)):
            row = ipb.IndexRow(name=f"dir{i % 100}/object-{i:09d}", timestamp=stamp, size=4096)
            batch.setdefault(i % shards, []).append(row)
        await asyncio.gather(update(1, batch), update(2, batch))
    write_seconds = time.perf_counter() - begun
    seed = {s: [ipb.IndexRow(name=f"seed-{s}", timestamp=stamp, size=1)] for s in range(shards)}
    for node in range(3):
        await update(node, seed)

    async def replicate(node: int) -> tuple[float, rpb.IndexReplicationPass]:
        stub = replication_pb2_grpc.ReplicationServiceStub(clients[node].channel)
        started = time.perf_counter()
        response = await stub.RunReplication(
            rpb.RunReplicationRequest(), metadata=clients[node].metadata
        )
        return time.perf_counter() - started, response.passes[0].index

    repair_seconds, repair = await replicate(0)
    echo = [await replicate(n) for n in range(3)]
    quiet = [await replicate(n) for n in range(3)]
    stats = await stubs[0].GetIndexStats(
        ipb.GetIndexStatsRequest(shards=[ref(0, s) for s in range(shards)]),
        metadata=clients[0].metadata,
    )
    for client in clients:
        await client.close()
    for server in servers:
        await server.stop(grace=0)
    return {
        "rows": rows,
        "shards": shards,
        "write_seconds_two_replicas": round(write_seconds, 3),
        "repair_pass_seconds": round(repair_seconds, 3),
        "repair_index_seconds": round(repair.seconds, 3),
        "repair_rows_pulled": repair.rows_pulled,
        "repair_errors": repair.errors,
        "node0_rows_after_repair": sum(s.object_count for s in stats.stats),
        "echo_pass_seconds_per_node": [round(s, 3) for s, _ in echo],
        "echo_rows_moved": sum(p.rows_pulled + p.rows_pushed for _, p in echo),
        "quiet_pass_seconds_per_node": [round(s, 3) for s, _ in quiet],
        "quiet_rows_moved": sum(p.rows_pulled + p.rows_pushed for _, p in quiet),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=8)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(main(options.rows, options.shards, Path(tmp)))
    print(json.dumps(result, indent=2))
