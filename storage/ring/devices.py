"""Devices of a ring and the limits every ring respects.

A device is one disk of one storage server: an operator-chosen or builder-assigned
``id``, its failure domains (``region`` > ``zone`` > server, the server being the
``ip``/``port`` pair), the ``device`` name on that server and a ``weight`` (relative
capacity; 0 drains the device).  Every check here raises
:class:`cumulo.errors.InvalidArgument` saying what was wrong and what to do.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import asdict, dataclass
from typing import Any

from cumulo.errors import InvalidArgument

#: Partition powers a ring may use: 2**24 partitions x 3 replicas is 96 MiB of table.
MIN_PART_POWER, MAX_PART_POWER = 1, 24
#: Replica counts a ring may use (the native loops size per-partition scratch by it).
MIN_REPLICAS, MAX_REPLICAS = 1, 16
#: Device ids are uint16 in the table and 0xFFFF marks an empty slot.
MAX_DEVICE_ID = 0xFFFE


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a ring; the reader hands these out as lookup results."""

    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    meta: str = ""

    @property
    def server(self) -> str:
        """``ip:port`` (``[ip]:port`` for IPv6), the server failure domain."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        return cls(
            id=int(data["id"]),
            region=int(data["region"]),
            zone=int(data["zone"]),
            ip=str(data["ip"]),
            port=int(data["port"]),
            device=str(data["device"]),
            weight=float(data["weight"]),
            meta=str(data.get("meta", "")),
        )


def check_part_power(part_power: int) -> int:
    if not isinstance(part_power, int) or not MIN_PART_POWER <= part_power <= MAX_PART_POWER:
        raise InvalidArgument(
            f"partition power must be an integer from {MIN_PART_POWER} to {MAX_PART_POWER}, "
            f"got {part_power!r}",
            field="part_power",
            hint="pick one that gives ~100 partitions per device at the cluster's largest size",
        )
    return part_power


def check_replicas(replicas: int) -> int:
    if not isinstance(replicas, int) or not MIN_REPLICAS <= replicas <= MAX_REPLICAS:
        raise InvalidArgument(
            f"replicas must be an integer from {MIN_REPLICAS} to {MAX_REPLICAS}, got {replicas!r}",
            field="replicas",
        )
    return replicas


def check_weight(weight: float) -> float:
    try:
        value = float(weight)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"device weight must be a number, got {weight!r}", field="weight"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument(
            f"device weight must be 0 or more, got {weight!r}",
            field="weight",
            hint="use a weight proportional to the device's capacity; 0 drains the device",
        )
    return value


def check_device(device: Device) -> Device:
    """Validate every field of ``device`` (not its uniqueness: the builder does that)."""
    if not 0 <= device.id <= MAX_DEVICE_ID:
        raise InvalidArgument(f"device id must be 0..{MAX_DEVICE_ID}, got {device.id}", field="id")
    for name in ("region", "zone"):
        value = getattr(device, name)
        if not 0 <= value <= 0xFFFF:
            raise InvalidArgument(f"{name} must be 0..65535, got {value}", field=name)
    try:
        ipaddress.ip_address(device.ip)
    except ValueError:
        raise InvalidArgument(
            f"ip must be an IPv4 or IPv6 address, got {device.ip!r}",
            field="ip",
            hint="give the storage server's address, not a host name",
        ) from None
    if not 1 <= device.port <= 65535:
        raise InvalidArgument(f"port must be 1..65535, got {device.port}", field="port")
    if not device.device or "/" in device.device or not device.device.isprintable():
        raise InvalidArgument(
            f"device name must be a non-empty printable name without '/', got {device.device!r}",
            field="device",
            hint="use the mount point's name under the server's devices directory, e.g. sdb1",
        )
    check_weight(device.weight)
    return device
