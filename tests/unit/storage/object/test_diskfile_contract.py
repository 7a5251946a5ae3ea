"""The object-store contract (storage/object/store.py), run against the disk store and its twin.

Every test here must pass for both implementations; a behaviour only one of them
has belongs in test_diskfile.py (disk) or in the twin's own tests.
"""

from __future__ import annotations

import hashlib
import random

import pytest

import _native
from cumulo import errors
from storage.object.store import (
    ObjectName,
    ObjectNotFound,
    TimestampConflict,
    Version,
    check_range,
    xxh3_of,
)
from storage.timestamp import Timestamp
from tests.unit.storage.object.conftest import CHUNK, Harness

NAME = ObjectName("AUTH_test", "photos", "2024/cat.jpg")
PART = 17


def ts(n: int) -> Timestamp:
    return Timestamp(1_732_712_345_00000 + n)


def put(
    harness: Harness,
    data: bytes,
    stamp: Timestamp,
    name: ObjectName = NAME,
    partition: int = PART,
    pieces: int = 1,
    **options: object,
) -> object:
    writer = harness.device.create_writer(partition, name, stamp, **options)  # type: ignore[arg-type]
    with writer:
        step = max(1, -(-len(data) // pieces))
        for start in range(0, len(data), step):
            writer.write(data[start : start + step])
        return writer.commit()


def read(
    harness: Harness, start: int = 0, end: int | None = None, name: ObjectName = NAME
) -> bytes:
    with harness.device.open(PART, name) as reader:
        return b"".join(piece for piece, _ in reader.iter_range(start, end))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
@pytest.mark.parametrize("pieces", [1, 3, 7])
def test_write_then_read_round_trips_with_metadata(
    harness: Harness, size: int, pieces: int
) -> None:
    data = random.Random(size).randbytes(size)
    meta = put(
        harness,
        data,
        ts(1),
        pieces=pieces,
        content_type="image/jpeg",
        metadata={"color": "grey", "x-owner": "me"},
        want_sha256=True,
    )
    head = harness.device.head(PART, NAME)
    for got in (meta, head):
        assert got.name == NAME  # type: ignore[attr-defined]
        assert got.size == size  # type: ignore[attr-defined]
        assert got.etag == hashlib.md5(data).hexdigest()  # type: ignore[attr-defined]
        assert got.sha256 == hashlib.sha256(data).hexdigest()  # type: ignore[attr-defined]
        assert list(got.chunk_xxh3) == _native.chunk_digests(data, CHUNK)  # type: ignore[attr-defined]
        assert got.content_type == "image/jpeg"  # type: ignore[attr-defined]
        assert dict(got.metadata) == {"color": "grey", "x-owner": "me"}  # type: ignore[attr-defined]
        assert got.timestamp == ts(1)  # type: ignore[attr-defined]
        assert got.created_at == got.modified_at == ts(1)  # type: ignore[attr-defined]
    assert read(harness) == data


def test_whole_chunks_come_with_their_stored_digest(harness: Harness) -> None:
    data = random.Random(1).randbytes(2 * CHUNK + 10)
    put(harness, data, ts(1))
    with harness.device.open(PART, NAME) as reader:
        pieces = list(reader.iter_range())
    assert [len(p) for p, _ in pieces] == [CHUNK, CHUNK, 10]
    assert all(digest == xxh3_of(piece) for piece, digest in pieces)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),
        (5, 6),
        (0, CHUNK),
        (CHUNK - 1, CHUNK + 1),
        (CHUNK, 3 * CHUNK),
        (100, None),
        (7, 10**9),
    ],
)
def test_ranges_return_exactly_the_asked_bytes(
    harness: Harness, start: int, end: int | None
) -> None:
    data = random.Random(2).randbytes(3 * CHUNK + 5)
    put(harness, data, ts(1))
    first, last = check_range(len(data), start, end)
    assert read(harness, first, last) == data[start:end]


def test_range_bounds() -> None:
    assert check_range(10, 0, None) == (0, 10)
    assert check_range(10, 3, 100) == (3, 10)
    with pytest.raises(errors.OutOfRange):
        check_range(10, 10, None)
    with pytest.raises(errors.OutOfRange):
        check_range(0, 0, None)
    with pytest.raises(errors.InvalidArgument):
        check_range(10, 5, 5)


def test_missing_object_is_not_found(harness: Harness) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        harness.device.head(PART, NAME)
    assert caught.value.tombstone is None
    assert caught.value.reason == "OBJECT_NOT_FOUND"


def test_delete_leaves_a_tombstone(harness: Harness) -> None:
    put(harness, b"hello", ts(1))
    result = harness.device.delete(PART, NAME, ts(2))
    assert (result.previous, result.existed) == (ts(1), True)
    with pytest.raises(ObjectNotFound) as caught:
        harness.device.open(PART, NAME)
    assert caught.value.tombstone == ts(2)
    assert caught.value.reason == "OBJECT_DELETED"
    # A PUT older than the tombstone cannot resurrect the object.
    with pytest.raises(TimestampConflict):
        put(harness, b"late", ts(1))
    put(harness, b"again", ts(3))
    assert read(harness) == b"again"


def test_deleting_a_missing_object_still_records_the_tombstone(harness: Harness) -> None:
    result = harness.device.delete(PART, NAME, ts(5))
    assert (result.previous, result.existed) == (None, False)
    with pytest.raises(TimestampConflict):
        put(harness, b"older", ts(4))


def test_the_newest_timestamp_wins(harness: Harness) -> None:
    put(harness, b"two", ts(2))
    with pytest.raises(TimestampConflict) as caught:
        put(harness, b"one", ts(1))
    assert caught.value.existing == ts(2)
    assert caught.value.reason == "NEWER_VERSION_EXISTS"
    with pytest.raises(TimestampConflict) as same:
        put(harness, b"two again", ts(2))
    assert same.value.reason == "SAME_TIMESTAMP"
    with pytest.raises(TimestampConflict):
        harness.device.delete(PART, NAME, ts(2))
    assert read(harness) == b"two"
    put(harness, b"three", ts(3))
    assert read(harness) == b"three"
    # The offset orders versions within one tick.
    put(harness, b"three+", Timestamp(ts(3).ticks, 1))
    assert read(harness) == b"three+"


def test_a_stale_large_write_is_refused_before_commit(harness: Harness) -> None:
    put(harness, b"new", ts(5))
    writer = harness.device.create_writer(PART, NAME, ts(1))
    with pytest.raises(TimestampConflict):
        for _ in range(4):
            writer.write(b"x" * CHUNK)
    writer.abort()
    assert read(harness) == b"new"


def test_a_write_is_invisible_until_commit(harness: Harness) -> None:
    put(harness, b"old", ts(1))
    with harness.device.create_writer(PART, NAME, ts(2)) as writer:
        writer.write(b"n" * (2 * CHUNK + 3))
        assert read(harness) == b"old"
        assert writer.bytes_written == 2 * CHUNK + 3
        writer.commit()
    assert read(harness) == b"n" * (2 * CHUNK + 3)


@pytest.mark.parametrize("how", ["abort", "context", "exception"])
def test_an_abandoned_write_leaves_nothing(harness: Harness, how: str) -> None:
    writer = harness.device.create_writer(PART, NAME, ts(1))
    writer.write(b"a" * (3 * CHUNK))
    assert harness.device.stats().pending_writes == 1
    if how == "abort":
        writer.abort()
        writer.abort()  # idempotent
    elif how == "context":
        with writer:
            pass
    else:
        with pytest.raises(RuntimeError), writer:
            raise RuntimeError("client went away")
    with pytest.raises(ObjectNotFound):
        harness.device.head(PART, NAME)
    assert harness.device.stats().pending_writes == 0
    assert list(harness.device.list_partition(PART)) == []
    with pytest.raises(errors.Conflict):
        writer.commit()


def test_sender_checksums_are_checked(harness: Harness) -> None:
    chunk = random.Random(3).randbytes(CHUNK)
    small = b"tail bytes"
    with harness.device.create_writer(PART, NAME, ts(1)) as writer:
        writer.write(chunk, xxh3=xxh3_of(chunk))  # aligned: checked against the chunk digest
        writer.write(small, xxh3=xxh3_of(small))  # unaligned: hashed on its own
        big = chunk + chunk + small  # spans chunks: hashed on its own too
        writer.write(big, xxh3=xxh3_of(big))
        writer.commit(
            expected_size=CHUNK + len(small) + len(big),
            expected_md5=hashlib.md5(chunk + small + big).hexdigest(),
        )
    for data in (chunk, small):
        writer = harness.device.create_writer(PART, NAME, ts(2))
        with pytest.raises(errors.InvalidArgument) as caught:
            writer.write(data, xxh3=xxh3_of(data) ^ 1)
        assert caught.value.reason == "CHECKSUM_MISMATCH"
        with pytest.raises(errors.Conflict):
            writer.write(b"more")  # the writer was aborted
    assert read(harness) == chunk + small + big


@pytest.mark.parametrize(
    ("expectation", "field"),
    [
        ({"expected_size": 11}, "expected_size"),
        ({"expected_md5": "0" * 32}, "expected_md5"),
        ({"expected_sha256": "0" * 64}, "expected_sha256"),
    ],
)
def test_a_wrong_expectation_stores_nothing(
    harness: Harness, expectation: dict[str, object], field: str
) -> None:
    put(harness, b"keep me", ts(1))
    writer = harness.device.create_writer(PART, NAME, ts(2), want_sha256=True)
    writer.write(b"0123456789")
    with pytest.raises(errors.InvalidArgument) as caught:
        writer.commit(**expectation)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert read(harness) == b"keep me"
    assert harness.device.stats().pending_writes == 0


@pytest.mark.parametrize(
    "options",
    [
        {"metadata": {f"k{i}": "v" for i in range(91)}},
        {"metadata": {"k": "v" * 257}},
        {"metadata": {"bad key": "v"}},
        {"content_type": "text/plain\n"},
        {"chunk_size": 100},
    ],
)
def test_bad_metadata_is_refused_before_any_io(
    harness: Harness, options: dict[str, object]
) -> None:
    with pytest.raises(errors.InvalidArgument):
        harness.device.create_writer(PART, NAME, ts(1), **options)  # type: ignore[arg-type]
    assert harness.device.stats().pending_writes == 0


def test_names_are_validated() -> None:
    with pytest.raises(errors.InvalidArgument):
        ObjectName("a", "c", "../../etc/passwd")
    with pytest.raises(errors.InvalidArgument):
        ObjectName("a", "c/d", "o")


def test_partition_listing_shows_objects_and_tombstones(harness: Harness) -> None:
    names = [ObjectName("acc", "con", f"obj-{i}") for i in range(5)]
    for i, name in enumerate(names):
        put(harness, b"x" * i, ts(10 + i), name=name)
    harness.device.delete(PART, names[0], ts(100))
    put(harness, b"elsewhere", ts(1), name=names[1], partition=3)
    entries = list(harness.device.list_partition(PART))
    assert {e.name for e in entries} == set(names)
    by_name = {e.name: e for e in entries}
    assert by_name[names[0]].deleted and by_name[names[0]].timestamp == ts(100)
    assert not by_name[names[4]].deleted and by_name[names[4]].size == 4
    keys = [(e.name_hash[-3:], e.name_hash) for e in entries]
    assert keys == sorted(keys)
    assert harness.device.partitions() == [3, PART]
    assert list(harness.device.list_partition(999)) == []
    stats = harness.device.stats()
    assert stats.partitions == 2
    assert stats.name == "d1"
    assert stats.total_bytes >= stats.free_bytes > 0


@pytest.mark.parametrize("offset", [0, CHUNK + 7, 2 * CHUNK + 1])
def test_a_damaged_chunk_fails_the_read_and_is_quarantined(harness: Harness, offset: int) -> None:
    data = random.Random(4).randbytes(2 * CHUNK + 100)
    put(harness, data, ts(1))
    harness.corrupt(PART, NAME, offset)
    damaged = offset // CHUNK
    received = []
    reader = harness.device.open(PART, NAME)
    with pytest.raises(errors.DataCorruption) as caught, reader:
        for piece, _ in reader.iter_range():
            received.append(piece)
    assert f"chunk {damaged}" in caught.value.message
    # Nothing of the damaged chunk (or after it) was handed out.
    assert b"".join(received) == data[: damaged * CHUNK]
    with pytest.raises(ObjectNotFound):
        harness.device.head(PART, NAME)
    assert harness.device.stats().quarantined == 1


def test_a_range_read_verifies_the_chunks_it_reads(harness: Harness) -> None:
    data = random.Random(5).randbytes(3 * CHUNK)
    put(harness, data, ts(1))
    harness.corrupt(PART, NAME, CHUNK + 1)
    # A range that does not touch the damaged chunk still reads fine...
    assert read(harness, 0, 10) == data[:10]
    # ...and one that does fails.
    with pytest.raises(errors.DataCorruption):
        read(harness, CHUNK, CHUNK + 2)


def test_racing_writers_of_one_object_leave_the_newest(harness: Harness) -> None:
    import threading

    stamps = list(range(1, 25))
    random.Random(6).shuffle(stamps)
    outcomes: list[str] = []

    def write(n: int) -> None:
        try:
            put(harness, f"version {n}".encode(), ts(n))
            outcomes.append("stored")
        except TimestampConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(n,)) for n in stamps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read(harness) == b"version 24"
    assert outcomes.count("stored") >= 1 and len(outcomes) == 24
    (entry,) = harness.device.list_partition(PART)
    assert entry.timestamp == ts(24)
    assert harness.device.stats().pending_writes == 0


def test_a_trusted_md5_is_stored_as_the_etag_without_rehashing(harness: Harness) -> None:
    data = random.Random(5).randbytes(2 * CHUNK + 10)
    trusted = hashlib.md5(data).hexdigest().upper()
    writer = harness.device.create_writer(PART, NAME, ts(1), trusted_md5=trusted)
    with writer:
        for start in range(0, len(data), CHUNK):
            piece = data[start : start + CHUNK]
            writer.write(piece, xxh3_of(piece))
        meta = writer.commit(expected_md5=trusted.lower())
    assert meta.etag == harness.device.head(PART, NAME).etag == trusted.lower()
    assert read(harness) == data


def test_a_trusted_md5_requires_every_piece_to_carry_its_xxh3(harness: Harness) -> None:
    data = b"x" * 100
    writer = harness.device.create_writer(
        PART, NAME, ts(1), trusted_md5=hashlib.md5(data).hexdigest()
    )
    with pytest.raises(errors.InvalidArgument, match="xxh3") as caught:
        writer.write(data)
    assert caught.value.reason == "CHECKSUM_REQUIRED"
    with pytest.raises(ObjectNotFound):
        harness.device.head(PART, NAME)
    # A damaged piece is still refused by its XXH3.
    writer = harness.device.create_writer(
        PART, NAME, ts(2), trusted_md5=hashlib.md5(data).hexdigest()
    )
    with pytest.raises(errors.InvalidArgument, match="xxh3"):
        writer.write(data, xxh3_of(data[:-1] + b"y"))
    with pytest.raises(ObjectNotFound):
        harness.device.head(PART, NAME)


def test_a_trusted_md5_must_agree_with_the_expected_one(harness: Harness) -> None:
    data = b"hello"
    writer = harness.device.create_writer(
        PART, NAME, ts(1), trusted_md5=hashlib.md5(data).hexdigest()
    )
    with writer:
        writer.write(data, xxh3_of(data))
        with pytest.raises(errors.InvalidArgument, match="MD5"):
            writer.commit(expected_md5=hashlib.md5(b"other").hexdigest())
    with pytest.raises(errors.InvalidArgument, match="hex MD5"):
        harness.device.create_writer(PART, NAME, ts(2), trusted_md5="not-an-md5")


def test_version_names_the_current_version_without_reading_it(harness: Harness) -> None:
    device = harness.device
    assert device.version(PART, NAME) is None
    put(harness, b"one", ts(1))
    assert device.version(PART, NAME) == Version(ts(1).internal, False)
    put(harness, b"two", ts(2))
    assert device.version(PART, NAME) == Version(ts(2).internal, False)
    device.delete(PART, NAME, ts(3))
    assert device.version(PART, NAME) == Version(ts(3).internal, True)
    # What a device remembers is either nothing or exactly the current version.
    assert device.recent_version(PART, NAME) in (None, device.version(PART, NAME))
    other = ObjectName("AUTH_test", "photos", "never-written")
    assert device.version(PART, other) is None
    assert device.recent_version(PART, other) is None
