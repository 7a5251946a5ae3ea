"""The segment reaper on real object servers: orphans go, referenced segments stay.

Each test gets a fresh cluster (three object servers with the daemons' RPCs, a proxy,
tokens from one real controller), so the reaper's counts are the test's own.  The
reaper's background task is off; passes run through the ``RunSegmentReap`` RPC
(SDK :class:`StorageNodeAdmin`), on every node.  ``segment_reap_age`` is a few seconds
(proxies and nodes alike), so the proxy's upload deadline is half of that.

A proxy that dies before its manifest (or before deleting replaced segments) is
simulated by switching off its best-effort deletion (``LargeObjects._forget``) and
failing the upload after its segments (a wrong expected MD5), or by overwriting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo import errors
from cumulo.client import Client
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.services.storage_nodes import StorageNodeAdmin
from storage.proxy.large import LargeObjects
from storage.proxy.main import ProxySettings
from storage.replication.daemons import ReplicationSettings
from storage.segments import SEGMENTS, SegmentName
from tests.helpers.identity import USER_PASSWORD, configure_identity, make_user
from tests.helpers.identity import admin_client as make_admin_client
from tests.helpers.objectstore import CREDENTIAL, Cluster
from tests.helpers.servers import BackgroundLoop

SEGMENT_SIZE = 512 * 1024
#: Long enough for every upload here to finish within half of it on a loaded machine.
REAP_AGE = 6.0


class Cloud:
    def __init__(self, loop: BackgroundLoop, controller: object, cluster: Cluster, project: str):
        self.loop = loop
        self.controller = controller
        self.cluster = cluster
        self.project = project
        assert cluster.proxy is not None
        self.large: LargeObjects = cluster.proxy.servicer.large

    def client(self) -> Client:
        return Client(
            self.controller.address,  # type: ignore[attr-defined]
            timeout=30,
            user="alice",
            password=USER_PASSWORD,
            project="proj-reap",
            object_endpoint=self.cluster.address,
        )

    def reap(self) -> list[rpb.SegmentReapPass]:
        """One reaper pass on every node, through the RPC."""
        passes = []
        for port in self.cluster.ports:
            with StorageNodeAdmin(f"127.0.0.1:{port}", CREDENTIAL) as node:
                passes.append(node.reap_segments().reap)
        return passes

    def segments(self) -> set[str]:
        """Names of the live segments of the project, found on the nodes' disks."""
        found = set()
        for server in self.cluster.servers:
            assert server is not None
            for slot in server.devices.values():
                device = slot.device
                for part in device.partitions():  # type: ignore[attr-defined]
                    for entry in device.list_partition(part):  # type: ignore[attr-defined]
                        if (
                            entry.name.container == SEGMENTS
                            and entry.name.account == self.project
                            and not entry.deleted
                        ):
                            found.add(entry.name.object)
        return found

    def no_cleanup(self) -> None:
        """Switch off the proxy's best-effort segment deletion, as if it had died."""
        self.large._forget = lambda *args, **kwargs: None  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundLoop, object]]:
    from controller.server import start_controller
    from cumulo.config import load_config

    root: Path = tmp_path_factory.mktemp("reapctl")
    loop = BackgroundLoop()
    config = load_config(environ={}, data_dir=root / "controller")
    config.controller.listen = "127.0.0.1:0"
    configure_identity(config)
    started = loop.run(start_controller(config))
    try:
        yield loop, started
    finally:
        loop.run(started.stop(grace=0.5))
        loop.close()


@pytest.fixture(scope="module")
def project(controller: tuple[BackgroundLoop, object]) -> str:
    _loop, started = controller
    admin = make_admin_client(started.address)  # type: ignore[attr-defined]
    with admin:
        project_id = admin.identity.create_project("proj-reap").meta.id
        make_user(admin, "alice", project_id, "member")
    return project_id  # type: ignore[no-any-return]


@pytest.fixture
def cloud(
    controller: tuple[BackgroundLoop, object], project: str, tmp_path: Path
) -> Iterator[Cloud]:
    loop, started = controller
    root = tmp_path / "storage"
    cluster = Cluster.start(
        loop,
        root,
        controller=started.address,  # type: ignore[attr-defined]
        settings=ProxySettings(
            node_timeout=5.0, segment_size=SEGMENT_SIZE, segment_reap_age=REAP_AGE
        ),
        replication=ReplicationSettings(
            ring_file=root / "object.ring",
            replication_enabled=False,
            audit_enabled=False,
            segment_reap_enabled=False,
            segment_reap_age=REAP_AGE,
            node_timeout=5.0,
        ),
    )
    try:
        yield Cloud(loop, started, cluster, project)
    finally:
        cluster.drain()
        cluster.stop()


def _total(passes: list[rpb.SegmentReapPass], field: str) -> int:
    return sum(getattr(p, field) for p in passes)


def _wait_until_old(segments: set[str]) -> None:
    """Sleep until every group of ``segments`` is past the reap age."""
    newest = max(float(SegmentName.parse(s).version.split("_")[0]) for s in segments)  # type: ignore[union-attr]
    time.sleep(max(0.0, newest + REAP_AGE + 0.2 - time.time()))


def test_an_interrupted_upload_is_reaped_after_the_grace_period_only(cloud: Cloud) -> None:
    cloud.no_cleanup()
    data = random.Random(1).randbytes(4 * SEGMENT_SIZE + 100)
    with cloud.client() as client:
        client.objects.create_container("c")
        with pytest.raises(errors.InvalidArgument) as failed:
            client.objects.put_object("c", "lost", iter([data]), md5="0" * 32)
        assert failed.value.reason == "CHECKSUM_MISMATCH"
        with pytest.raises(errors.NotFound):
            client.objects.head_object("c", "lost")
    orphans = cloud.segments()
    assert len(orphans) == 5  # every segment stored, no manifest, nothing cleaned up

    young = cloud.reap()
    assert _total(young, "segments_examined") == 5
    assert _total(young, "groups_too_young") >= 1
    assert _total(young, "segments_deleted") == 0
    assert cloud.segments() == orphans

    _wait_until_old(orphans)
    old = cloud.reap()
    assert _total(old, "segments_deleted") == 5
    assert _total(old, "bytes_freed") == len(data)
    assert _total(old, "groups_referenced") == 0 and _total(old, "errors") == 0
    assert cloud.segments() == set()
    assert _total(cloud.reap(), "segments_examined") == 0


def test_each_segment_is_judged_by_exactly_one_node(cloud: Cloud) -> None:
    """Every node holds a replica of every segment here (3 nodes, 3 replicas), yet the
    segments are split between them: each by the node of its partition's first primary."""
    cloud.no_cleanup()
    data = random.Random(2).randbytes(8 * SEGMENT_SIZE)
    with cloud.client() as client:
        client.objects.create_container("c")
        with pytest.raises(errors.InvalidArgument):
            client.objects.put_object("c", "lost", iter([data]), md5="0" * 32)
    orphans = cloud.segments()
    assert len(orphans) == 8
    _wait_until_old(orphans)
    passes = cloud.reap()
    assert [p.segments_examined for p in passes] == [p.segments_deleted for p in passes]
    assert _total(passes, "segments_examined") == 8  # not 24: no segment judged twice
    assert _total(passes, "segments_deleted") == 8
    assert cloud.segments() == set()


def test_an_intact_large_object_survives_every_pass(cloud: Cloud) -> None:
    data = random.Random(3).randbytes(3 * SEGMENT_SIZE + 7)
    with cloud.client() as client:
        client.objects.create_container("c")
        info = client.objects.put_object("c", "kept", iter([data]))
        assert info.segments == 4
        segments = cloud.segments()
        assert len(segments) == 4
        _wait_until_old(segments)
        for _ in range(3):
            passes = cloud.reap()
            assert _total(passes, "segments_deleted") == 0
            assert _total(passes, "groups_referenced") >= 1
            assert _total(passes, "groups_unverified") == 0
        assert cloud.segments() == segments
        assert client.objects.read_object("c", "kept") == data


def test_an_overwritten_large_object_loses_its_old_segments_only(cloud: Cloud) -> None:
    cloud.no_cleanup()  # the proxy "dies" before deleting the replaced version's segments
    rng = random.Random(4)
    first, second = rng.randbytes(3 * SEGMENT_SIZE + 1), rng.randbytes(2 * SEGMENT_SIZE + 2)
    with cloud.client() as client:
        client.objects.create_container("c")
        client.objects.put_object("c", "big", iter([first]))
        old = cloud.segments()
        client.objects.put_object("c", "big", iter([second]))
        new = cloud.segments() - old
        assert len(old) == 4 and len(new) == 3
        _wait_until_old(old | new)
        passes = cloud.reap()
        assert _total(passes, "segments_deleted") == 4
        assert _total(passes, "bytes_freed") == len(first)
        assert cloud.segments() == new
        assert client.objects.read_object("c", "big") == second
        # Deleting the object with the cleanup off leaves its segments: reaped too.
        client.objects.delete_object("c", "big")
        assert cloud.segments() == new
        assert _total(cloud.reap(), "segments_deleted") == 3
        assert cloud.segments() == set()


def test_a_slow_upload_cannot_write_a_manifest_for_reaped_segments(cloud: Cloud) -> None:
    """The upload pauses before its last bytes until its segments are past the reap age;
    the reaper deletes them (no manifest); the upload then fails instead of writing a
    manifest that would reference deleted segments."""
    data = random.Random(5).randbytes(3 * SEGMENT_SIZE - 100)
    paused, go = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def body() -> Iterator[bytes]:
        yield data[: (1 << 20) + 1000]
        yield data[(1 << 20) + 1000 : -50]
        paused.set()
        assert go.wait(60)
        yield data[-50:]

    def upload() -> None:
        try:
            with cloud.client() as client:
                client.objects.put_object("c", "slow", body())
        except BaseException as exc:
            outcome.append(exc)

    with cloud.client() as client:
        client.objects.create_container("c")
    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert paused.wait(30)
        # The proxy has the bytes sent before the pause: two whole segments.
        deadline = time.monotonic() + 20
        while len(written := cloud.segments()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(written) == 2
        _wait_until_old(written)
        passes = cloud.reap()
        assert _total(passes, "segments_deleted") == 2
    finally:
        go.set()
        thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], errors.DeadlineExceeded), outcome
    assert outcome[0].reason == "UPLOAD_TOO_SLOW"
    with cloud.client() as client, pytest.raises(errors.NotFound):
        client.objects.head_object("c", "slow")
    cloud.cluster.drain()
    assert cloud.segments() == set()


def test_run_now_and_status_through_the_sdk(cloud: Cloud) -> None:
    with StorageNodeAdmin(f"127.0.0.1:{cloud.cluster.ports[0]}", CREDENTIAL) as node:
        before = node.status()
        assert not before.HasField("last_segment_reap")
        assert before.segment_reap_age == REAP_AGE and not before.segment_reap_enabled
        done = node.reap_segments().reap
        assert done.errors == 0 and done.segments_examined == 0  # nothing stored yet
        after = node.status()
        assert after.HasField("last_segment_reap") and not after.reaping
        assert after.last_segment_reap.partitions == done.partitions


def test_a_background_pass_reads_at_the_configured_rate(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background pass pauses after each partition for the objects it read there
    (files_per_second); a pass asked for by an operator does not pause."""
    from storage.replication import reaper as reaper_module

    data = random.Random(9).randbytes(3 * SEGMENT_SIZE)
    with cloud.client() as client:
        client.objects.create_container("c")
        client.objects.put_object("c", "paced", iter([data]))
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(reaper_module, "_pause", pause)
    walked = 0
    for n in range(3):
        reaper = cloud.cluster.daemons(n).reaper
        monkeypatch.setattr(reaper, "files_per_second", 4.0)
        stats = cloud.loop.run(reaper.run_pass(limited=True))
        walked += stats.objects_read
    # 3 segments + the manifest, 3 replicas each: every node reads only the partitions
    # it judges, so the objects read over the nodes add up to at least the 3 segments.
    assert walked >= 3
    assert pauses and sum(pauses) == pytest.approx(walked / 4.0)
    pauses.clear()
    for n in range(3):
        cloud.loop.run(cloud.cluster.daemons(n).reaper.run_pass())
    assert pauses == []
