"""The replicator and auditor across three real object servers on 127.0.0.1.

Writes go straight to chosen devices (no proxy), so each test decides which
replicas saw what; passes run through the RunReplication / RunAudit RPCs.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cumulo import errors
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.rpc.status import error_from_rpc
from storage.object.client import ObjectServerClient
from storage.object.store import ObjectName, PartitionEntry
from storage.replication.peers import Peer, push
from storage.ring.devices import Device
from storage.timestamp import Timestamp
from tests.helpers.replication import CREDENTIAL, ReplicaCluster
from tests.helpers.servers import BackgroundLoop
from tests.helpers.tls import make_pki

ACCOUNT, CONTAINER = "AUTH_repl", "photos"


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.close()


@pytest.fixture
def cluster(loop: BackgroundLoop, tmp_path: Path) -> Iterator[ReplicaCluster]:
    started = ReplicaCluster.start(loop, tmp_path)
    yield started
    started.stop()


def stamp(offset_seconds: float = 0.0) -> str:
    return Timestamp.from_seconds(time.time() + offset_seconds).internal


async def put(cluster: ReplicaCluster, device: Device, part: int, name: str, body: bytes, ts: str):
    async with cluster.client(cluster.node_of(device)) as client:
        return await client.put_object(
            cluster.location(device, part, ACCOUNT, CONTAINER, name), ts, body
        )


async def delete(cluster: ReplicaCluster, device: Device, part: int, name: str, ts: str) -> None:
    async with cluster.client(cluster.node_of(device)) as client:
        await client.delete_object(cluster.location(device, part, ACCOUNT, CONTAINER, name), ts)


async def state(cluster: ReplicaCluster, device: Device, part: int, name: str) -> tuple[str, bool]:
    """(timestamp, deleted) of the current version on ``device``, ("", False) if none."""
    async with cluster.client(cluster.node_of(device)) as client:
        try:
            head = await client.head_object(
                cluster.location(device, part, ACCOUNT, CONTAINER, name), include_deleted=True
            )
        except errors.NotFound:
            return "", False
        return head.object.timestamp, head.deleted


async def read(cluster: ReplicaCluster, device: Device, part: int, name: str) -> bytes:
    async with cluster.client(cluster.node_of(device)) as client:
        return await client.read_object(cluster.location(device, part, ACCOUNT, CONTAINER, name))


def bodies(count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    # Multi-chunk objects too: the servers store 64 KiB chunks.
    sizes = (0, 100, 70_000, 300_001)
    return {f"obj-{seed}-{i}": rng.randbytes(rng.choice(sizes)) for i in range(count)}


def test_a_node_that_missed_writes_and_deletes_converges(cluster: ReplicaCluster) -> None:
    old = bodies(6, 1)
    t1 = stamp(-10)
    for name, body in old.items():
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        for device in nodes:
            cluster.run(put(cluster, device, part, name, body, t1))
    down = 0
    cluster.stop_node(down)
    new = bodies(6, 2)
    t2 = stamp(-5)
    deleted = sorted(old)[:3]
    overwritten = sorted(old)[3]
    for name, body in {**new, overwritten: b"second version"}.items():
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        for device in nodes:
            if cluster.node_of(device) != down:
                cluster.run(put(cluster, device, part, name, body, t2))
    for name in deleted:
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        for device in nodes:
            if cluster.node_of(device) != down:
                cluster.run(delete(cluster, device, part, name, t2))
    cluster.start_node(down)

    # One pass on the node that was down pulls everything it missed.
    passes = cluster.run(cluster.replicate(down))
    assert sum(p.errors for p in passes) == 0, passes
    assert sum(p.objects_pulled for p in passes) == len(new) + 1 + len(deleted), passes
    expected = {**old, **new, overwritten: b"second version"}
    for name in deleted:
        del expected[name]
    for name, body in expected.items():
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        (mine,) = [d for d in nodes if cluster.node_of(d) == down]
        assert cluster.run(read(cluster, mine, part, name)) == body, name
    # The missed deletes arrived as tombstones; passes everywhere never resurrect.
    cluster.replicate_all()
    cluster.replicate_all()
    for name in deleted:
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        for device in nodes:
            assert cluster.run(state(cluster, device, part, name)) == (t2, True), name
    # Converged: another pass finds nothing to do.
    again = cluster.replicate_all()
    assert sum(p.suffixes_synced + p.objects_pushed + p.objects_pulled for p in again) == 0


def test_the_up_to_date_nodes_push_to_the_one_that_missed(cluster: ReplicaCluster) -> None:
    name, body = "pushed", b"x" * 200_000
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    ts = stamp()
    for device in nodes[1:]:
        cluster.run(put(cluster, device, part, name, body, ts))
    passes = cluster.run(cluster.replicate(cluster.node_of(nodes[1])))
    assert sum(p.objects_pushed for p in passes) == 1
    assert cluster.run(read(cluster, nodes[0], part, name)) == body
    assert cluster.run(state(cluster, nodes[0], part, name)) == (ts, False)


def test_handoff_copies_move_to_the_primaries_and_leave_the_handoff(
    cluster: ReplicaCluster,
) -> None:
    assert cluster.ring is not None
    name, body = "on-a-handoff", random.Random(3).randbytes(150_000)
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    handoff = cluster.ring.get_more_nodes(part)[0]
    ts = stamp()
    # A proxy wrote to a handoff while the first primary was down.
    for device in [handoff, *nodes[1:]]:
        cluster.run(put(cluster, device, part, name, body, ts))
    gone_name = "deleted-on-handoff"
    gone_part, gone_nodes = cluster.primaries(ACCOUNT, CONTAINER, gone_name)
    gone_handoff = cluster.ring.get_more_nodes(gone_part)[0]
    cluster.run(delete(cluster, gone_handoff, gone_part, gone_name, ts))
    handoff_dir = Path(cluster.disk(handoff).objects_dir, str(part))
    assert handoff_dir.is_dir()

    passes = cluster.run(cluster.replicate(cluster.node_of(handoff)))
    passes += cluster.run(cluster.replicate(cluster.node_of(gone_handoff)))
    assert sum(p.handoffs_removed for p in passes) >= 1
    for device in nodes:
        assert cluster.run(read(cluster, device, part, name)) == body
        assert cluster.run(state(cluster, device, part, name)) == (ts, False)
    for device in gone_nodes:
        assert cluster.run(state(cluster, device, gone_part, gone_name)) == (ts, True)
    assert not handoff_dir.exists(), "the handoff kept its copy after every primary had it"
    assert cluster.run(state(cluster, handoff, part, name)) == ("", False)
    assert cluster.run(state(cluster, gone_handoff, gone_part, gone_name)) == ("", False)


def test_a_handoff_keeps_its_copy_while_a_primary_is_down(cluster: ReplicaCluster) -> None:
    assert cluster.ring is not None
    name = "waiting"
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    down = cluster.node_of(nodes[0])
    handoffs = [d for d in cluster.ring.get_more_nodes(part) if cluster.node_of(d) != down]
    handoff = handoffs[0]
    cluster.run(put(cluster, handoff, part, name, b"keep me", stamp()))
    cluster.stop_node(down)
    passes = cluster.run(cluster.replicate(cluster.node_of(handoff)))
    assert sum(p.handoffs_removed for p in passes) == 0
    assert sum(p.errors for p in passes) >= 1
    assert cluster.run(read(cluster, handoff, part, name)) == b"keep me"


def test_the_auditor_quarantines_a_damaged_copy_and_replication_restores_it(
    cluster: ReplicaCluster,
) -> None:
    name, body = "damaged", random.Random(5).randbytes(200_000)
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    ts = stamp()
    for device in nodes:
        cluster.run(put(cluster, device, part, name, body, ts))
    victim = nodes[1]
    (data_file,) = cluster.object_dir(victim, part, f"/{ACCOUNT}/{CONTAINER}/{name}").glob("*.data")
    original = data_file.read_bytes()
    with open(data_file, "r+b") as handle:  # one flipped bit in the second chunk
        handle.seek(70_000)
        byte = handle.read(1)
        handle.seek(70_000)
        handle.write(bytes([byte[0] ^ 0x01]))

    audits = cluster.run(cluster.audit(cluster.node_of(victim)))
    assert sum(a.quarantined for a in audits) == 1
    assert sum(a.files for a in audits) >= 1
    assert not data_file.exists()
    quarantined = list(Path(cluster.disk(victim).quarantine_dir).rglob("*.data"))
    assert len(quarantined) == 1
    assert cluster.run(state(cluster, victim, part, name)) == ("", False)
    # A clean pass finds nothing wrong on the other nodes.
    other = cluster.run(cluster.audit(cluster.node_of(nodes[0])))
    assert sum(a.quarantined for a in other) == 0

    passes = cluster.run(cluster.replicate(cluster.node_of(victim)))
    assert sum(p.objects_pulled for p in passes) == 1
    assert cluster.run(read(cluster, victim, part, name)) == body
    (restored,) = cluster.object_dir(victim, part, f"/{ACCOUNT}/{CONTAINER}/{name}").glob("*.data")
    # Byte-exact: the same bytes, metadata, digests and timestamp as before the damage.
    assert restored.name == data_file.name
    assert restored.read_bytes() == original


def test_tombstones_past_the_reclaim_age_are_removed(cluster: ReplicaCluster) -> None:
    name = "long-gone"
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    eight_days_ago = stamp(-8 * 24 * 3600)
    fresh = stamp(-60)
    for device in nodes:
        cluster.run(put(cluster, device, part, name, b"old", stamp(-9 * 24 * 3600)))
        cluster.run(delete(cluster, device, part, name, eight_days_ago))
    recent = "recently-gone"
    recent_part, recent_nodes = cluster.primaries(ACCOUNT, CONTAINER, recent)
    for device in recent_nodes:
        cluster.run(delete(cluster, device, recent_part, recent, fresh))
    path = f"/{ACCOUNT}/{CONTAINER}/{name}"
    assert all(any(cluster.object_dir(d, part, path).glob("*.ts")) for d in nodes)

    passes = cluster.replicate_all()
    # Each node reclaims while hashing, for its own pass or to answer a peer's (the
    # latter is not counted in a pass), so at least the first node counts its own.
    assert sum(p.tombstones_reclaimed for p in passes) >= 1
    for device in nodes:
        assert not cluster.object_dir(device, part, path).exists()
        assert cluster.run(state(cluster, device, part, name)) == ("", False)
    for device in recent_nodes:
        assert cluster.run(state(cluster, device, recent_part, recent)) == (fresh, True)
    # Nobody pushes a reclaimed tombstone back.
    again = cluster.replicate_all()
    assert sum(p.objects_pushed + p.objects_pulled for p in again) == 0
    for device in nodes:
        assert not cluster.object_dir(device, part, path).exists()


def test_an_older_version_never_overwrites_a_newer_one(cluster: ReplicaCluster) -> None:
    name = "versions"
    part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
    t_old, t_new = stamp(-20), stamp(-10)
    cluster.run(put(cluster, nodes[0], part, name, b"newest", t_new))
    for device in nodes[1:]:
        cluster.run(put(cluster, device, part, name, b"older", t_old))
    # The stale nodes replicate first: they must not push their older version.
    for device in nodes[1:]:
        cluster.run(cluster.replicate(cluster.node_of(device)))
    cluster.replicate_all()
    for device in nodes:
        assert cluster.run(read(cluster, device, part, name)) == b"newest"
        assert cluster.run(state(cluster, device, part, name)) == (t_new, False)

    # A push of an older version straight to a newer replica is refused by the
    # object server and counts as confirmed (the receiver has something newer).
    stale_name = "stale-push"
    stale_part, stale_nodes = cluster.primaries(ACCOUNT, CONTAINER, stale_name)
    source, target = stale_nodes[0], stale_nodes[1]
    cluster.run(put(cluster, source, stale_part, stale_name, b"old bytes", t_old))
    cluster.run(put(cluster, target, stale_part, stale_name, b"new bytes", t_new))

    async def push_old() -> bool:
        server = cluster.servers[cluster.node_of(source)]
        assert server is not None
        slot = server.devices[source.device]
        peer = Peer(target.server, CREDENTIAL, 5.0)
        try:
            entry = PartitionEntry(
                name_hash="",
                name=ObjectName(ACCOUNT, CONTAINER, stale_name),
                timestamp=Timestamp.parse(t_old),
                deleted=False,
            )
            return await push(slot, stale_part, entry, peer, target.device)
        finally:
            await peer.close()

    assert cluster.run(push_old()) is True
    assert cluster.run(read(cluster, target, stale_part, stale_name)) == b"new bytes"


def test_bad_requests_and_status(cluster: ReplicaCluster) -> None:
    async def call(method: str, request: object, credential: str = CREDENTIAL) -> object:
        async with ObjectServerClient(f"127.0.0.1:{cluster.ports[0]}", credential) as client:
            stub = cluster.stub(client)
            try:
                return await getattr(stub, method)(request, metadata=client.metadata)
            except grpc.RpcError as exc:
                raise error_from_rpc(exc) from None

    with pytest.raises(errors.NotFound, match="not an on-disk device") as missing:
        cluster.run(call("GetSuffixHashes", rpb.GetSuffixHashesRequest(device="nope")))
    assert "n0d0" in missing.value.hint
    with pytest.raises(errors.InvalidArgument, match="three lower-case hex") as bad:
        cluster.run(
            call(
                "ListSuffixEntries",
                rpb.ListSuffixEntriesRequest(device="n0d0", suffixes=["abc", "../x"]),
            )
        )
    assert bad.value.field == "suffixes"
    with pytest.raises(errors.InvalidArgument, match="device is required"):
        cluster.run(call("GetSuffixHashes", rpb.GetSuffixHashesRequest()))
    with pytest.raises(errors.InvalidArgument, match="at most 1024") as many:
        cluster.run(
            call(
                "GetSuffixHashesBatch",
                rpb.GetSuffixHashesBatchRequest(device="n0d0", partitions=range(1025)),
            )
        )
    assert many.value.field == "partitions"
    with pytest.raises(errors.NotFound):
        cluster.run(call("GetSuffixHashesBatch", rpb.GetSuffixHashesBatchRequest(device="nope")))
    batch = cluster.run(
        call(
            "GetSuffixHashesBatch",
            rpb.GetSuffixHashesBatchRequest(device="n0d0", partitions=[1, 2]),
        )
    )
    assert isinstance(batch, rpb.GetSuffixHashesBatchResponse)
    assert sorted(batch.partitions) == [1, 2]
    with pytest.raises(errors.NotFound):
        cluster.run(call("RunReplication", rpb.RunReplicationRequest(devices=["nope"])))
    with pytest.raises(errors.Unauthenticated):
        cluster.run(call("GetReplicationStatus", rpb.GetReplicationStatusRequest(), "wrong"))
    empty = cluster.run(call("GetSuffixHashes", rpb.GetSuffixHashesRequest(device="n0d0")))
    assert isinstance(empty, rpb.GetSuffixHashesResponse) and dict(empty.hashes) == {}

    cluster.run(cluster.replicate(0))
    cluster.run(cluster.audit(0))
    status = cluster.run(call("GetReplicationStatus", rpb.GetReplicationStatusRequest()))
    assert isinstance(status, rpb.GetReplicationStatusResponse)
    assert not status.replication_enabled and not status.audit_enabled
    assert status.ring_version >= 1
    assert [d.device for d in status.devices] == ["n0d0", "n0d1"]
    assert all(d.HasField("last_replication") and d.HasField("last_audit") for d in status.devices)


def test_no_ring_yet_is_a_failed_precondition(loop: BackgroundLoop, tmp_path: Path) -> None:
    cluster = ReplicaCluster.start(loop, tmp_path, nodes=1, write_ring=False)
    try:
        with pytest.raises(errors.Conflict) as refused:
            cluster.run(cluster.replicate(0))
        assert refused.value.reason == "RING_NOT_LOADED"
    finally:
        cluster.stop()


def test_replication_runs_over_mutual_tls(loop: BackgroundLoop, tmp_path: Path) -> None:
    # As `cumulo up --tls` runs them: object servers that refuse clients without a
    # cloud certificate, so each replicator must present its server's certificate.
    tls = make_pki(tmp_path / "pki").tls(client_auth=True)
    secure = ReplicaCluster.start(loop, tmp_path / "cluster", tls=tls)
    try:
        name, body = "secret", b"s" * 100_000
        part, nodes = secure.primaries(ACCOUNT, CONTAINER, name)
        missed = secure.node_of(nodes[0])
        for device in nodes[1:]:
            secure.run(put(secure, device, part, name, body, stamp(-1)))
        passes = secure.run(secure.replicate(missed))
        assert sum(p.errors for p in passes) == 0, passes
        assert sum(p.objects_pulled for p in passes) >= 1  # one per peer compared at once
        assert secure.run(read(secure, nodes[0], part, name)) == body
    finally:
        secure.stop()


def test_a_wiped_node_refills_asking_each_peer_once_for_its_partitions(
    cluster: ReplicaCluster,
) -> None:
    names = [f"wiped-{i}" for i in range(3)]
    held: set[int] = set()
    for name in names:
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        held.add(part)
        for device in nodes:
            cluster.run(put(cluster, device, part, name, name.encode() * 100, stamp(-1)))
    wiped = 1
    cluster.stop_node(wiped)
    for device_name in cluster.device_names[wiped]:
        shutil.rmtree(cluster.root / f"node{wiped}" / device_name / "objects")
    cluster.start_node(wiped)
    assert cluster.ring is not None
    assigned = {
        part
        for part in range(cluster.ring.parts)
        for d in cluster.ring.get_part_nodes(part)
        if cluster.node_of(d) == wiped
    }
    passes = cluster.run(cluster.replicate(wiped))
    assert sum(p.errors for p in passes) == 0, passes
    # Only the partitions a peer holds were visited, not every assigned one.
    assert sum(p.partitions for p in passes) == len(held & assigned) < len(assigned)
    for name in names:
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        (mine,) = [d for d in nodes if cluster.node_of(d) == wiped]
        assert cluster.run(read(cluster, mine, part, name)) == name.encode() * 100


def test_a_pass_asks_each_peer_device_for_its_suffix_hashes_in_batches(
    cluster: ReplicaCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"one": 0, "many": 0}
    one, many = Peer.suffix_hashes, Peer.suffix_hashes_many

    async def counted_one(self: Peer, device: str, partition: int) -> dict[str, str]:
        calls["one"] += 1
        return await one(self, device, partition)

    async def counted_many(self: Peer, device: str, partitions: list[int]) -> dict:  # type: ignore[type-arg]
        calls["many"] += 1
        return await many(self, device, partitions)

    monkeypatch.setattr(Peer, "suffix_hashes", counted_one)
    monkeypatch.setattr(Peer, "suffix_hashes_many", counted_many)
    bodies_by_name = bodies(12, 7)
    down = 2
    for name, body in bodies_by_name.items():
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        for device in nodes:
            if cluster.node_of(device) != down:
                cluster.run(put(cluster, device, part, name, body, stamp(-1)))
    passes = cluster.run(cluster.replicate(down))
    assert sum(p.errors for p in passes) == 0, passes
    assert calls["one"] == 0  # every partition's hashes came in a batch
    assert 0 < calls["many"] <= 4 * 2  # at most one call per peer device here
    for name, body in bodies_by_name.items():
        part, nodes = cluster.primaries(ACCOUNT, CONTAINER, name)
        (mine,) = [d for d in nodes if cluster.node_of(d) == down]
        assert cluster.run(read(cluster, mine, part, name)) == body
