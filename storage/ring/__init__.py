"""The object-store ring: build offline, look up online.

* :class:`~storage.ring.builder.RingBuilder` (operator tooling) places every
  partition's replicas on devices and writes a ring file.
* :class:`~storage.ring.reader.Ring` (servers and proxies) loads a ring file into
  compact arrays, answers lookups through ``_native`` and reloads when the file changes.
* :mod:`storage.ring.ringfile` is the on-disk format both share.
"""

from storage.ring.builder import RebalanceResult, RingBuilder
from storage.ring.devices import Device
from storage.ring.reader import Ring
from storage.ring.ringfile import RingData, RingFileError, read_ring, write_ring

__all__ = [
    "Device",
    "RebalanceResult",
    "Ring",
    "RingBuilder",
    "RingData",
    "RingFileError",
    "read_ring",
    "write_ring",
]
