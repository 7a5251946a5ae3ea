"""Three real object servers with replication, a ring over them, and direct clients.

``ReplicaCluster.start`` runs ``nodes`` object servers on 127.0.0.1 port 0 (each
with ``devices`` device directories under ``root``), builds a 3-replica ring with
one zone per node, and gives each server the ring path.  The background daemons are
off: tests run passes with the ``RunReplication`` / ``RunAudit`` RPCs.  No proxy:
tests write to chosen devices with :class:`ObjectServerClient`, so they decide
exactly which replicas a write reaches.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc

from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.objectserver.v1 import replication_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.object.client import Location, ObjectServerClient
from storage.object.diskfile import DiskDevice, name_hash
from storage.object.main import ObjectServer, open_devices, start_object_server
from storage.replication.daemons import ReplicationSettings
from storage.ring import Ring
from storage.ring.devices import Device
from tests.helpers.objectstore import write_loopback_ring
from tests.helpers.servers import BackgroundLoop

CREDENTIAL = "replication-credential-0123456789abcdef"
T = TypeVar("T")


@dataclass
class ReplicaCluster:
    loop: BackgroundLoop
    root: Path
    settings: ReplicationSettings
    #: Each server's TLS (serving, and dialling its peers) and the tests' clients'.
    tls: Tls = PLAINTEXT
    servers: list[ObjectServer | None] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    device_names: list[list[str]] = field(default_factory=list)
    ring: Ring | None = None

    @classmethod
    def start(
        cls,
        loop: BackgroundLoop,
        root: Path,
        *,
        nodes: int = 3,
        devices: int = 2,
        part_power: int = 3,
        reclaim_age: float = 7 * 24 * 3600.0,
        write_ring: bool = True,
        tls: Tls = PLAINTEXT,
    ) -> ReplicaCluster:
        settings = ReplicationSettings(
            ring_file=root / "object.ring",
            replication_enabled=False,
            audit_enabled=False,
            reclaim_age=reclaim_age,
            node_timeout=5.0,
        )
        cluster = cls(loop, root, settings, tls)
        for n in range(nodes):
            names = [f"n{n}d{d}" for d in range(devices)]
            cluster.device_names.append(names)
            server = cluster._start_node(n, "127.0.0.1:0")
            cluster.servers.append(server)
            cluster.ports.append(server.server.port)
        if write_ring:
            cluster.ring = write_loopback_ring(
                settings.ring_file,
                part_power,
                list(zip(cluster.ports, cluster.device_names, strict=True)),
            )
        return cluster

    def _start_node(self, n: int, listen: str) -> ObjectServer:
        devices = open_devices(
            self.root / f"node{n}",
            self.device_names[n],
            chunk_size=64 * 1024,
            threads_per_device=4,
            create=True,
        )
        return self.loop.run(
            start_object_server(
                listen=listen,
                devices=devices,
                credential=CREDENTIAL,
                replication=self.settings,
                tls=self.tls,
            )
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine)

    def node_of(self, device: Device) -> int:
        return self.ports.index(device.port)

    def disk(self, device: Device) -> DiskDevice:
        server = self.servers[self.node_of(device)]
        assert server is not None
        disk = server.devices[device.device].device
        assert isinstance(disk, DiskDevice)
        return disk

    def client(self, node: int) -> ObjectServerClient:
        return ObjectServerClient(f"127.0.0.1:{self.ports[node]}", CREDENTIAL, tls=self.tls)

    def stub(self, client: ObjectServerClient) -> replication_pb2_grpc.ReplicationServiceStub:
        return replication_pb2_grpc.ReplicationServiceStub(client.channel)

    async def replicate(self, node: int) -> list[rpb.ReplicationPass]:
        async with self.client(node) as client:
            try:
                response = await self.stub(client).RunReplication(
                    rpb.RunReplicationRequest(), metadata=client.metadata
                )
            except grpc.RpcError as exc:
                raise error_from_rpc(exc) from None
        return list(response.passes)

    async def audit(self, node: int) -> list[rpb.AuditPass]:
        async with self.client(node) as client:
            try:
                response = await self.stub(client).RunAudit(
                    rpb.RunAuditRequest(), metadata=client.metadata
                )
            except grpc.RpcError as exc:
                raise error_from_rpc(exc) from None
        return list(response.passes)

    def replicate_all(self) -> list[rpb.ReplicationPass]:
        passes: list[rpb.ReplicationPass] = []
        for n, server in enumerate(self.servers):
            if server is not None:
                passes += self.run(self.replicate(n))
        return passes

    def primaries(self, account: str, container: str, obj: str) -> tuple[int, list[Device]]:
        assert self.ring is not None
        part, nodes = self.ring.get_nodes(account, container, obj)
        return part, list(nodes)

    def location(self, device: Device, part: int, account: str, container: str, obj: str) -> Any:
        return Location(device.device, part, account, container, obj)

    def object_dir(self, device: Device, part: int, path: str) -> Path:
        hashed = name_hash(path)
        return Path(self.disk(device).objects_dir, str(part), hashed[-3:], hashed)

    def stop_node(self, n: int) -> None:
        server = self.servers[n]
        if server is not None:
            self.loop.run(server.stop(grace=0))
            self.servers[n] = None

    def start_node(self, n: int) -> None:
        if self.servers[n] is None:
            self.servers[n] = self._start_node(n, f"127.0.0.1:{self.ports[n]}")

    def stop(self) -> None:
        for n in range(len(self.servers)):
            self.stop_node(n)
