"""The ring as one object server sees it: which ring devices are its own.

The object server may start before the ring file exists (the all-in-one builds the
ring once the nodes' ports are known), so :class:`LocalRing` loads it lazily, at
the first pass that needs it; after that the reader reloads it when the file
changes (:class:`storage.ring.Ring`).

A ring device is this server's when its port is the server's bound port, its
device name is one this server serves, and its ip is the server's ``ring_ip``.
``ring_ip`` is the listen host unless configured (``storage.ring_ip``); with a
wildcard listen address (``0.0.0.0``, ``::``) it must be configured, or every
node with the same port and device names would claim each other's devices.
"""

from __future__ import annotations

import ipaddress
import os

from cumulo import errors
from storage.ring import Ring, RingFileError
from storage.ring.devices import Device

_WILDCARDS = {"", "0.0.0.0", "::", "[::]", "*"}


def normal_ip(text: str) -> str:
    """``text`` as an IP address in canonical form (brackets dropped); a host name as is."""
    text = text.strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


class LocalRing:
    """A lazily loaded ring plus this server's identity in it."""

    def __init__(self, path: str | os.PathLike[str], ip: str, port: int) -> None:
        self.path = os.fspath(path)
        self.ip = "" if ip.strip("[]") in _WILDCARDS else normal_ip(ip)
        self.port = port
        self._ring: Ring | None = None

    @property
    def version(self) -> int:
        return self._ring.version if self._ring is not None else 0

    def ring(self) -> Ring:
        """The loaded ring, loading it now if needed; Conflict (RING_NOT_LOADED) if it
        cannot be, or if this server cannot tell which ring devices are its own."""
        if not self.ip:
            raise errors.Conflict(
                "this object server listens on a wildcard address, so it cannot tell "
                "which ring devices are its own",
                reason="RING_IP_REQUIRED",
                field="storage.ring_ip",
                hint="set storage.ring_ip to the address this node has in the ring",
            )
        if self._ring is None:
            try:
                self._ring = Ring(self.path)
            except RingFileError as exc:
                raise errors.Conflict(
                    f"no usable ring at {self.path}: {exc}",
                    reason="RING_NOT_LOADED",
                    hint="write the ring file (cumulo ring ... / storage.ring_file); "
                    "replication starts once it exists",
                ) from None
        return self._ring

    def is_mine(self, device: Device | None, device_name: str) -> bool:
        return (
            device is not None
            and device.port == self.port
            and device.device == device_name
            and normal_ip(device.ip) == self.ip
        )

    def local_ids(self, device_name: str) -> set[int]:
        """Ring device ids that are ``device_name`` on this server (usually one, or none)."""
        ring = self.ring()
        return {d.id for d in ring.devices if d is not None and self.is_mine(d, device_name)}
