"""The object proxy end to end: SDK, proxy, three real object servers, a real controller."""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from cumulo import errors
from storage.proxy.large import SEGMENTS
from tests.functional.conftest import SEGMENT_SIZE, ObjectCloud


def _name(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def alice(object_cloud: ObjectCloud):  # type: ignore[no-untyped-def]
    with object_cloud.client("alice", "proj-a") as client:
        yield client


def test_container_lifecycle(alice) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    created = alice.objects.create_container(name, {"color": "blue"})
    assert created.name == name and created.object_count == 0 and created.index_shards == 8
    with pytest.raises(errors.AlreadyExists):
        alice.objects.create_container(name)
    assert alice.objects.create_container(name, exist_ok=True).name == name
    shown = alice.objects.get_container(name)
    assert dict(shown.metadata) == {"color": "blue"}
    updated = alice.objects.update_container_metadata(name, {"size": "xl", "color": ""})
    assert dict(updated.metadata) == {"size": "xl"}
    replaced = alice.objects.update_container_metadata(name, {"a": "1"}, replace=True)
    assert dict(replaced.metadata) == {"a": "1"}
    assert name in [c.name for c in alice.objects.list_containers()]
    alice.objects.put_object(name, "x", b"data")
    with pytest.raises(errors.Conflict) as refused:
        alice.objects.delete_container(name)
    assert refused.value.reason == "CONTAINER_NOT_EMPTY"
    alice.objects.delete_object(name, "x")
    alice.objects.delete_container(name)
    with pytest.raises(errors.NotFound):
        alice.objects.get_container(name)
    assert name not in [c.name for c in alice.objects.list_containers()]


def test_put_get_head_delete_small_and_large(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    rng = random.Random(7)
    for size in (0, 1, 4096, (1 << 20), (1 << 20) + 1, 3 * (1 << 20) + 5):
        data = rng.randbytes(size)
        name = f"obj-{size}"
        info = alice.objects.put_object(
            container, name, data, content_type="application/x-test", metadata={"k": "v"}
        )
        assert info.size == size
        if size > SEGMENT_SIZE:  # a large object: Swift's ETag of the segments' ETags
            assert info.segments and info.etag.endswith(f"-{info.segments}")
        else:
            assert info.etag == hashlib.md5(data).hexdigest()
        assert alice.objects.read_object(container, name) == data
        head = alice.objects.head_object(container, name)
        assert head.size == size and dict(head.metadata) == {"k": "v"}
        assert head.content_type == "application/x-test"
    stats = alice.objects.get_container(container)
    assert stats.object_count == 6
    assert stats.bytes_used == sum((0, 1, 4096, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 5))
    alice.objects.delete_object(container, "obj-1")
    with pytest.raises(errors.NotFound):
        alice.objects.head_object(container, "obj-1")
    with pytest.raises(errors.NotFound):
        alice.objects.read_object(container, "obj-1")
    with pytest.raises(errors.NotFound):
        alice.objects.delete_object(container, "obj-1")
    assert alice.objects.get_container(container).object_count == 5


def test_ranges_and_out_of_range(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    small = bytes(range(256)) * 16
    big = random.Random(3).randbytes(2 * (1 << 20) + 100)
    alice.objects.put_object(container, "small", small)
    alice.objects.put_object(container, "big", big)
    assert alice.objects.read_object(container, "small", range=(10, 20)) == small[10:20]
    assert alice.objects.read_object(container, "small", range=(4000, None)) == small[4000:]
    assert alice.objects.read_object(container, "small", range=(4000, 99999)) == small[4000:]
    start, end = (1 << 20) - 10, (1 << 20) + 50_000
    assert alice.objects.read_object(container, "big", range=(start, end)) == big[start:end]
    download = alice.objects.get_object(container, "big", range=(5, None))
    assert download.header.start == 5 and download.header.end == len(big)
    assert download.read() == big[5:]
    for name, size in (("small", len(small)), ("big", len(big))):
        with pytest.raises(errors.OutOfRange):
            alice.objects.read_object(container, name, range=(size, None))


def test_conditional_requests(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    info = alice.objects.put_object(container, "o", b"hello")
    etag = info.etag
    assert alice.objects.get_object(container, "o", if_match=etag).read() == b"hello"
    assert alice.objects.get_object(container, "o", if_match=f'"x", "{etag}"').read() == b"hello"
    with pytest.raises(errors.Conflict) as mismatch:
        alice.objects.get_object(container, "o", if_match="0" * 32)
    assert mismatch.value.reason == "ETAG_MISMATCH"
    download = alice.objects.get_object(container, "o", if_none_match=etag)
    assert download.header.not_modified and download.read() == b""
    assert alice.objects.get_object(container, "o", if_none_match="0" * 32).read() == b"hello"
    with pytest.raises(errors.AlreadyExists):
        alice.objects.put_object(container, "o", b"again", if_none_match="*")
    alice.objects.put_object(container, "new", b"first", if_none_match="*")
    assert alice.objects.read_object(container, "new") == b"first"


def test_copy(alice) -> None:  # type: ignore[no-untyped-def]
    a, b = _name(), _name()
    alice.objects.create_container(a)
    alice.objects.create_container(b)
    data = random.Random(5).randbytes(2 * (1 << 20) + 3)
    alice.objects.put_object(a, "src", data, metadata={"m": "1"}, content_type="x/y")
    alice.objects.put_object(a, "tiny", b"tiny")
    copied = alice.objects.copy_object(a, "src", b, "dst")
    assert copied.size == len(data) and dict(copied.metadata) == {"m": "1"}
    assert alice.objects.read_object(b, "dst") == data
    replaced = alice.objects.copy_object(a, "tiny", a, "tiny2", metadata={"n": "2"})
    assert dict(replaced.metadata) == {"n": "2"} and replaced.content_type == ""
    assert alice.objects.read_object(a, "tiny2") == b"tiny"
    with pytest.raises(errors.Conflict):
        alice.objects.copy_object(a, "tiny", a, "t3", if_match="0" * 32)
    with pytest.raises(errors.NotFound):
        alice.objects.copy_object(a, "missing", a, "t4")
    assert [e.name for e in alice.objects.list_objects(b)] == ["dst"]


def test_checksums_and_sizes_are_checked(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    for data in (b"x" * 100, random.Random(1).randbytes(3 * (1 << 20))):
        with pytest.raises(errors.InvalidArgument) as bad_md5:
            alice.objects.put_object(container, "bad", data, md5="0" * 32)
        assert bad_md5.value.reason == "CHECKSUM_MISMATCH"
        with pytest.raises(errors.InvalidArgument):
            alice.objects.put_object(container, "bad", data, sha256="0" * 64)
        with pytest.raises(errors.InvalidArgument):
            alice.objects.put_object(container, "bad", iter([data]), size=len(data) + 1)
        good = alice.objects.put_object(
            container,
            "good",
            data,
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        assert good.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(errors.NotFound):
        alice.objects.head_object(container, "bad")
    assert [e.name for e in alice.objects.list_objects(container)] == ["good"]


@pytest.mark.parametrize(
    ("container", "name"),
    [
        ("ok", ".."),
        ("ok", "a/../b"),
        ("ok", "a\x00b"),
        ("ok", "tab\there"),
        ("ok", ""),
        ("ok", "x" * 1025),
        ("", "x"),
        ("a/b", "x"),
        ("..", "x"),
    ],
)
def test_bad_names_are_refused(alice, container: str, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument):
        alice.objects.put_object(container, name, b"x")


def test_metadata_over_the_limit_is_refused(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    with pytest.raises(errors.InvalidArgument):
        alice.objects.put_object(container, "o", b"x", metadata={"k": "v" * 300})
    with pytest.raises(errors.InvalidArgument):
        alice.objects.put_object(
            container, "o", b"x", metadata={f"k{i}": "v" * 200 for i in range(30)}
        )
    with pytest.raises(errors.InvalidArgument):
        alice.objects.create_container(_name(), {"bad key": "v"})


def test_put_into_missing_container_is_not_found(alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.NotFound):
        alice.objects.put_object(_name(), "o", b"x")


def test_listing_prefix_delimiter_marker_and_paging(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    names = sorted(
        [f"a/{i:03d}" for i in range(30)]
        + [f"b/x/{i}" for i in range(5)]
        + ["b/y", "c", "d/e/f", "zz", "ä-unicode", "\u2603"]
    )
    for name in names:
        alice.objects.put_object(container, name, name.encode())
    listed = [e.name for e in alice.objects.list_objects(container, page_size=7)]
    assert listed == names
    assert [e.name for e in alice.objects.list_objects(container, prefix="a/0")] == [
        n for n in names if n.startswith("a/0")
    ]
    assert [e.name for e in alice.objects.list_objects(container, marker="b/y")] == [
        n for n in names if n > "b/y"
    ]
    top = list(alice.objects.list_objects(container, delimiter="/", page_size=2))
    assert [e if isinstance(e, str) else e.name for e in top] == [
        "a/",
        "b/",
        "c",
        "d/",
        "zz",
        "ä-unicode",
        "\u2603",
    ]
    under_b = list(alice.objects.list_objects(container, prefix="b/", delimiter="/"))
    assert [e if isinstance(e, str) else e.name for e in under_b] == ["b/x/", "b/y"]
    first = alice.objects.list_objects_page(container, limit=5)
    assert [o.name for o in first.objects] == names[:5] and first.page.next_page_token
    second = alice.objects.list_objects_page(
        container, limit=5, page_token=first.page.next_page_token
    )
    assert [o.name for o in second.objects] == names[5:10]
    entry = next(e for e in alice.objects.list_objects(container, prefix="c"))
    assert entry.size == 1 and entry.etag == hashlib.md5(b"c").hexdigest()
    with pytest.raises(errors.InvalidArgument):
        alice.objects.list_objects_page(container, page_token="not-a-token!")


def test_listing_reflects_every_write_and_delete(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    present: set[str] = set()
    rng = random.Random(11)
    for step in range(120):
        name = f"o{rng.randrange(40):02d}"
        if name in present and rng.random() < 0.5:
            alice.objects.delete_object(container, name)
            present.discard(name)
        else:
            alice.objects.put_object(container, name, b"v" * step)
            present.add(name)
        if step % 10 == 0:
            assert [e.name for e in alice.objects.list_objects(container)] == sorted(present)
    assert [e.name for e in alice.objects.list_objects(container, page_size=3)] == sorted(present)
    stats = alice.objects.get_container(container)
    assert stats.object_count == len(present)
    account = alice.objects.get_account()
    assert account.container_count >= 1 and account.object_count >= len(present)


def _aborted_upload(alice, container: str, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    from cumulo.object.v1 import object_pb2 as pb

    class Stop(Exception):
        pass

    def requests():  # type: ignore[no-untyped-def]
        # The header announces the size, as the SDK does whenever it knows it: that is
        # what makes a cancelled stream certain to be told from a finished one (see
        # storage/proxy/server.py::_complete).
        header = pb.PutObjectHeader(container=container, name=name, size=len(data) + 10)
        yield pb.PutObjectRequest(header=header)
        for start in range(0, len(data), 1 << 20):
            yield pb.PutObjectRequest(data=data[start : start + (1 << 20)])
        raise Stop("the client gives up")

    with pytest.raises(errors.CumuloError):
        alice.call_stream(alice.objects.stub.PutObject, requests())


def test_an_upload_that_ends_early_stores_and_lists_nothing(alice, object_cloud) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    _aborted_upload(alice, container, "small", b"s" * 1000)
    _aborted_upload(alice, container, "large", random.Random(2).randbytes(5 << 20))
    object_cloud.cluster.drain()
    for name in ("small", "large"):
        with pytest.raises(errors.NotFound):
            alice.objects.head_object(container, name)
    assert list(alice.objects.list_objects(container)) == []
    assert alice.objects.get_container(container).object_count == 0


def test_large_objects_are_segmented_and_read_back_as_one(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    data = random.Random(9).randbytes(3 * SEGMENT_SIZE + 12345)
    pieces = [data[i : i + 700_000] for i in range(0, len(data), 700_000)]
    # Unknown size (an iterator): the proxy cannot know in advance, so it segments.
    info = alice.objects.put_object(container, "big", iter(pieces), metadata={"a": "b"})
    assert info.segments == 4 and info.size == len(data) and info.etag.endswith("-4")
    head = alice.objects.head_object(container, "big")
    assert (head.size, head.etag, head.segments) == (len(data), info.etag, 4)
    assert dict(head.metadata) == {"a": "b"}
    assert alice.objects.read_object(container, "big") == data
    for start, end in (
        (0, 10),
        (SEGMENT_SIZE - 5, SEGMENT_SIZE + 5),
        (SEGMENT_SIZE, 2 * SEGMENT_SIZE),
        (100, 3 * SEGMENT_SIZE + 100),
        (len(data) - 3, None),
    ):
        expected = data[start:end]
        assert alice.objects.read_object(container, "big", range=(start, end)) == expected
    with pytest.raises(errors.OutOfRange):
        alice.objects.read_object(container, "big", range=(len(data), None))
    entry = next(iter(alice.objects.list_objects(container)))
    assert (entry.name, entry.size, entry.etag) == ("big", len(data), info.etag)
    assert alice.objects.get_container(container).bytes_used == len(data)
    # Known size past the segment size, and a copy of a large object.
    sized = alice.objects.put_object(container, "sized", data[: 2 * SEGMENT_SIZE + 1])
    assert sized.segments == 3  # two full segments and one byte
    copied = alice.objects.copy_object(container, "big", container, "big-copy")
    assert copied.size == len(data)
    assert alice.objects.read_object(container, "big-copy") == data
    with pytest.raises(errors.InvalidArgument):
        alice.objects.put_object(container, "bad", data, md5="0" * 32)
    alice.objects.delete_object(container, "big")
    with pytest.raises(errors.NotFound):
        alice.objects.read_object(container, "big")
    assert alice.objects.read_object(container, "big-copy") == data
    # Reserved names stay the proxy's.
    with pytest.raises(errors.InvalidArgument):
        alice.objects.create_container(".cumulo-segments")
    with pytest.raises(errors.InvalidArgument):
        alice.objects.put_object(container, "m", b"x", metadata={"cumulo.size": "1"})


class _Segments:
    """The segments of large object "big" in ``container``, seen through the proxy."""

    def __init__(self, cloud: ObjectCloud, container: str) -> None:
        self.cloud = cloud
        self.container = container
        assert cloud.cluster.proxy is not None
        self.servicer = cloud.cluster.proxy.servicer
        self.account = cloud.project_a

    def names(self) -> list[str]:
        found = self.cloud.loop.run(
            self.servicer.large.read_manifest(self.account, self.container, "big")
        )
        return [s.name for s in found]

    def stored(self, segment: str) -> bool:
        self.cloud.loop.run(self.servicer.large.drain())
        try:
            self.cloud.loop.run(self.servicer.replicas.head(self.account, SEGMENTS, segment))
        except errors.NotFound:
            return False
        return True


def test_overwriting_a_large_object_deletes_its_old_segments(alice, object_cloud) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    seen = _Segments(object_cloud, container)
    segments, stored = seen.names, seen.stored

    rng = random.Random(11)
    first = rng.randbytes(2 * SEGMENT_SIZE + 10)
    alice.objects.put_object(container, "big", iter([first]))
    old = segments()
    assert len(old) == 3 and all(stored(s) for s in old)
    second = rng.randbytes(SEGMENT_SIZE + 10)
    alice.objects.put_object(container, "big", iter([second]))  # large over large
    new = segments()
    assert len(new) == 2 and not set(new) & set(old)
    assert [stored(s) for s in old] == [False] * 3
    assert all(stored(s) for s in new)
    assert alice.objects.read_object(container, "big") == second
    # A streamed (past 1 MiB, under the segment size) object over a large one.
    third = rng.randbytes((1 << 20) + 7)
    assert alice.objects.put_object(container, "big", third).segments == 0
    assert [stored(s) for s in new] == [False] * 2
    assert alice.objects.read_object(container, "big") == third
    # A small object over a large one: the listing update names the replaced version.
    alice.objects.put_object(container, "big", iter([first]))
    last = segments()
    assert len(last) == 3 and all(stored(s) for s in last)
    for small in (b"tiny", iter([b"streamed ", b"but small"])):
        alice.objects.put_object(container, "big", small)
    assert [stored(s) for s in last] == [False] * 3
    assert alice.objects.read_object(container, "big") == b"streamed but small"
    assert [(e.name, e.size) for e in alice.objects.list_objects(container)] == [("big", 18)]


def _paused(body: bytes, started: threading.Event, go: threading.Event) -> Iterator[bytes]:
    """``body`` in three pieces; before the last ``started`` is set and ``go`` awaited.
    The SDK sends a piece once it has the next one (its last message says so), so the
    proxy has the first piece, past 1 MiB, and has begun the upload (version,
    predecessor read) while the client waits."""
    cut = (1 << 20) + (256 << 10)
    yield body[:cut]
    yield body[cut : cut + 1024]
    started.set()
    assert go.wait(30)
    yield body[cut + 1024 :]


def test_a_version_written_during_a_large_upload_loses_its_segments_too(  # type: ignore[no-untyped-def]
    alice, object_cloud
) -> None:
    """Large upload U begins (and reads its predecessor A) while an OLDER, slower large
    upload V is still running; V commits, then U: U's listing update names V as replaced,
    so V's segments go too, not only A's."""
    container = _name()
    alice.objects.create_container(container)
    seen = _Segments(object_cloud, container)
    rng = random.Random(5)
    first = rng.randbytes(2 * SEGMENT_SIZE + 10)
    alice.objects.put_object(container, "big", iter([first]))
    a_segments = seen.names()
    bodies = {"v": rng.randbytes(2 * SEGMENT_SIZE + 20), "u": rng.randbytes(2 * SEGMENT_SIZE + 30)}
    started = {k: threading.Event() for k in bodies}
    go = {k: threading.Event() for k in bodies}
    failures: list[BaseException] = []

    def upload(key: str) -> None:
        try:
            with object_cloud.client("alice", "proj-a") as client:
                client.objects.put_object(
                    container, "big", _paused(bodies[key], started[key], go[key])
                )
        except BaseException as exc:
            failures.append(exc)

    threads = {k: threading.Thread(target=upload, args=(k,)) for k in bodies}
    threads["v"].start()
    assert started["v"].wait(30), failures
    time.sleep(0.5)  # V has its version (the older one) and has read A
    threads["u"].start()
    assert started["u"].wait(30)
    time.sleep(0.5)  # U has its version and has read A too: V is not stored yet
    go["v"].set()
    threads["v"].join(60)
    v_segments = seen.names()
    assert len(v_segments) == 3 and not set(v_segments) & set(a_segments)
    go["u"].set()
    threads["u"].join(60)
    assert not failures, failures
    u_segments = seen.names()
    assert len(u_segments) == 3 and not set(u_segments) & set(v_segments)
    assert alice.objects.read_object(container, "big") == bodies["u"]
    assert [seen.stored(s) for s in a_segments] == [False] * 3
    assert [seen.stored(s) for s in v_segments] == [False] * 3
    assert all(seen.stored(s) for s in u_segments)
