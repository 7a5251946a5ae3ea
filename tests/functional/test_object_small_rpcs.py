"""The unary PutSmallObject / GetSmallObject end to end (SDK, proxy, three object servers).

Same checks and guarantees as the PutObject / GetObject streams, for objects of at most
1 MiB; a bigger one is refused with reason OBJECT_TOO_LARGE and a hint to stream.
"""

from __future__ import annotations

import hashlib
import random
import uuid

import pytest

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from tests.functional.conftest import SEGMENT_SIZE, ObjectCloud

MIB = 1 << 20


def _name(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def alice(object_cloud: ObjectCloud):  # type: ignore[no-untyped-def]
    with object_cloud.client("alice", "proj-a") as client:
        yield client


def _put_small(client, container: str, name: str, data: bytes, **header):  # type: ignore[no-untyped-def]
    request = pb.PutSmallObjectRequest(
        header=pb.PutObjectHeader(container=container, name=name, **header), data=data
    )
    return client.objects._call("PutSmallObject", request).object


def test_round_trip_and_listing(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    rng = random.Random(11)
    stored = {}
    for size in (0, 1, 4096, MIB):
        data = rng.randbytes(size)
        name = f"o-{size}"
        info = _put_small(
            alice, container, name, data, content_type="a/b", metadata={"k": "v"}, size=size
        )
        assert info.size == size and info.etag == hashlib.md5(data).hexdigest()
        assert info.container == container and info.name == name
        got = alice.objects.get_small_object(container, name)
        assert got.data == data
        assert (got.header.start, got.header.end, got.header.not_modified) == (0, size, False)
        assert got.header.object.etag == info.etag and dict(got.header.object.metadata) == {
            "k": "v"
        }
        # The streams see the very same object.
        assert alice.objects.get_object(container, name).read() == data
        assert alice.objects.read_object(container, name, size_hint=size) == data
        stored[name] = (size, info.etag)
    listed = {e.name: (e.size, e.etag) for e in alice.objects.list_objects(container)}
    assert listed == stored
    stats = alice.objects.get_container(container)
    assert (stats.object_count, stats.bytes_used) == (4, 1 + 4096 + MIB)
    # An object stored with the stream is read with the unary call, and vice versa.
    alice.objects.put_object(container, "streamed", iter([b"abc", b"def"]))
    assert alice.objects.get_small_object(container, "streamed").data == b"abcdef"


def test_sdk_put_object_uses_the_unary_call_for_small_bytes(alice, object_cloud) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    done = []
    info = alice.objects.put_object(
        container, "p", b"payload", progress=lambda n, total: done.append((n, total))
    )
    assert info.size == 7 and done == [(7, 7)]
    assert alice.objects.read_object(container, "p") == b"payload"
    big = random.Random(2).randbytes(MIB + 1)  # streamed
    assert alice.objects.put_object(container, "big", big).size == MIB + 1
    assert alice.objects.read_object(container, "big") == big
    # A wrong size hint costs one refused unary call, then the stream reads it.
    assert alice.objects.read_object(container, "big", size_hint=10) == big


def test_too_large(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    with pytest.raises(errors.InvalidArgument) as refused:
        _put_small(alice, container, "x", b"x" * (MIB + 1))
    assert refused.value.reason == "OBJECT_TOO_LARGE" and "PutObject" in str(refused.value)
    with pytest.raises(errors.NotFound):
        alice.objects.head_object(container, "x")
    plain = random.Random(4).randbytes(MIB + 1)
    alice.objects.put_object(container, "plain", plain, size=len(plain))
    large = random.Random(5).randbytes(2 * SEGMENT_SIZE + 7)
    info = alice.objects.put_object(container, "large", iter([large]))
    assert info.segments
    for name in ("plain", "large"):
        for range_ in (None, (0, 10)):
            with pytest.raises(errors.Conflict) as too_large:
                alice.objects.get_small_object(container, name, range=range_)
            assert too_large.value.reason == "OBJECT_TOO_LARGE"
            assert "GetObject" in str(too_large.value)
    assert alice.objects.read_object(container, "plain") == plain


def test_ranges(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    data = bytes(range(256)) * 16
    alice.objects.put_object(container, "s", data)
    for start, end in ((10, 20), (4000, None), (4000, 99_999), (0, 1)):
        got = alice.objects.get_small_object(container, "s", range=(start, end))
        assert got.data == data[start:end]
        assert (got.header.start, got.header.end) == (start, min(end or len(data), len(data)))
        assert (
            alice.objects.read_object(container, "s", range=(start, end), size_hint=4096)
            == (data[start:end])
        )
    with pytest.raises(errors.OutOfRange):
        alice.objects.get_small_object(container, "s", range=(len(data), None))
    with pytest.raises(errors.InvalidArgument):
        alice.objects.get_small_object(container, "s", range=(5, 5))


def test_conditional_requests(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    etag = _put_small(alice, container, "o", b"hello").etag
    assert alice.objects.get_small_object(container, "o", if_match=etag).data == b"hello"
    with pytest.raises(errors.Conflict) as mismatch:
        alice.objects.get_small_object(container, "o", if_match="0" * 32)
    assert mismatch.value.reason == "ETAG_MISMATCH"
    got = alice.objects.get_small_object(container, "o", if_none_match=f'"{etag}"')
    assert got.header.not_modified and got.data == b"" and got.header.object.etag == etag
    assert alice.objects.get_small_object(container, "o", if_none_match="0" * 32).data == b"hello"
    with pytest.raises(errors.AlreadyExists):
        _put_small(alice, container, "o", b"again", if_none_match="*")
    with pytest.raises(errors.InvalidArgument):
        _put_small(alice, container, "o", b"again", if_none_match=etag)
    assert alice.objects.read_object(container, "o") == b"hello"
    _put_small(alice, container, "new", b"first", if_none_match="*")
    assert alice.objects.get_small_object(container, "new").data == b"first"


def test_checksums_and_sizes(alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    data = b"y" * 100
    with pytest.raises(errors.InvalidArgument) as bad_md5:
        _put_small(alice, container, "bad", data, expected_md5="0" * 32)
    assert bad_md5.value.reason == "CHECKSUM_MISMATCH"
    with pytest.raises(errors.InvalidArgument):
        _put_small(alice, container, "bad", data, expected_sha256="0" * 64)
    with pytest.raises(errors.InvalidArgument) as bad_size:
        _put_small(alice, container, "bad", data, size=101)
    assert bad_size.value.reason == "SIZE_MISMATCH"
    good = _put_small(
        alice, container, "good", data, expected_sha256=hashlib.sha256(data).hexdigest()
    )
    assert good.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(errors.InvalidArgument):
        alice.objects._call("PutSmallObject", pb.PutSmallObjectRequest(data=b"no header"))
    assert [e.name for e in alice.objects.list_objects(container)] == ["good"]


@pytest.mark.parametrize(
    ("container", "name"),
    [("ok", ".."), ("ok", "a/../b"), ("ok", "a\x00b"), ("ok", ""), ("", "x"), ("a/b", "x")],
)
def test_bad_names_are_refused(alice, container: str, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument):
        _put_small(alice, container, name, b"x")
    with pytest.raises(errors.InvalidArgument):
        alice.objects.get_small_object(container, name)


def test_missing(alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.NotFound):
        _put_small(alice, _name(), "o", b"x")
    container = _name()
    alice.objects.create_container(container)
    with pytest.raises(errors.NotFound):
        alice.objects.get_small_object(container, "nothing")


def test_quota(object_cloud: ObjectCloud) -> None:
    object_cloud.admin.quota.set_quota(
        object_cloud.project_b, {"object_count": 2, "object_bytes": 10_000}
    )
    with object_cloud.client("bob", "proj-b") as bob:
        bob.objects.create_container("q")
        _put_small(bob, "q", "one", b"x" * 6000)
        with pytest.raises(errors.QuotaExceeded):
            _put_small(bob, "q", "too-big", b"x" * 6000)
        _put_small(bob, "q", "two", b"x" * 10)
        with pytest.raises(errors.QuotaExceeded):
            _put_small(bob, "q", "three", b"x")
        assert [getattr(e, "name", e) for e in bob.objects.list_objects("q")] == ["one", "two"]


def test_a_reader_reads_but_does_not_write(object_cloud: ObjectCloud, alice) -> None:  # type: ignore[no-untyped-def]
    container = _name()
    alice.objects.create_container(container)
    _put_small(alice, container, "o", b"shared")
    with object_cloud.client("rita", "proj-a") as rita:
        assert rita.objects.get_small_object(container, "o").data == b"shared"
        with pytest.raises(errors.PermissionDenied):
            _put_small(rita, container, "o", b"mine")
    with object_cloud.client("bob", "proj-b") as bob, pytest.raises(errors.NotFound):
        bob.objects.get_small_object(container, "o")
