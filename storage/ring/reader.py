"""The ring reader: small, read-only, reloading (what servers and proxies use).

``Ring(path)`` loads a ring file into one flat ``array('H')`` (2 bytes per part-replica:
6 MiB for 2**20 partitions x 3 replicas) plus a short list of :class:`Device` records,
and answers lookups through ``_native.RingIndex``.  The lookup methods on a ``Ring``
are the native index's own bound methods (no Python frame per lookup).

Reloading: every lookup checks, at most once per ``reload_interval`` seconds, whether
the file's inode, size or mtime changed; if so it loads the new file and swaps it into
the same index, so bound methods stay valid.  A new file that is truncated, corrupt or
inconsistent is refused: the error is logged once per file version and the old ring
keeps serving.  :meth:`Ring.reload` does the same on demand but raises the error.
"""

from __future__ import annotations

import logging
import os
from array import array
from typing import Any

import _native
from storage.ring.devices import Device
from storage.ring.ringfile import RingData, RingFileError, read_ring

log = logging.getLogger(__name__)

Signature = tuple[int, int, int]
_MISSING: Signature = (-1, -1, -1)


def build_index(data: RingData) -> Any:
    """A native ``RingIndex`` over ``data`` (failure domains numbered for handoffs).

    Devices without weight get -1 in the tier arrays, which keeps them out of handoffs.
    """
    zones: dict[tuple[int, int], int] = {}
    servers: dict[tuple[int, int, str, int], int] = {}
    region = array("i", [-1]) * len(data.devices)
    zone = array("i", [-1]) * len(data.devices)
    server = array("i", [-1]) * len(data.devices)
    for d in data.devices:
        if d is None or d.weight <= 0:
            continue
        region[d.id] = d.region
        zone[d.id] = zones.setdefault((d.region, d.zone), len(zones))
        server[d.id] = servers.setdefault((d.region, d.zone, d.ip, d.port), len(servers))
    try:
        return _native.RingIndex(
            data.table,
            data.replicas,
            data.part_power,
            data.salt,
            data.devices,
            region,
            zone,
            server,
        )
    except ValueError as exc:
        raise RingFileError(f"ring is inconsistent: {exc}") from None


class Ring:
    """A loaded ring file; see the module docstring for the reload contract."""

    def __init__(self, path: str | os.PathLike[str], reload_interval: float = 15.0) -> None:
        self.path = os.fspath(path)
        signature = self._signature()
        self._data = read_ring(self.path)
        self._index = build_index(self._data)
        self._loaded = signature
        self._refused: Signature | None = None
        self._index.set_reload_hook(self._reload_if_changed, reload_interval)
        index = self._index
        # The hot paths are the native index's bound methods: no Python frame per call.
        self.get_part = index.get_part
        self.get_nodes = index.get_nodes
        self.get_part_nodes = index.get_part_nodes
        self.get_part_device_ids = index.get_part_device_ids
        self.get_parts = index.get_parts
        self.get_nodes_batch = index.get_nodes_batch
        self.handoffs = index.handoffs

    def _signature(self) -> Signature:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise RingFileError(f"ring file {self.path} does not exist") from None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _reload_if_changed(self) -> None:
        try:
            signature = self._signature()
        except RingFileError as exc:
            if self._refused != _MISSING:  # once, not every interval
                log.error("ring %s: %s; keeping version %d", self.path, exc, self.version)
                self._refused = _MISSING
            return
        if signature in (self._loaded, self._refused):
            return
        try:
            self._load(signature)
        except RingFileError as exc:
            self._refused = signature
            log.error("ring %s refused: %s; keeping version %d", self.path, exc, self.version)

    def _load(self, signature: Signature) -> None:
        data = read_ring(self.path)
        if data.version < self._data.version:
            log.warning(
                "ring %s went back from version %d to %d; loading it as the operator's choice",
                self.path,
                self._data.version,
                data.version,
            )
        self._index.swap(build_index(data))
        self._data = data
        self._loaded = signature
        self._refused = None
        log.info("ring %s reloaded: version %d", self.path, data.version)

    def reload(self) -> bool:
        """Load the file now if it changed; True if it did.  Raises
        :class:`RingFileError` for a bad file (the old ring stays loaded)."""
        signature = self._signature()
        if signature == self._loaded:
            return False
        self._load(signature)
        return True

    def get_more_nodes(self, part: int, limit: int = -1) -> list[Device]:
        """Handoff devices of ``part``, best first."""
        return [self.devices[i] for i in self.handoffs(part, limit)]

    @property
    def devices(self) -> list[Device | None]:
        """Devices by id (``None`` for ids not in the ring)."""
        return self._data.devices

    @property
    def version(self) -> int:
        return self._data.version

    @property
    def part_power(self) -> int:
        return self._data.part_power

    @property
    def parts(self) -> int:
        return self._data.parts

    @property
    def replicas(self) -> int:
        return self._data.replicas

    @property
    def table_bytes(self) -> int:
        """Bytes of the replica-to-device table (the reader's only large allocation)."""
        return len(self._data.table) * self._data.table.itemsize
