"""Ring lookups: the pure-Python reference implementation.

Contract (``_native/ring.pyx`` must give identical results, bit for bit):

* The key of a name is ``salt + b"/" + account [+ b"/" + container [+ b"/" + obj]]``
  with every part UTF-8 encoded (``bytes`` parts are used as they are).  An object
  needs a container.  Batch calls take names already joined, ``"account/container/obj"``,
  whose key is ``salt + b"/" + name``.
* The partition is the top ``part_power`` bits of XXH3-64 (seed 0) of the key.
* ``table`` is one flat ``array('H')`` of ``replicas * parts`` device ids, replica-major:
  replica ``r`` of partition ``p`` lives on device ``table[r * parts + p]``.  A ring never
  holds a hole and never puts two replicas of a partition on one device.
* Handoffs of a partition: every usable device (``dev_zone[id] >= 0``) that is not a
  primary, in a stable per-partition pseudo-random order (splitmix64 of
  ``part << 16 | id``), taking first the devices of regions no primary or earlier handoff
  uses, then of unused zones, then of unused servers, then the rest.
* An index can call a reload hook at most once every ``interval`` seconds (checked on
  every lookup) and be refilled in place with :meth:`RingIndex.swap`, so a bound
  ``index.get_nodes`` stays valid across reloads.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import xxhash

#: Device id that marks an empty slot in a builder's table (never present in a ring).
NO_DEVICE = 0xFFFF
MASK64 = (1 << 64) - 1

Name = str | bytes


def mix64(value: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit permutation."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _utf8(part: object) -> bytes:
    if type(part) is str:
        return part.encode("utf-8")
    if type(part) is bytes:
        return part
    raise TypeError(f"names must be str or bytes, got {type(part).__name__}")


def name_key(salt: bytes, account: Name, container: Name | None, obj: Name | None) -> bytes:
    """The bytes hashed for ``/account/container/obj`` under ``salt``."""
    if obj is not None and container is None:
        raise ValueError("an object name needs a container name")
    key = salt + b"/" + _utf8(account)
    if container is not None:
        key += b"/" + _utf8(container)
        if obj is not None:
            key += b"/" + _utf8(obj)
    return key


def name_hash(
    salt: bytes, account: Name, container: Name | None = None, obj: Name | None = None
) -> int:
    """XXH3-64 of the salted path of a name (the partition is its top bits)."""
    return xxhash.xxh3_64_intdigest(name_key(salt, account, container, obj))


class RingIndex:
    """Partition and device lookups over one flat replica-to-device table."""

    def __init__(
        self,
        table: array,
        replicas: int,
        part_power: int,
        salt: bytes,
        devices: Sequence[Any],
        dev_region: array,
        dev_zone: array,
        dev_server: array,
    ) -> None:
        self._hook: Callable[[], None] | None = None
        self._interval = 0.0
        self._next_check = 0.0
        self._fill(table, replicas, part_power, salt, devices, dev_region, dev_zone, dev_server)

    def _fill(
        self,
        table: array,
        replicas: int,
        part_power: int,
        salt: bytes,
        devices: Sequence[Any],
        dev_region: array,
        dev_zone: array,
        dev_server: array,
    ) -> None:
        if not 1 <= part_power <= 32:
            raise ValueError(f"part_power must be 1..32, got {part_power}")
        if replicas < 1:
            raise ValueError(f"replicas must be 1 or more, got {replicas}")
        parts = 1 << part_power
        if table.typecode != "H" or len(table) != replicas * parts:
            raise ValueError(f"table must be an array('H') of {replicas * parts} device ids")
        ndev = len(devices)
        for tiers in (dev_region, dev_zone, dev_server):
            if tiers.typecode != "i" or len(tiers) != ndev:
                raise ValueError(f"tier arrays must be array('i') of {ndev} items")
        if len(table) and max(table) >= ndev:
            raise ValueError("table names a device id past the end of the device list")
        for dev_id in set(table):
            if devices[dev_id] is None:
                raise ValueError(f"table names device {dev_id}, which is not in the ring")
        self._table = table
        self.replicas = replicas
        self.part_power = part_power
        self.parts = parts
        self._shift = 64 - part_power
        self.salt = bytes(salt)
        self.devices = list(devices)
        self._region = dev_region
        self._zone = dev_zone
        self._server = dev_server

    def swap(self, other: RingIndex) -> None:
        """Take ``other``'s table and devices (the reload path); the hook stays."""
        self._fill(
            other._table,
            other.replicas,
            other.part_power,
            other.salt,
            other.devices,
            other._region,
            other._zone,
            other._server,
        )

    def set_reload_hook(self, hook: Callable[[], None] | None, interval: float) -> None:
        """Call ``hook`` from a lookup when ``interval`` seconds passed since the last call."""
        self._hook = hook
        self._interval = float(interval)
        self._next_check = time.monotonic() + self._interval

    def _check(self) -> None:
        if self._hook is not None:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self._interval
                self._hook()

    def get_part(
        self, account: Name, container: Name | None = None, obj: Name | None = None
    ) -> int:
        """The partition of a name."""
        self._check()
        return name_hash(self.salt, account, container, obj) >> self._shift

    def get_nodes(
        self, account: Name, container: Name | None = None, obj: Name | None = None
    ) -> tuple[int, list[Any]]:
        """The partition of a name and its primary devices, replica order."""
        self._check()
        part = name_hash(self.salt, account, container, obj) >> self._shift
        table, devices, parts = self._table, self.devices, self.parts
        return part, [devices[table[r * parts + part]] for r in range(self.replicas)]

    def get_part_nodes(self, part: int) -> list[Any]:
        """The primary devices of a partition, replica order."""
        self._check()
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        table, devices, parts = self._table, self.devices, self.parts
        return [devices[table[r * parts + part]] for r in range(self.replicas)]

    def get_part_device_ids(self, part: int) -> list[int]:
        """The primary device ids of a partition, replica order."""
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        return [self._table[r * self.parts + part] for r in range(self.replicas)]

    def get_parts(self, names: Sequence[Name]) -> array:
        """Partitions of many joined names (``"account/container/obj"``), as array('I')."""
        self._check()
        salt = self.salt + b"/"
        shift = self._shift
        digest = xxhash.xxh3_64_intdigest
        return array("I", [digest(salt + _utf8(name)) >> shift for name in names])

    def get_nodes_batch(self, names: Sequence[Name]) -> tuple[array, array]:
        """Partitions (array('I')) and primary device ids (array('H'), ``replicas`` per
        name, name-major) of many joined names."""
        parts_out = self.get_parts(names)
        table, parts, replicas = self._table, self.parts, self.replicas
        devs = array("H", bytes(2 * replicas * len(parts_out)))
        at = 0
        for part in parts_out:
            for r in range(replicas):
                devs[at] = table[r * parts + part]
                at += 1
        return parts_out, devs

    def handoffs(self, part: int, limit: int = -1) -> list[int]:
        """Handoff device ids of a partition, best first (see the module contract)."""
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        primaries = self.get_part_device_ids(part)
        region, zone, server = self._region, self._zone, self._server
        order = sorted(
            (d for d in range(len(self.devices)) if zone[d] >= 0 and d not in primaries),
            key=lambda d: (mix64((part << 16) | d), d),
        )
        used = [
            {region[d] for d in primaries},
            {zone[d] for d in primaries},
            {server[d] for d in primaries},
        ]
        chosen: list[int] = []
        taken = set()
        if limit < 0:
            limit = len(order)
        for level, tier in enumerate((region, zone, server)):
            tier_used = used[level]
            for d in order:
                if len(chosen) >= limit:
                    return chosen
                if d not in taken and tier[d] not in tier_used:
                    chosen.append(d)
                    taken.add(d)
                    used[0].add(region[d])
                    used[1].add(zone[d])
                    used[2].add(server[d])
        for d in order:
            if len(chosen) >= limit:
                break
            if d not in taken:
                chosen.append(d)
                taken.add(d)
        return chosen
