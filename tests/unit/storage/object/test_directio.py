"""Direct writes of large objects: what lands on disk, fallbacks, and the syncs that stay."""

from __future__ import annotations

import errno
import fcntl
import os
import random
from pathlib import Path

import pytest

from cumulo import errors
from storage.object import directio, diskfile
from storage.object.directio import ALIGNMENT, DIRECT_MIN_BYTES, AlignedBuffers
from storage.object.diskfile import DiskDevice
from storage.object.store import ObjectName
from storage.timestamp import Timestamp

NAME = ObjectName("AUTH_test", "c", "big")
PART = 3
MIB = 1 << 20


def _supports_direct(folder: Path) -> bool:
    probe = folder / "probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


@pytest.fixture
def direct_dir(tmp_path: Path) -> Path:
    if not _supports_direct(tmp_path):
        pytest.skip(f"{tmp_path} has no O_DIRECT (tmpfs?)")
    return tmp_path


class _Recorder:
    """Wraps write_direct: records the lengths written and the fd's mode afterwards."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lengths: list[int] = []
        self.left_direct: list[bool] = []
        real = directio.write_direct

        def record(fd: int, pieces: list[bytes], length: int, buffers: AlignedBuffers) -> bytes:
            rest = real(fd, pieces, length, buffers)
            self.lengths.append(length)
            self.left_direct.append(bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT))
            return rest

        monkeypatch.setattr(diskfile, "write_direct", record)


def _store(device: DiskDevice, pieces: list[bytes], stamp: int = 1) -> None:
    with device.create_writer(PART, NAME, Timestamp(1_732_712_345_00000 + stamp)) as writer:
        for piece in pieces:
            writer.write(piece)
        writer.commit()


def _read(device: DiskDevice) -> bytes:
    with device.open(PART, NAME) as reader:
        return b"".join(data for data, _ in reader.iter_range())


@pytest.mark.parametrize(
    ("sizes", "direct_lengths"),
    [
        ([MIB], [MIB]),  # one chunk: all of it direct, then the footer buffered
        ([MIB, 1000], [MIB]),  # the unaligned tail is written buffered with the footer
        ([MIB, MIB, MIB // 2 + 5], [MIB, MIB, MIB // 2]),  # the last chunk's aligned part too
        ([300 * 1024 + 7], [300 * 1024]),  # one piece past the threshold, unaligned
        ([100 * 1024], []),  # small: buffered (and possibly grouped) as before
    ],
)
def test_large_objects_are_written_direct_and_read_back_exactly(
    direct_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sizes: list[int],
    direct_lengths: list[int],
) -> None:
    device = DiskDevice(direct_dir / "d1", chunk_size=MIB)
    recorder = _Recorder(monkeypatch)
    rng = random.Random(len(sizes))
    pieces = [rng.randbytes(size) for size in sizes]
    _store(device, pieces)
    assert recorder.lengths == direct_lengths
    assert not any(recorder.left_direct), "the fd must go back to buffered mode"
    assert _read(device) == b"".join(pieces)
    assert device.direct is not None


def test_pieces_split_across_a_chunk_keep_later_chunks_aligned(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pieces that never line up with 4 KiB: every direct write still starts aligned,
    # the unaligned rest of each chunk waits for the next one.
    device = DiskDevice(direct_dir / "d1", chunk_size=MIB)
    recorder = _Recorder(monkeypatch)
    rng = random.Random(7)
    pieces = [rng.randbytes(333_333) for _ in range(10)]
    _store(device, pieces)
    assert len(recorder.lengths) >= 3
    assert all(length % ALIGNMENT == 0 for length in recorder.lengths)
    assert sum(recorder.lengths) > sum(map(len, pieces)) - 2 * MIB
    assert _read(device) == b"".join(pieces)


def test_a_file_system_without_direct_io_falls_back_to_buffered_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=MIB)

    def refuse(fd: int, on: bool) -> None:
        if on:
            raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(directio, "_set_direct", refuse)
    data = random.Random(1).randbytes(2 * MIB + 3)
    _store(device, [data[:MIB], data[MIB:]])
    assert device.direct is None  # turned off for good, once
    assert _read(device) == data
    _store(device, [data], stamp=2)
    assert _read(device) == data


def test_direct_io_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=MIB, direct_io=False)
    recorder = _Recorder(monkeypatch)
    data = random.Random(2).randbytes(MIB)
    _store(device, [data])
    assert recorder.lengths == []
    assert _read(device) == data


@pytest.mark.parametrize("group_commit", [False, True])
def test_a_direct_write_is_still_synced_before_the_rename(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch, group_commit: bool
) -> None:
    # O_DIRECT skips the page cache, not the disk's write cache: the sync stays -
    # fdatasync of the file alone, or the group commit's syncfs (objects <= 1 MiB).
    device = DiskDevice(direct_dir / "d1", chunk_size=MIB, group_commit=group_commit)
    if group_commit and device.group is None:
        pytest.skip("no syncfs here")
    recorder = _Recorder(monkeypatch)
    events: list[str] = []
    real_fdatasync, real_rename = os.fdatasync, os.rename

    def fdatasync(fd: int) -> None:
        events.append("sync")
        real_fdatasync(fd)

    def rename(src: str, dst: str) -> None:
        events.append("rename")
        real_rename(src, dst)

    monkeypatch.setattr(diskfile.os, "fdatasync", fdatasync)
    monkeypatch.setattr(diskfile.os, "rename", rename)
    if device.group is not None:
        real_sync = device.group.sync

        def sync() -> None:
            events.append("sync")
            real_sync()

        monkeypatch.setattr(device.group, "sync", sync)
    _store(device, [random.Random(3).randbytes(MIB)])
    assert recorder.lengths == [MIB]
    assert "sync" in events[: events.index("rename")]


def test_write_direct_returns_what_did_not_fit(direct_dir: Path) -> None:
    buffers = AlignedBuffers(MIB)
    fd = os.open(direct_dir / "f", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        pieces = [b"a" * DIRECT_MIN_BYTES, b"b" * 10]
        rest = directio.write_direct(fd, pieces, DIRECT_MIN_BYTES, buffers)
        assert rest == b"b" * 10
        rest = directio.write_direct(
            fd, [b"c" * 5000, b"d" * (DIRECT_MIN_BYTES - 5000 + 3)], DIRECT_MIN_BYTES, buffers
        )
        assert rest == b"ddd"
    finally:
        os.close(fd)
    assert (direct_dir / "f").read_bytes() == (
        b"a" * DIRECT_MIN_BYTES + b"c" * 5000 + b"d" * (DIRECT_MIN_BYTES - 5000)
    )
    with pytest.raises(ValueError, match="multiple of 4 KiB"):
        directio.write_direct(fd, [b"x" * 5000], 5000, buffers)
    with pytest.raises(ValueError, match="given only"):
        directio.write_direct(fd, [b"x" * 4096], 8192, buffers)


def test_the_buffer_pool_reuses_its_buffers_and_keeps_no_odd_sizes() -> None:
    buffers = AlignedBuffers(MIB)
    first = buffers.take(MIB)
    buffers.give(first)
    assert buffers.take(1000) is first  # smaller requests get a pooled buffer
    large = buffers.take(3 * MIB)
    assert len(large) == 3 * MIB
    buffers.give(large)
    assert large.closed  # not kept: the pool holds only its own size


class _ReadRecorder:
    """Wraps read_direct: records (offset, length) of every direct read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[int, int]] = []
        real = directio.read_direct

        def record(fd: int, offset: int, length: int, buffers: AlignedBuffers) -> bytes:
            self.reads.append((offset, length))
            data = real(fd, offset, length, buffers)
            assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
            return data

        monkeypatch.setattr(diskfile, "read_direct", record)


def test_large_chunks_are_read_direct_and_small_ones_buffered(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = DiskDevice(direct_dir / "d1", chunk_size=MIB)
    data = random.Random(4).randbytes(2 * MIB + 100 * 1024)
    _store(device, [data])
    recorder = _ReadRecorder(monkeypatch)
    assert _read(device) == data
    # Two full chunks direct; the 100 KiB tail chunk (under the threshold) buffered.
    assert recorder.reads == [(0, MIB), (MIB, MIB)]
    # A range inside one chunk still reads (and checks) the whole chunk.
    with device.open(PART, NAME) as reader:
        piece = b"".join(d for d, _ in reader.iter_range(MIB + 10, MIB + 20))
    assert piece == data[MIB + 10 : MIB + 20]


def test_a_direct_read_sees_bytes_still_in_the_page_cache(direct_dir: Path) -> None:
    # Written buffered and not synced: the kernel flushes the cached pages first.
    path = direct_dir / "cached"
    data = random.Random(5).randbytes(DIRECT_MIN_BYTES + 4096)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        got = directio.read_direct(fd, 4096, DIRECT_MIN_BYTES + 10_000, AlignedBuffers(MIB))
    finally:
        os.close(fd)
    assert got == data[4096:]  # short at the end of the file, like pread


def test_a_truncated_object_read_direct_is_reported_as_damaged(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = DiskDevice(direct_dir / "d1", chunk_size=MIB)
    data = random.Random(6).randbytes(MIB)
    _store(device, [data])
    recorder = _ReadRecorder(monkeypatch)
    with device.open(PART, NAME) as reader:
        # The file loses its bytes after the footer was read (a failing disk, say).
        os.truncate(reader._file_path, MIB // 2)
        with pytest.raises(errors.DataCorruption, match="short"):
            b"".join(d for d, _ in reader.iter_range())
    assert recorder.reads == [(0, MIB)]


def test_reads_fall_back_to_buffered_where_direct_io_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=MIB, direct_io=False)
    data = random.Random(7).randbytes(MIB)
    _store(device, [data])
    device.direct = AlignedBuffers(MIB)  # as if turned on, on a file system that refuses it

    def refuse(fd: int, on: bool) -> None:
        if on:
            raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(directio, "_set_direct", refuse)
    assert _read(device) == data
    assert device.direct is None
