"""Replication and audit pass times over N objects on three in-process object servers.

Starts three object servers on 127.0.0.1 (two devices each, a 3-replica ring of
part power 8), writes N objects of ``--size`` bytes to two of each object's three
primaries (node 0 "was down"), then times, through the RunReplication / RunAudit
RPCs: the pass on node 0 that pulls the N objects it missed, a pass on each node
once everything agrees (the steady-state cost: suffix hashes only), and an audit
pass without rate limits on node 1.  Prints one JSON object.

    python bench/replication.py --objects 2000 --size 4096
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.objectserver.v1 import replication_pb2_grpc
from storage.object.client import Location, ObjectServerClient
from storage.object.main import ObjectServer, open_devices, start_object_server
from storage.replication.daemons import ReplicationSettings
from storage.ring import Ring, RingBuilder
from storage.timestamp import Timestamp

CREDENTIAL = "bench-credential-0123456789abcdef"


async def main(objects: int, size: int, root: Path) -> dict[str, object]:
    settings = ReplicationSettings(
        ring_file=root / "object.ring", replication_enabled=False, audit_enabled=False
    )
    servers: list[ObjectServer] = []
    for n in range(3):
        devices = open_devices(
            root / f"node{n}", [f"n{n}d0", f"n{n}d1"], chunk_size=1 << 20,
            threads_per_device=8, create=True,
        )  # fmt: skip
        servers.append(
            await start_object_server(
                listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL, replication=settings
            )
        )
    builder = RingBuilder(8, 3, min_part_hours=0)
    for n, server in enumerate(servers):
        for d in (0, 1):
            builder.add_device(
                region=1, zone=n + 1, ip="127.0.0.1", port=server.server.port,
                device=f"n{n}d{d}", weight=1,
            )  # fmt: skip
    builder.rebalance()
    builder.write_ring(settings.ring_file)
    ring = Ring(settings.ring_file)
    clients = [ObjectServerClient(s.address, CREDENTIAL) for s in servers]
    ports = [s.server.port for s in servers]
    body = os.urandom(size)
    stamp = Timestamp.now().internal
    sem = asyncio.Semaphore(32)

    async def put(i: int) -> None:
        part, nodes = ring.get_nodes("AUTH_bench", "c", f"o{i}")
        async with sem:
            for device in nodes:
                node = ports.index(device.port)
                if node != 0:
                    location = Location(device.device, part, "AUTH_bench", "c", f"o{i}")
                    await clients[node].put_object(location, stamp, body)

    begun = time.perf_counter()
    await asyncio.gather(*(put(i) for i in range(objects)))
    write_seconds = time.perf_counter() - begun

    async def replicate(node: int) -> tuple[float, list[rpb.ReplicationPass]]:
        stub = replication_pb2_grpc.ReplicationServiceStub(clients[node].channel)
        started = time.perf_counter()
        response = await stub.RunReplication(
            rpb.RunReplicationRequest(), metadata=clients[node].metadata
        )
        return time.perf_counter() - started, list(response.passes)

    repair_seconds, repair = await replicate(0)
    steady = [await replicate(n) for n in range(3)]
    stub = replication_pb2_grpc.ReplicationServiceStub(clients[1].channel)
    started = time.perf_counter()
    audit = await stub.RunAudit(rpb.RunAuditRequest(), metadata=clients[1].metadata)
    audit_seconds = time.perf_counter() - started
    for client in clients:
        await client.close()
    for server in servers:
        await server.stop(grace=0)
    return {
        "objects": objects,
        "object_bytes": size,
        "partitions": ring.parts,
        "write_seconds_two_replicas": round(write_seconds, 3),
        "repair_pass_seconds": round(repair_seconds, 3),
        "repair_pulled": sum(p.objects_pulled for p in repair),
        "repair_errors": sum(p.errors for p in repair),
        "steady_pass_seconds_per_node": [round(s, 3) for s, _ in steady],
        "steady_suffixes_synced": sum(p.suffixes_synced for _, ps in steady for p in ps),
        "audit_pass_seconds_node1": round(audit_seconds, 3),
        "audit_files_node1": sum(p.files for p in audit.passes),
        "audit_bytes_node1": sum(p.bytes for p in audit.passes),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(main(options.objects, options.size, Path(tmp)))
    print(json.dumps(result, indent=2))
