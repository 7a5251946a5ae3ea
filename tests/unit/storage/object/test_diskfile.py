"""What only the disk store does: layout, durability order, damaged files, temp files, locking."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
from pathlib import Path

import pytest

from cumulo import errors
from storage.object import diskfile, groupsync
from storage.object.diskfile import DiskDevice, name_hash
from storage.object.store import ObjectName, ObjectNotFound, Version
from storage.timestamp import Timestamp
from tests.unit.storage.object.conftest import CHUNK

NAME = ObjectName("AUTH_test", "c", "o")
PART = 5


def ts(n: int) -> Timestamp:
    return Timestamp(1_732_712_345_00000 + n)


@pytest.fixture
def device(tmp_path: Path) -> DiskDevice:
    return DiskDevice(tmp_path / "d1", chunk_size=CHUNK)


def hash_dir(device: DiskDevice, name: ObjectName = NAME) -> Path:
    hashed = name_hash(name.path)
    return Path(device.objects_dir, str(PART), hashed[-3:], hashed)


def put(device: DiskDevice, data: bytes, stamp: Timestamp) -> None:
    with device.create_writer(PART, NAME, stamp) as writer:
        writer.write(data)
        writer.commit()


def test_layout_and_old_versions_are_removed(device: DiskDevice) -> None:
    put(device, b"one", ts(1))
    folder = hash_dir(device)
    assert sorted(os.listdir(folder)) == [f"{ts(1).internal}.data"]
    assert len(name_hash(NAME.path)) == 32
    put(device, b"two", ts(2))
    assert sorted(os.listdir(folder)) == [f"{ts(2).internal}.data"]
    device.delete(PART, NAME, ts(3))
    assert sorted(os.listdir(folder)) == [f"{ts(3).internal}.ts"]
    assert os.listdir(device.tmp_dir) == []


def test_bytes_go_to_tmp_first_and_into_place_only_at_commit(device: DiskDevice) -> None:
    with device.create_writer(PART, NAME, ts(1)) as writer:
        writer.write(b"a" * 10)
        assert os.listdir(device.tmp_dir) == []  # less than a chunk: still in memory
        writer.write(b"b" * CHUNK)
        (temp,) = os.listdir(device.tmp_dir)
        assert os.path.getsize(os.path.join(device.tmp_dir, temp)) == CHUNK + 10
        assert not hash_dir(device).exists()
        writer.commit()
    assert os.listdir(device.tmp_dir) == []
    assert len(os.listdir(hash_dir(device))) == 1


def test_data_is_synced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One write at a time, its own syncs (big objects; systems without syncfs).
    device = DiskDevice(tmp_path / "solo", chunk_size=CHUNK, group_commit=False)
    events: list[str] = []
    real_fdatasync, real_rename, real_fsync_dir = os.fdatasync, os.rename, diskfile.fsync_dir

    def fdatasync(fd: int) -> None:
        events.append("fdatasync")
        real_fdatasync(fd)

    def rename(src: str, dst: str) -> None:
        events.append("rename")
        real_rename(src, dst)

    def fsync_dir(path: str) -> None:
        events.append(f"fsync_dir {os.path.relpath(path, device.objects_dir)}")
        real_fsync_dir(path)

    monkeypatch.setattr(diskfile.os, "fdatasync", fdatasync)
    monkeypatch.setattr(diskfile.os, "rename", rename)
    monkeypatch.setattr(diskfile, "fsync_dir", fsync_dir)
    put(device, b"x", ts(1))
    hashed = name_hash(NAME.path)
    # New directories: each parent is synced so the new entries survive a crash.
    assert events == [
        "fdatasync",
        f"fsync_dir {PART}/{hashed[-3:]}",
        f"fsync_dir {PART}",
        "fsync_dir .",
        "rename",
        f"fsync_dir {PART}/{hashed[-3:]}/{hashed}",
    ]
    events.clear()
    put(device, b"y", ts(2))
    assert events == ["fdatasync", "rename", f"fsync_dir {PART}/{hashed[-3:]}/{hashed}"]


@pytest.mark.skipif(not groupsync.syncfs_available(), reason="syncfs is Linux's")
def test_grouped_writes_sync_the_file_system_before_and_after_the_rename(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_rename = os.rename
    assert device.group is not None
    real_sync = device.group.sync

    def rename(src: str, dst: str) -> None:
        events.append("rename")
        real_rename(src, dst)

    def sync() -> None:
        events.append("syncfs")
        real_sync()

    def forbidden(*_: object) -> None:
        raise AssertionError("a grouped write must not sync file by file")

    monkeypatch.setattr(diskfile.os, "rename", rename)
    monkeypatch.setattr(diskfile.os, "fdatasync", forbidden)
    monkeypatch.setattr(diskfile, "fsync_dir", forbidden)
    monkeypatch.setattr(device.group, "sync", sync)
    put(device, b"x", ts(1))
    assert events == ["syncfs", "rename", "syncfs"]
    events.clear()
    device.delete(PART, NAME, ts(2))
    assert events == ["syncfs", "rename", "syncfs"]
    with pytest.raises(ObjectNotFound):
        device.head(PART, NAME)


def _data_file(device: DiskDevice) -> Path:
    (path,) = hash_dir(device).glob("*.data")
    return path


@pytest.mark.parametrize(
    "damage",
    ["truncate-data", "truncate-trailer", "flip-metadata", "flip-trailer", "empty"],
)
def test_a_damaged_file_is_quarantined_at_open(device: DiskDevice, damage: str) -> None:
    data = random.Random(0).randbytes(2 * CHUNK + 3)
    put(device, data, ts(1))
    path = _data_file(device)
    raw = bytearray(path.read_bytes())
    if damage == "truncate-data":
        raw = raw[:CHUNK] + raw[2 * CHUNK :]
    elif damage == "truncate-trailer":
        raw = raw[:-5]
    elif damage == "flip-metadata":
        raw[len(data) + 3] ^= 0x01
    elif damage == "flip-trailer":
        raw[-20] ^= 0x01
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.DataCorruption) as caught:
        device.open(PART, NAME)
    assert "quarantined" in caught.value.message
    assert not path.exists()
    quarantined = Path(device.quarantine_dir, name_hash(NAME.path), path.name)
    assert quarantined.read_bytes() == bytes(raw)
    with pytest.raises(ObjectNotFound):
        device.head(PART, NAME)
    assert device.stats().quarantined == 1


def test_a_short_read_mid_object_fails(device: DiskDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    put(device, b"z" * (3 * CHUNK), ts(1))
    real_pread = os.pread
    reader = device.open(PART, NAME)
    monkeypatch.setattr(
        diskfile.os, "pread", lambda fd, n, off: real_pread(fd, n, off)[: n - 1 if off else n]
    )
    with pytest.raises(errors.DataCorruption, match="chunk 1 is short"), reader:
        list(reader.iter_range())


def test_stale_temporary_files_are_cleaned(device: DiskDevice) -> None:
    old = Path(device.tmp_dir, "old.tmp")
    old.write_bytes(b"interrupted")
    os.utime(old, (1, 1))
    fresh = Path(device.tmp_dir, "fresh.tmp")
    fresh.write_bytes(b"in progress")
    assert device.cleanup_temp(older_than=3600) == 1
    assert os.listdir(device.tmp_dir) == ["fresh.tmp"]
    assert device.stats().pending_writes == 1
    assert device.cleanup_temp() == 1
    assert os.listdir(device.tmp_dir) == []


def test_leftover_older_versions_are_ignored_and_removed(device: DiskDevice) -> None:
    put(device, b"old", ts(1))
    old = _data_file(device)
    kept = old.with_name("kept")
    shutil.copy(old, kept)
    put(device, b"new", ts(2))
    # As if a crash had come between the rename and the clean-up.
    shutil.move(kept, old)
    assert len(os.listdir(hash_dir(device))) == 2
    with device.open(PART, NAME) as reader:
        assert b"".join(p for p, _ in reader.iter_range()) == b"new"
    assert os.listdir(hash_dir(device)) == [f"{ts(2).internal}.data"]


def test_foreign_files_in_an_object_directory_are_ignored(device: DiskDevice) -> None:
    put(device, b"data", ts(1))
    (hash_dir(device) / "notes.txt").write_text("operator was here")
    assert device.head(PART, NAME).size == 4
    assert [e.name for e in device.list_partition(PART)] == [NAME]


def test_one_process_owns_a_device(tmp_path: Path) -> None:
    first = DiskDevice(tmp_path / "d1")
    first.lock()
    second = DiskDevice(tmp_path / "d1")
    with pytest.raises(errors.Unavailable, match="in use"):
        second.lock()
    first.unlock()
    second.lock()
    second.unlock()


def test_a_failed_rename_leaves_no_temp_file(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(src: str, dst: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(diskfile.os, "rename", broken)
    with pytest.raises(OSError, match="cross-device"):
        put(device, b"x" * (2 * CHUNK), ts(1))
    with pytest.raises(OSError, match="cross-device"):
        device.delete(PART, NAME, ts(2))
    assert os.listdir(device.tmp_dir) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [(28, "DEVICE_FULL"), (122, "DEVICE_FULL"), (5, "DEVICE_ERROR"), (30, "DEVICE_ERROR")],
)
def test_a_full_or_failing_device_is_unavailable(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    def failing(fd: int, buffers: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(diskfile.os, "writev", failing)
    with pytest.raises(errors.Unavailable) as caught:
        put(device, b"x" * 10, ts(1))
    assert caught.value.reason == reason
    with pytest.raises(errors.Unavailable):
        device.delete(PART, NAME, ts(2))
    assert os.listdir(device.tmp_dir) == []


def test_racing_writers_leave_exactly_one_file(device: DiskDevice) -> None:
    import threading

    def write(n: int) -> None:
        with contextlib.suppress(errors.Conflict):
            put(device, b"v%d" % n, ts(n))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(30, 0, -1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert os.listdir(hash_dir(device)) == [f"{ts(30).internal}.data"]
    assert os.listdir(device.tmp_dir) == []


def test_recent_versions_follow_every_install_and_are_forgotten_with_the_file(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(device, b"one", ts(1))
    assert device.recent_version(PART, NAME) == Version(ts(1).internal, False)
    put(device, b"two", ts(2))
    assert device.recent_version(PART, NAME) == Version(ts(2).internal, False)
    device.delete(PART, NAME, ts(3))
    assert device.recent_version(PART, NAME) == Version(ts(3).internal, True)
    put(device, b"four", ts(4))
    # A damaged file is quarantined: its version is forgotten, the disk says "nothing".
    device.quarantine(str(_data_file(device)), "test")
    assert device.recent_version(PART, NAME) is None
    assert device.version(PART, NAME) is None


def test_a_restarted_device_remembers_nothing_and_reads_the_disk(device: DiskDevice) -> None:
    put(device, b"one", ts(1))
    again = DiskDevice(device.path, chunk_size=CHUNK)
    assert again.recent_version(PART, NAME) is None
    assert again.version(PART, NAME) == Version(ts(1).internal, False)


def test_only_the_newest_installs_are_remembered(
    device: DiskDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diskfile, "RECENT_VERSIONS", 3)
    names = [ObjectName("AUTH_test", "c", f"o{n}") for n in range(5)]
    for n, name in enumerate(names):
        with device.create_writer(PART, name, ts(n + 1)) as writer:
            writer.write(b"x")
            writer.commit()
    remembered = [device.recent_version(PART, name) for name in names]
    assert remembered[:2] == [None, None]  # evicted: a reader falls back to the disk
    assert remembered[2:] == [Version(ts(n + 1).internal, False) for n in (2, 3, 4)]
    assert device.version(PART, names[0]) == Version(ts(1).internal, False)
