"""Storage nodes that serve the object API themselves (``storage.node_proxy_listen``).

A cluster of three in-process nodes, each with its own object API and no proxy
process, as ``cumulo up`` runs them; clients use all three through one
round-robin endpoint.  The tests prove the API behaves as the proxy's does, that
replicas and index shards on the node's own devices are reached in-process,
that a node keeps serving with a peer down, that the API waits for the ring, and
that its port never asks users for client certificates under mutual TLS.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo import certs, errors
from cumulo.client import Client
from cumulo.rpc.tls import PLAINTEXT
from storage.object.local import LocalNode
from storage.object.main import open_devices, start_object_server
from storage.object.node_proxy import NodeProxySettings, local_address
from storage.proxy.main import ProxySettings
from tests.helpers.identity import ADMIN_PASSWORD, configure_identity
from tests.helpers.objectstore import CREDENTIAL, Cluster, write_loopback_ring
from tests.helpers.servers import BackgroundLoop
from tests.helpers.tls import make_pki

SEGMENT_SIZE = 1536 * 1024


class Cloud:
    def __init__(self, loop: BackgroundLoop, controller: object, cluster: Cluster) -> None:
        self.loop = loop
        self.controller = controller
        self.cluster = cluster

    def admin(self, **extra: object) -> Client:
        return Client(
            self.controller.address,  # type: ignore[attr-defined]
            timeout=15,
            user="admin",
            password=ADMIN_PASSWORD,
            project="admin",
            object_endpoint=self.cluster.address,
            **extra,  # type: ignore[arg-type]
        )

    def locals(self) -> list[LocalNode]:
        nodes = [p.pool.local for p in self.cluster.proxies()]
        assert all(n is not None for n in nodes)
        return nodes  # type: ignore[return-value]


def _start(root: Path, tls: bool = False) -> Cloud:
    from controller.server import start_controller
    from cumulo.config import load_config

    loop = BackgroundLoop()
    config = load_config(environ={}, data_dir=root / "controller")
    config.controller.listen = "127.0.0.1:0"
    pki = make_pki(root / "pki") if tls else None
    if pki is not None:
        config.tls = pki.config()
    configure_identity(config)
    controller = loop.run(start_controller(config))
    cluster = Cluster.start(
        loop,
        root / "storage",
        controller=controller.address,
        settings=ProxySettings(node_timeout=5.0, segment_size=SEGMENT_SIZE),
        tls=pki.tls() if pki is not None else PLAINTEXT,
        node_proxies=True,
    )
    return Cloud(loop, controller, cluster)


def _stop(cloud: Cloud) -> None:
    cloud.cluster.stop()
    cloud.loop.run(cloud.controller.stop(grace=0.5))  # type: ignore[attr-defined]
    cloud.loop.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    started = _start(tmp_path_factory.mktemp("nodeproxy"))
    try:
        yield started
    finally:
        _stop(started)


def _name() -> str:
    return f"c-{uuid.uuid4().hex[:10]}"


def test_every_node_serves_the_api_and_the_endpoint_lists_them(cloud: Cloud) -> None:
    servers = cloud.cluster.address.split(",")
    assert len(servers) == 3
    assert len(set(servers)) == 3
    node_addresses = {f"127.0.0.1:{port}" for port in cloud.cluster.ports}
    assert {n.address for n in cloud.locals()} == node_addresses
    assert not node_addresses & set(servers)  # a port of its own


def test_objects_round_trip_through_node_proxies(cloud: Cloud) -> None:
    container = _name()
    with cloud.admin() as admin:
        admin.objects.create_container(container)
        bodies = {f"o{i:02d}": os.urandom(100 + 997 * i) for i in range(24)}
        for name, body in bodies.items():
            admin.objects.put_object(container, name, body)
        big = os.urandom(2 * SEGMENT_SIZE + 123)  # segments and a manifest
        admin.objects.put_object(container, "big", iter([big]))
        for name, body in bodies.items():
            assert admin.objects.read_object(container, name) == body
        assert admin.objects.read_object(container, "big") == big
        listed = [getattr(e, "name", e) for e in admin.objects.list_objects(container)]
        assert listed == sorted([*bodies, "big"])
        assert admin.objects.get_container(container).object_count == 25
        admin.objects.delete_object(container, "o00")
        with pytest.raises(errors.NotFound):
            admin.objects.read_object(container, "o00")


def test_own_replicas_and_index_shards_are_called_in_process(cloud: Cloud) -> None:
    container = _name()
    with cloud.admin() as admin:
        admin.objects.create_container(container)
        before = [(n.session.requests, n.index.methods["UpdateIndex"]) for n in cloud.locals()]
        for i in range(30):
            admin.objects.put_object(container, f"x{i}", b"data %d" % i)
            assert admin.objects.read_object(container, f"x{i}") == b"data %d" % i
        middle = [(n.session.requests, n.index.methods["UpdateIndex"]) for n in cloud.locals()]
        for i in range(6):
            admin.objects.delete_object(container, f"x{i}")
        after = [n.index.methods["UpdateIndex"] for n in cloud.locals()]
        lists_before = [n.index.methods["ListIndex"] for n in cloud.locals()]
        for _ in range(6):
            listed = [getattr(e, "name", e) for e in admin.objects.list_objects(container)]
            assert listed == sorted(f"x{i}" for i in range(6, 30))
        lists_after = [n.index.methods["ListIndex"] for n in cloud.locals()]
    # Round robin gave every node a share of the calls, and with three replicas on
    # three nodes each of them had a local replica, written and read in-process.
    for (requests_before, _), (requests_after, _) in zip(before, middle, strict=True):
        assert requests_after - requests_before >= 10
    # The small PUTs' and the deletes' listing rows travelled with their object writes
    # (then_list): no UpdateIndex at all, local or remote.
    assert [calls for _, calls in middle] == [calls for _, calls in before] == after
    # A listing reads every node's shards; the API node's own in-process.
    grew = [a - b for a, b in zip(lists_after, lists_before, strict=True)]
    assert sum(grew) >= 6 and sum(1 for g in grew if g) >= 2, grew


def test_streamed_writes_and_reads_of_own_replicas_stay_in_process(cloud: Cloud) -> None:
    container = _name()
    big = os.urandom(2 * SEGMENT_SIZE + 4321)  # segments, each written and read as a stream
    before = [(n.streams.writes, n.streams.reads) for n in cloud.locals()]
    with cloud.admin() as admin:
        admin.objects.create_container(container)
        admin.objects.put_object(container, "big", iter([big]))
        for _ in range(3):  # round robin: each node's API serves one read
            assert admin.objects.read_object(container, "big") == big
        start, end = SEGMENT_SIZE - 100, SEGMENT_SIZE + 200  # across two segments
        ranged = b"".join(admin.objects.get_object(container, "big", range=(start, end)).chunks)
        assert ranged == big[start:end]
        with pytest.raises(errors.NotFound):
            admin.objects.read_object(container, "missing-big")
    after = [(n.streams.writes, n.streams.reads) for n in cloud.locals()]
    # The node whose API took the upload wrote its own copy of each of the 3 segments
    # in-process (its peers got theirs over gRPC); every node's API read its own.
    written = [w - wb for (w, _), (wb, _) in zip(after, before, strict=True)]
    assert sorted(written) == [0, 0, 3], (before, after)
    assert all(r > rb for (_, r), (_, rb) in zip(after, before, strict=True)), (before, after)


def test_a_node_down_leaves_the_others_serving(tmp_path: Path) -> None:
    cloud = _start(tmp_path)
    try:
        container = _name()
        with cloud.admin() as admin:
            admin.objects.create_container(container)
            for i in range(10):
                admin.objects.put_object(container, f"before{i}", b"b%d" % i)
            cloud.cluster.drain()
            cloud.cluster.stop_node(1)
            written = 0
            for i in range(10):
                try:
                    admin.objects.put_object(container, f"after{i}", b"a%d" % i)
                    written += 1
                except errors.Unavailable:
                    pass  # the call in flight to the stopped node's API may fail once
            assert written >= 9
            for i in range(10):
                assert admin.objects.read_object(container, f"before{i}") == b"b%d" % i
    finally:
        _stop(cloud)


def test_the_api_waits_for_the_ring(tmp_path: Path) -> None:
    loop = BackgroundLoop()
    ring_path = tmp_path / "object.ring"
    ready = tmp_path / "proxy.port"

    async def allow(token: str) -> object:
        raise errors.Unauthenticated("no tokens in this test")

    node = NodeProxySettings(
        listen="127.0.0.1:0",
        ring_file=ring_path,
        controller="",
        settings=ProxySettings(),
        ring_ip="127.0.0.1",
        ready_file=ready,
        introspect=allow,  # type: ignore[arg-type]
    )
    devices = open_devices(
        tmp_path / "node", ["d1", "d2", "d3"], chunk_size=1 << 20, threads_per_device=2, create=True
    )
    server = loop.run(
        start_object_server(
            listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL, node_proxy=node
        )
    )
    try:
        loop.run(asyncio.sleep(0.5))
        assert not ready.exists()
        assert server.proxy_task is not None and not server.proxy_task.done()
        ring = write_loopback_ring(ring_path, 4, [(server.server.port, ["d1", "d2", "d3"])])
        proxy = loop.run(server.proxy(), timeout=10)
        assert ready.read_text().strip() == str(proxy.server.port)
        assert local_address(ring, "127.0.0.1", server.server.port) == server.address
        assert proxy.pool.local is not None
        assert proxy.pool.local.address == server.address
    finally:
        loop.run(server.stop(grace=0))
        loop.close()


def test_the_api_port_asks_no_client_certificate_under_mutual_tls(tmp_path: Path) -> None:
    cloud = _start(tmp_path, tls=True)
    try:
        ca = str(certs.ca_files(tmp_path / "pki" / "cloud").cert)  # _start's make_pki
        container = _name()
        with cloud.admin(ca_file=ca) as admin:  # a CA, no client certificate
            admin.objects.create_container(container)
            admin.objects.put_object(container, "o", b"over TLS")
            assert admin.objects.read_object(container, "o") == b"over TLS"
    finally:
        _stop(cloud)


def test_a_local_replica_takes_and_gives_bytes_as_they_are_and_still_checks_them(
    cloud: Cloud,
) -> None:
    from storage.object.client import Location
    from storage.object.store import xxh3_of

    node = cloud.locals()[0]
    device = next(iter(node.session._servicer._devices))  # any local device
    stamp = "1700000001.00000_0000"
    data = os.urandom(300_000)
    good = Location(device, 7, "AUTH_local", "c", f"good-{_name()}")
    requests = node.session.requests
    meta = cloud.loop.run(node.session.put_object(good, stamp, data))
    assert meta.size == len(data)
    header, read = cloud.loop.run(node.session.read_small(good))
    assert read == data and header.object.size == len(data) and header.end == len(data)
    assert node.session.requests == requests + 2  # both served in-process
    # The data travels beside the message, but its checksum is still the message's.
    bad = Location(device, 7, "AUTH_local", "c", f"bad-{_name()}")
    with pytest.raises(errors.CumuloError, match=r"xxh3|checksum"):
        cloud.loop.run(node.session.put_object(bad, stamp, data, xxh3=xxh3_of(data) ^ 1))
    with pytest.raises(errors.NotFound):
        cloud.loop.run(node.session.read_small(bad))
