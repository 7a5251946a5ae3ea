"""An in-process object-store cluster for tests: object servers, a ring, a proxy.

``Cluster.start`` runs ``nodes`` object servers (each with ``devices`` device
directories under ``tmp_path``) on 127.0.0.1 port 0, builds a ring over their
devices (3 replicas, one zone per node so replicas land on different nodes), and
starts a proxy that validates tokens with the given controller.  Everything runs on
one :class:`BackgroundLoop`; nodes can be stopped and restarted on the same port
(fault tests).  With ``tls`` every connection is TLS, and the object servers demand
client certificates (mutual TLS), as ``cumulo up --tls`` runs them.  With
``node_proxies`` there is no proxy process: every node serves the object API
itself (storage/object/node_proxy.py), as in ``cumulo up``, and :attr:`Cluster.address`
lists them all (one round-robin channel).  With ``replication`` every node also runs
the daemons those settings enable and serves ``ReplicationService`` (their run-now
RPCs; :meth:`Cluster.daemons` reaches them in-process).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.object.main import ObjectServer, open_devices, start_object_server
from storage.object.node_proxy import NodeProxySettings
from storage.proxy.auth import Introspect
from storage.proxy.main import ObjectProxy, ProxySettings, start_proxy
from storage.replication.daemons import Daemons, ReplicationSettings
from storage.ring import Ring, RingBuilder
from tests.helpers.servers import BackgroundLoop

CREDENTIAL = "cluster-credential-0123456789abcdef"


def write_loopback_ring(path: Path, part_power: int, nodes: list[tuple[int, list[str]]]) -> Ring:
    """A 3-replica ring over loopback servers ``(port, device names)``, one zone each."""
    builder = RingBuilder(part_power, 3, min_part_hours=0)
    for zone, (port, names) in enumerate(nodes, start=1):
        for name in names:
            builder.add_device(
                region=1, zone=zone, ip="127.0.0.1", port=port, device=name, weight=1
            )
    builder.rebalance()
    builder.write_ring(path)
    return Ring(path)


@dataclass
class Cluster:
    loop: BackgroundLoop
    root: Path
    servers: list[ObjectServer | None] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    device_names: list[list[str]] = field(default_factory=list)
    ring_path: Path | None = None
    proxy: ObjectProxy | None = None
    tls: Tls = PLAINTEXT
    #: Set when every node serves the object API (``node_proxies``).
    node_proxy: NodeProxySettings | None = None
    #: The nodes' daemons' settings (None: no daemons, no ReplicationService).
    replication: ReplicationSettings | None = None

    @classmethod
    def start(
        cls,
        loop: BackgroundLoop,
        root: Path,
        *,
        controller: str = "",
        introspect: Introspect | None = None,
        nodes: int = 3,
        devices: int = 2,
        part_power: int = 6,
        settings: ProxySettings | None = None,
        tls: Tls = PLAINTEXT,
        node_proxies: bool = False,
        replication: ReplicationSettings | None = None,
    ) -> Cluster:
        cluster = cls(loop, root, tls=tls, replication=replication)
        settings = settings or ProxySettings(node_timeout=5.0)
        if node_proxies:
            cluster.node_proxy = NodeProxySettings(
                listen="127.0.0.1:0",
                ring_file=root / "object.ring",
                controller=controller,
                settings=settings,
                ring_ip="127.0.0.1",
                introspect=introspect,
            )
        for n in range(nodes):
            names = [f"d{n}{d}" for d in range(devices)]
            cluster.device_names.append(names)
            server = cluster._start_node(n, names, "127.0.0.1:0")
            cluster.servers.append(server)
            cluster.ports.append(server.server.port)
        cluster.ring_path = root / "object.ring"
        ring = write_loopback_ring(
            cluster.ring_path,
            part_power,
            list(zip(cluster.ports, cluster.device_names, strict=True)),
        )
        if node_proxies:
            return cluster
        cluster.proxy = loop.run(
            start_proxy(
                listen="127.0.0.1:0",
                ring=ring,
                credential=CREDENTIAL,
                controller=controller,
                introspect=introspect,
                settings=settings,
                tls=tls,
            )
        )
        return cluster

    def _start_node(self, n: int, names: list[str], listen: str) -> ObjectServer:
        devices = open_devices(
            self.root / f"node{n}", names, chunk_size=1 << 20, threads_per_device=4, create=True
        )
        return self.loop.run(
            start_object_server(
                listen=listen,
                devices=devices,
                credential=CREDENTIAL,
                tls=replace(self.tls, client_auth=True) if self.tls.enabled else PLAINTEXT,
                node_proxy=self.node_proxy,
                replication=self.replication,
            )
        )

    def daemons(self, n: int) -> Daemons:
        """Node ``n``'s daemons (the cluster must have been started with ``replication``)."""
        server = self.servers[n]
        assert server is not None and server.daemons is not None
        return server.daemons

    def proxies(self) -> list[ObjectProxy]:
        """Every proxy serving the object API: the proxy, or each running node's."""
        if self.proxy is not None:
            return [self.proxy]
        return [self.loop.run(s.proxy()) for s in self.servers if s is not None]

    @property
    def address(self) -> str:
        """The object API's endpoint (several servers, comma-separated, with node proxies)."""
        return ",".join(p.address for p in self.proxies())

    def stop_node(self, n: int) -> None:
        server = self.servers[n]
        if server is not None:
            self.loop.run(server.stop(grace=0))
            self.servers[n] = None

    def start_node(self, n: int) -> None:
        if self.servers[n] is None:
            self.servers[n] = self._start_node(
                n, self.device_names[n], f"127.0.0.1:{self.ports[n]}"
            )

    def drain(self) -> None:
        """Wait for the proxies' background work (replica writes, segment deletes)."""
        for proxy in self.proxies():
            self.loop.run(proxy.servicer.replicas.drain())
            self.loop.run(proxy.servicer.large.drain())

    def stop(self) -> None:
        if self.proxy is not None:
            self.loop.run(self.proxy.stop(grace=0))
        for n in range(len(self.servers)):
            self.stop_node(n)


def run(loop: BackgroundLoop, coroutine: Any) -> Any:
    return loop.run(coroutine)
