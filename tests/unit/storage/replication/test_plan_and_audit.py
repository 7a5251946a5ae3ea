"""The replicator's sync plan and the auditor's checks, without sockets."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from storage.object.diskfile import DiskDevice, name_hash
from storage.object.store import MIN_CHUNK_SIZE, ObjectName, PartitionEntry
from storage.replication.auditor import RateLimiter, audit_pass
from storage.replication.replicator import plan_sync
from storage.timestamp import Timestamp

NOW = Timestamp.from_seconds(2_000_000_000)
CUTOFF = Timestamp.from_seconds(1_999_000_000)


def entry(name: str, seconds: float, deleted: bool = False) -> PartitionEntry:
    obj = ObjectName("a", "c", name)
    return PartitionEntry(
        name_hash=name_hash(obj.path),
        name=obj,
        timestamp=Timestamp.from_seconds(seconds),
        deleted=deleted,
    )


def test_the_newer_side_wins_each_name() -> None:
    local = [
        entry("both-same", 1_999_500_000),
        entry("ours-newer", 1_999_500_002),
        entry("theirs-newer", 1_999_500_000),
        entry("only-ours", 1_999_500_000),
        entry("our-delete-newer", 1_999_500_009, deleted=True),
        entry("our-old-tombstone", 1_998_000_000, deleted=True),
    ]
    remote = [
        entry("both-same", 1_999_500_000),
        entry("ours-newer", 1_999_500_001),
        entry("theirs-newer", 1_999_500_001, deleted=True),
        entry("only-theirs", 1_999_500_000),
        entry("our-delete-newer", 1_999_500_008),
        entry("their-old-tombstone", 1_998_000_000, deleted=True),
    ]
    plan = plan_sync(local, remote, CUTOFF)
    assert sorted(e.name.object for e in plan.push) == [
        "only-ours",
        "our-delete-newer",
        "ours-newer",
    ]
    assert sorted(e.name.object for e in plan.pull) == ["only-theirs", "theirs-newer"]
    assert all(e.deleted for e in plan.pull if e.name.object == "theirs-newer")
    # What the peer has (or supersedes), and reclaimable tombstones, are confirmed.
    assert sorted(e.name.object for e in plan.confirmed) == [
        "both-same",
        "our-old-tombstone",
        "theirs-newer",
    ]


def _put(device: DiskDevice, name: str, body: bytes) -> Path:
    obj = ObjectName("a", "c", name)
    with device.create_writer(1, obj, Timestamp.now()) as writer:
        writer.write(body)
        writer.commit()
    hashed = name_hash(obj.path)
    (path,) = Path(device.objects_dir, "1", hashed[-3:], hashed).glob("*.data")
    return path


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x10]))


def test_the_auditor_quarantines_damaged_files_only(tmp_path: Path) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=MIN_CHUNK_SIZE)
    good = _put(device, "good", b"g" * 10_000)
    bad_chunk = _put(device, "bad-chunk", b"b" * 10_000)
    bad_footer = _put(device, "bad-footer", b"f" * 100)
    device.delete(1, ObjectName("a", "c", "gone"), Timestamp.now())
    _flip(bad_chunk, 9_000)  # the third 4 KiB chunk
    _flip(bad_footer, bad_footer.stat().st_size - 40)  # inside the metadata JSON
    stats = audit_pass(device, bytes_per_second=0, files_per_second=0, stop=threading.Event())
    assert (stats.files, stats.quarantined) == (4, 2)
    assert stats.bytes >= 10_000
    assert good.exists() and not bad_chunk.exists() and not bad_footer.exists()
    assert len(list(Path(device.quarantine_dir).rglob("*.data"))) == 2
    again = audit_pass(device, bytes_per_second=0, files_per_second=0, stop=threading.Event())
    assert (again.files, again.quarantined) == (2, 0)


def test_the_auditor_notices_a_file_in_the_wrong_directory(tmp_path: Path) -> None:
    device = DiskDevice(tmp_path / "d1", chunk_size=MIN_CHUNK_SIZE)
    path = _put(device, "moved", b"m" * 100)
    wrong = Path(device.objects_dir, "1", "fff", "f" * 32)
    wrong.mkdir(parents=True)
    path.rename(wrong / path.name)
    stats = audit_pass(device, bytes_per_second=0, files_per_second=0, stop=threading.Event())
    assert stats.quarantined == 1


def test_the_rate_limiter_holds_the_pace_and_stops_early() -> None:
    stop = threading.Event()
    limiter = RateLimiter(bytes_per_second=0, files_per_second=50, stop=stop)
    begun = time.monotonic()
    for _ in range(5):
        limiter.spend(files=1)
    assert time.monotonic() - begun >= 0.09  # 5 files at 50/s: 0.1 s
    stop.set()
    slow = RateLimiter(bytes_per_second=1, files_per_second=0, stop=stop)
    begun = time.monotonic()
    slow.spend(nbytes=1_000_000)  # would be 11 days
    assert time.monotonic() - begun < 1
