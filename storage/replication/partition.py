"""Blocking work on one partition of one on-disk device, for the replicator.

Every function here runs on the device's thread pool and touches only the
device's files (see :mod:`storage.object.diskfile` for the layout):

* :func:`suffix_hashes` - the hash of every non-empty suffix directory, from the
  :class:`~storage.object.suffixes.SuffixCache` where it is clean, recomputed
  where not; tombstones older than the reclaim age are removed on the way, as are
  empty directories.
* :func:`suffix_entries` - the current version of every object in some suffixes.
* :func:`remove_confirmed` - a handoff's cleanup: remove exactly the versions every
  primary confirmed, then the directories that became empty.

A suffix's hash is BLAKE2b-128 over ``"<name hash> <timestamp> <kind>\\n"`` of its
objects' current versions in name-hash order (``kind`` is ``data`` or ``ts``).  It
reads directory listings only, never file contents: two replicas with the same
versions of the same names hash equal, whatever their bytes (damaged bytes are the
auditor's business; it quarantines them, which changes the hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass

from storage.object.diskfile import DATA, TOMBSTONE, DiskDevice
from storage.object.store import PartitionEntry
from storage.object.suffixes import is_suffix
from storage.timestamp import Timestamp


def reclaim_cutoff(reclaim_age: float) -> Timestamp:
    """Tombstones older than this are reclaimed (``reclaim_age`` seconds before now)."""
    return Timestamp.from_seconds(max(time.time() - reclaim_age, 1.0))


def entry_line(name_hash: str, timestamp: str, deleted: bool) -> bytes:
    """One object's contribution to its suffix's hash."""
    return f"{name_hash} {timestamp} {TOMBSTONE if deleted else DATA}\n".encode()


def digest_entries(entries: list[PartitionEntry]) -> str:
    """The suffix hash of ``entries`` (one suffix, any order): what :func:`suffix_hashes`
    computes from the directory, derived from an entry listing instead."""
    digest = hashlib.blake2b(digest_size=16)
    for entry in sorted(entries, key=lambda e: e.name_hash):
        digest.update(entry_line(entry.name_hash, entry.timestamp.internal, entry.deleted))
    return digest.hexdigest()


@dataclass
class HashResult:
    """Suffix hashes of one partition and what computing them cleaned up."""

    hashes: dict[str, str]
    #: Tombstones removed for being older than the reclaim age.
    reclaimed: int = 0


def _hash_suffix(
    device: DiskDevice, partition: int, suffix: str, reclaim_before: str
) -> tuple[str | None, int]:
    """``(digest or None if empty, tombstones reclaimed)`` of one suffix directory."""
    suffix_dir = f"{device.objects_dir}/{partition}/{suffix}"
    try:
        hashes = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None, 0
    digest = hashlib.blake2b(digest_size=16)
    reclaimed = 0
    found = False
    for hashed in hashes:
        hash_dir = f"{suffix_dir}/{hashed}"
        current = device._current(hash_dir)
        if current is not None and current[1] == TOMBSTONE and current[0] < reclaim_before:
            if _reclaim(device, hash_dir, hashed, current):
                reclaimed += 1
                continue
            current = device._current(hash_dir)
        if current is None:
            _remove_empty_hash_dir(device, hash_dir, hashed)
            continue
        found = True
        digest.update(entry_line(hashed, current[0], current[1] == TOMBSTONE))
    if not found:
        with contextlib.suppress(OSError):
            os.rmdir(suffix_dir)  # fails harmlessly if a write just made a directory in it
        return None, reclaimed
    return digest.hexdigest(), reclaimed


def _reclaim(device: DiskDevice, hash_dir: str, hashed: str, version: tuple[str, str]) -> bool:
    """Remove an old tombstone and its directory if it is still the current version."""
    with device._stripe(hashed):
        versions = device._versions(hash_dir)
        if not versions or versions[0] != version:
            return False  # a newer version arrived meanwhile: keep everything
        for stem, ext in versions:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{hash_dir}/{stem}.{ext}")
        with contextlib.suppress(OSError):
            os.rmdir(hash_dir)
        device._remember(_partition_of(device, hash_dir), hashed, None)
    return True


def _partition_of(device: DiskDevice, hash_dir: str) -> int:
    """The partition of a hash directory ``objects/<partition>/<suffix>/<hash>``."""
    return int(os.path.relpath(hash_dir, device.objects_dir).split(os.sep)[0])


def _remove_empty_hash_dir(device: DiskDevice, hash_dir: str, hashed: str) -> None:
    # Under the name's stripe lock: a writer renames into this directory only while
    # holding it, and makes the directory again if it vanished (DiskDevice._install).
    with device._stripe(hashed), contextlib.suppress(OSError):
        os.rmdir(hash_dir)


def suffix_hashes(device: DiskDevice, partition: int, reclaim_age: float) -> HashResult:
    """The hash of every non-empty suffix of ``partition`` on ``device``.

    Clean cached hashes are reused; dirty or unknown suffixes are recomputed and
    the cache updated (unless the partition changed meanwhile, in which case the
    result is still correct for this call but not kept).  Tombstones older than
    ``reclaim_age`` seconds are removed and not hashed, so replicas that reclaimed
    at slightly different times agree again once all have.
    """
    cutoff = reclaim_cutoff(reclaim_age).internal
    cache = device.suffix_cache
    snap = cache.snapshot(partition)
    result = HashResult(hashes={})
    fresh: dict[str, str | None] = {}
    if snap.known is None:
        try:
            suffixes = [s for s in os.listdir(f"{device.objects_dir}/{partition}") if is_suffix(s)]
        except (FileNotFoundError, NotADirectoryError):
            suffixes = []
        for suffix in suffixes:
            digest, reclaimed = _hash_suffix(device, partition, suffix, cutoff)
            fresh[suffix] = digest
            result.reclaimed += reclaimed
        cache.commit(partition, snap.generation, fresh, full=True)
        result.hashes = {s: d for s, d in fresh.items() if d}
        return result
    for suffix in snap.dirty:
        digest, reclaimed = _hash_suffix(device, partition, suffix, cutoff)
        fresh[suffix] = digest
        result.reclaimed += reclaimed
    cache.commit(partition, snap.generation, fresh, full=False)
    merged: dict[str, str | None] = {**snap.known, **fresh}
    result.hashes = {s: d for s, d in merged.items() if d}
    return result


def reclaim_known(device: DiskDevice, partition: int, reclaim_age: float) -> int:
    """Rehash every suffix of ``partition`` from the disk (reclaiming old tombstones in
    clean suffixes too, which cached hashes would skip); return tombstones reclaimed."""
    device.suffix_cache.invalidate_partition(partition)
    return suffix_hashes(device, partition, reclaim_age).reclaimed


def suffix_entries(device: DiskDevice, partition: int, suffixes: list[str]) -> list[PartitionEntry]:
    """The current version of every object in ``suffixes`` of ``partition``, by suffix
    then name hash.  Unreadable files are quarantined and left out."""
    found = (
        device._entry(hash_dir, hashed)
        for hashed, hash_dir in device.hash_dirs(partition, suffixes)
    )
    return [entry for entry in found if entry is not None]


def remove_confirmed(device: DiskDevice, partition: int, confirmed: dict[str, str]) -> bool:
    """Remove the versions in ``confirmed`` (name hash -> timestamp) from ``partition``.

    A version is removed only if it is still the current one (a newer write that
    landed on this handoff meanwhile stays, to be pushed next pass).  Directories
    that become empty are removed; returns True if the whole partition is gone.
    """
    part_dir = f"{device.objects_dir}/{partition}"
    for hashed, stem in confirmed.items():
        hash_dir = f"{part_dir}/{hashed[-3:]}/{hashed}"
        with device._stripe(hashed):
            versions = device._versions(hash_dir)
            if not versions or versions[0][0] != stem:
                continue
            for old_stem, ext in versions:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{hash_dir}/{old_stem}.{ext}")
            with contextlib.suppress(OSError):
                os.rmdir(hash_dir)
            device._remember(partition, hashed, None)
        device.suffix_cache.invalidate(partition, hashed[-3:])
    try:
        suffixes = os.listdir(part_dir)
    except FileNotFoundError:
        return True
    for suffix in suffixes:
        with contextlib.suppress(OSError):
            os.rmdir(f"{part_dir}/{suffix}")
    try:
        os.rmdir(part_dir)
    except OSError:
        return False
    device.suffix_cache.invalidate_partition(partition)
    return True
