"""Reads on the event loop: ``DiskDevice.open_cached`` never waits for the disk.

It answers only for small versions the device installed lately and whose bytes are
all in the page cache; everything else is None or ReadLater, and ``open`` on a disk
thread decides (including quarantining damage).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from cumulo import errors
from storage.object import diskfile
from storage.object.diskfile import INLINE_READ_MAX_BYTES, DiskDevice, name_hash
from storage.object.store import ObjectName, ObjectNotFound, ReadLater
from storage.timestamp import Timestamp

NAME = ObjectName("AUTH_test", "c", "o")
PART = 7
CHUNK = 4096


def ts(n: int) -> Timestamp:
    return Timestamp(1_732_712_345_00000 + n)


@pytest.fixture
def device(tmp_path: Path) -> DiskDevice:
    return DiskDevice(tmp_path / "d1", chunk_size=CHUNK)


def put(device: DiskDevice, data: bytes, stamp: Timestamp, name: ObjectName = NAME) -> None:
    with device.create_writer(PART, name, stamp) as writer:
        writer.write(data)
        writer.commit()


def data_file(device: DiskDevice) -> Path:
    hashed = name_hash(NAME.path)
    (path,) = Path(device.objects_dir, str(PART), hashed[-3:], hashed).glob("*.data")
    return path


def evict_from_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_all(reader: diskfile.DiskReader) -> bytes:
    with reader:
        return b"".join(piece for piece, _ in reader.iter_range())


def test_a_fresh_small_object_is_read_without_a_thread(device: DiskDevice) -> None:
    data = os.urandom(3 * CHUNK + 5)
    put(device, data, ts(1))
    reader = device.open_cached(PART, NAME)
    assert reader is not None
    assert reader.metadata.timestamp == ts(1)
    assert read_all(reader) == data


def test_the_newest_version_is_read_after_an_overwrite(device: DiskDevice) -> None:
    put(device, b"old", ts(1))
    put(device, b"new", ts(2))
    reader = device.open_cached(PART, NAME)
    assert reader is not None and read_all(reader) == b"new"


def test_a_remembered_tombstone_is_not_found_without_io(device: DiskDevice) -> None:
    put(device, b"x", ts(1))
    device.delete(PART, NAME, ts(2))
    with pytest.raises(ObjectNotFound) as caught:
        device.open_cached(PART, NAME)
    assert caught.value.tombstone == ts(2)


def test_versions_not_remembered_are_left_to_a_disk_thread(device: DiskDevice) -> None:
    put(device, b"x", ts(1))
    restarted = DiskDevice(device.path, chunk_size=CHUNK)
    assert restarted.open_cached(PART, NAME) is None
    assert read_all(restarted.open(PART, NAME)) == b"x"
    assert device.open_cached(PART, ObjectName("AUTH_test", "c", "never-written")) is None


def test_objects_over_the_inline_limit_are_left_to_a_disk_thread(device: DiskDevice) -> None:
    put(device, b"y" * INLINE_READ_MAX_BYTES, ts(1))
    reader = device.open_cached(PART, NAME)
    assert reader is not None
    reader.close()
    put(device, b"y" * (INLINE_READ_MAX_BYTES + 1), ts(2))
    assert device.open_cached(PART, NAME) is None
    # A reader of the metadata only (HEAD) takes any size: it reads just the footer.
    header_only = device.open_cached(PART, NAME, max_bytes=None)
    assert header_only is not None
    with header_only:
        assert header_only.metadata.size == INLINE_READ_MAX_BYTES + 1


def test_a_file_not_in_the_page_cache_is_left_to_a_disk_thread(device: DiskDevice) -> None:
    data = os.urandom(2 * CHUNK)
    put(device, data, ts(1))
    # POSIX_FADV_DONTNEED skips pages still under writeback, which a busy machine's
    # flusher may hold a moment (CI failed here once): evict again while open_cached
    # still finds the file cached.
    for _attempt in range(100):
        evict_from_page_cache(data_file(device))
        cached = device.open_cached(PART, NAME)
        if cached is None:
            break
        cached.close()
        time.sleep(0.02)
    assert cached is None
    assert read_all(device.open(PART, NAME)) == data  # a thread's read caches it again
    reader = device.open_cached(PART, NAME)
    assert reader is not None and read_all(reader) == data


def test_data_evicted_after_the_open_raises_read_later(device: DiskDevice) -> None:
    put(device, os.urandom(2 * CHUNK), ts(1))
    reader = device.open_cached(PART, NAME)
    assert reader is not None
    evict_from_page_cache(data_file(device))
    with pytest.raises(ReadLater, match="not in the page cache"), reader:
        list(reader.iter_range())


def test_damage_is_left_to_a_disk_thread_which_quarantines_it(device: DiskDevice) -> None:
    data = os.urandom(2 * CHUNK)
    put(device, data, ts(1))
    path = data_file(device)
    raw = bytearray(path.read_bytes())
    raw[CHUNK + 1] ^= 0x01  # inside chunk 1; the footer stays valid
    path.write_bytes(bytes(raw))
    reader = device.open_cached(PART, NAME)
    assert reader is not None
    with pytest.raises(ReadLater, match="xxh3"), reader:
        list(reader.iter_range())
    assert path.exists(), "the event loop must not quarantine (disk work)"
    with pytest.raises(errors.DataCorruption), device.open(PART, NAME) as thread_reader:
        list(thread_reader.iter_range())
    assert not path.exists()


def test_a_damaged_footer_is_left_to_a_disk_thread(device: DiskDevice) -> None:
    put(device, b"z" * 100, ts(1))
    path = data_file(device)
    raw = bytearray(path.read_bytes())
    raw[-20] ^= 0x01
    path.write_bytes(bytes(raw))
    assert device.open_cached(PART, NAME) is None
    assert path.exists()
    with pytest.raises(errors.DataCorruption):
        device.open(PART, NAME)


def test_a_file_gone_since_it_was_remembered_is_left_to_a_disk_thread(
    device: DiskDevice,
) -> None:
    put(device, b"x", ts(1))
    data_file(device).unlink()  # as if removed behind the device's back
    assert device.open_cached(PART, NAME) is None
    with pytest.raises(ObjectNotFound):
        device.open(PART, NAME)


def test_a_file_system_without_nowait_reads_turns_inline_reads_off(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(device, b"x", ts(1))

    def refuse(*_args: object) -> int:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(diskfile.os, "preadv", refuse)
    assert device.open_cached(PART, NAME) is None
    assert device.inline_reads is False
    monkeypatch.undo()
    assert device.open_cached(PART, NAME) is None  # off for good
    assert read_all(device.open(PART, NAME)) == b"x"


def test_inline_reads_can_be_turned_off(tmp_path: Path) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=CHUNK, inline_reads=False)
    put(device, b"x", ts(1))
    assert device.open_cached(PART, NAME) is None
