"""Suffix hashes of an on-disk device: what they cover, and when the cache drops them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storage.object.diskfile import DiskDevice, name_hash
from storage.object.store import MIN_CHUNK_SIZE, ObjectName
from storage.object.suffixes import SuffixCache, is_suffix, suffix_of
from storage.replication import partition as disk
from storage.timestamp import Timestamp

PART = 5
WEEK = 7 * 24 * 3600.0


def put(device: DiskDevice, name: ObjectName, body: bytes, ts: Timestamp) -> None:
    with device.create_writer(PART, name, ts) as writer:
        writer.write(body)
        writer.commit()


def ago(seconds: float) -> Timestamp:
    return Timestamp.from_seconds(time.time() - seconds)


@pytest.fixture
def device(tmp_path: Path) -> DiskDevice:
    return DiskDevice(tmp_path / "d1", chunk_size=MIN_CHUNK_SIZE)


def names(count: int) -> list[ObjectName]:
    return [ObjectName("a", "c", f"o{i}") for i in range(count)]


def test_equal_versions_hash_equal_and_any_difference_shows(tmp_path: Path) -> None:
    one, two = DiskDevice(tmp_path / "one"), DiskDevice(tmp_path / "two")
    ts = ago(10)
    for name in names(20):
        put(one, name, b"same", ts)
        put(two, name, b"bytes differ but versions are equal", ts)
    first = disk.suffix_hashes(one, PART, WEEK).hashes
    assert first == disk.suffix_hashes(two, PART, WEEK).hashes
    assert all(is_suffix(s) for s in first) and len(first) <= 20

    changed = names(20)[7]
    put(two, changed, b"newer", ago(5))
    second = disk.suffix_hashes(two, PART, WEEK).hashes
    suffix = suffix_of(name_hash(changed.path))
    assert {s for s in first if first[s] != second.get(s)} == {suffix}

    two.delete(PART, names(20)[3], ago(1))
    assert (
        disk.suffix_hashes(two, PART, WEEK).hashes[suffix_of(name_hash(names(20)[3].path))]
        != (first[suffix_of(name_hash(names(20)[3].path))])
    )


def test_digest_of_a_listing_equals_the_directory_hash(device: DiskDevice) -> None:
    for i, name in enumerate(names(30)):
        if i % 3:
            put(device, name, b"x" * i, ago(100 - i))
        else:
            device.delete(PART, name, ago(100 - i))
    hashes = disk.suffix_hashes(device, PART, WEEK).hashes
    entries = disk.suffix_entries(device, PART, sorted(hashes))
    by_suffix: dict[str, list] = {}
    for entry in entries:
        by_suffix.setdefault(suffix_of(entry.name_hash), []).append(entry)
    assert {s: disk.digest_entries(group) for s, group in by_suffix.items()} == hashes


def test_writes_deletes_and_quarantines_invalidate_only_their_suffix(device: DiskDevice) -> None:
    for name in names(10):
        put(device, name, b"v1", ago(50))
    disk.suffix_hashes(device, PART, WEEK)
    snap = device.suffix_cache.snapshot(PART)
    assert snap.known is not None and not snap.dirty

    target = names(10)[4]
    suffix = suffix_of(name_hash(target.path))
    put(device, target, b"v2", ago(40))
    assert device.suffix_cache.snapshot(PART).dirty == {suffix}
    disk.suffix_hashes(device, PART, WEEK)
    assert not device.suffix_cache.snapshot(PART).dirty

    device.delete(PART, target, ago(30))
    assert device.suffix_cache.snapshot(PART).dirty == {suffix}
    disk.suffix_hashes(device, PART, WEEK)

    other = names(10)[6]
    other_suffix = suffix_of(name_hash(other.path))
    before = disk.suffix_hashes(device, PART, WEEK).hashes.get(other_suffix)
    (data_file,) = Path(device.objects_dir, str(PART), other_suffix).glob("*/*.data")
    device.quarantine(str(data_file), "test")
    assert device.suffix_cache.snapshot(PART).dirty == {other_suffix}
    assert disk.suffix_hashes(device, PART, WEEK).hashes.get(other_suffix) != before


def test_a_hash_computed_during_a_change_is_not_kept() -> None:
    cache = SuffixCache()
    snap = cache.snapshot(1)
    cache.invalidate(1, "abc")  # a write landed while the hash was being computed
    assert not cache.commit(1, snap.generation, {"abc": "stale"}, full=True)
    assert cache.snapshot(1).known is None
    snap = cache.snapshot(1)
    assert cache.commit(1, snap.generation, {"abc": "fresh", "def": None}, full=True)
    assert cache.snapshot(1).known == {"abc": "fresh"}
    cache.invalidate(1, "123")  # a new suffix directory is dirty, never missed
    assert cache.snapshot(1).dirty == {"123"}
    cache.invalidate_partition(1)
    assert cache.snapshot(1).known is None


def test_old_tombstones_are_reclaimed_and_fresh_ones_kept(device: DiskDevice) -> None:
    old, fresh, data = names(3)
    device.delete(PART, old, ago(WEEK + 60))
    device.delete(PART, fresh, ago(WEEK - 60))
    put(device, data, b"old data stays", ago(WEEK * 2))
    result = disk.suffix_hashes(device, PART, WEEK)
    assert result.reclaimed == 1
    old_dir = Path(
        device.objects_dir, str(PART), suffix_of(name_hash(old.path)), name_hash(old.path)
    )
    assert not old_dir.exists()
    kept = {e.name for e in device.list_partition(PART)}
    assert kept == {fresh, data}


def test_remove_confirmed_keeps_a_version_that_arrived_later(device: DiskDevice) -> None:
    first, second = names(2)
    put(device, first, b"a", ago(20))
    put(device, second, b"b", ago(20))
    confirmed = {e.name_hash: e.timestamp.internal for e in device.list_partition(PART)}
    put(device, second, b"newer, not yet pushed", ago(10))
    assert disk.remove_confirmed(device, PART, confirmed) is False
    assert [e.name for e in device.list_partition(PART)] == [second]
    confirmed = {e.name_hash: e.timestamp.internal for e in device.list_partition(PART)}
    assert disk.remove_confirmed(device, PART, confirmed) is True
    assert PART not in device.partitions()


def test_a_write_after_the_replicator_removed_its_directories_still_lands(
    device: DiskDevice,
) -> None:
    name = names(1)[0]
    device.delete(PART, name, ago(WEEK + 10))
    disk.suffix_hashes(device, PART, WEEK)  # reclaims, removes the empty directories
    put(device, name, b"back", ago(1))
    with device.open(PART, name) as reader:
        assert b"".join(piece for piece, _ in reader.iter_range()) == b"back"
