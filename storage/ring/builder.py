"""The ring builder: operator state and the rebalance (offline, never on a hot path).

A builder holds the devices, the replica-to-device table of the last rebalance and
each partition's last-move time.  Changing devices changes nothing until
:meth:`RingBuilder.rebalance`, which:

1. computes the plan (:mod:`storage.ring.plan`): dispersion bounds per failure domain,
   then weight-proportional targets within them;
2. gathers the replicas that must move (on removed devices: always) or should move
   (breaking a dispersion bound, on draining devices, on devices over target), only
   from partitions not moved in the last ``min_part_hours`` unless
   ``override_min_part_hours`` is set (so with ``min_part_hours > 0`` a partition gives
   up at most one replica per rebalance);
3. places them (greedy, most-wanted failure domain first), then repairs what greedy
   could not balance by moving replicas from over- to under-target devices; steps 2-3
   repeat (up to ``MAX_ROUNDS``) while the excess over target shrinks, and a round that
   does not help is undone;
4. reports what moved and the resulting balance and dispersion.

``rebalance(dry_run=True)`` runs the same steps on copies and changes nothing.  The
inner loops are ``_native``'s placement functions; everything else is here.
"""

from __future__ import annotations

import os
import secrets
import time
from array import array
from dataclasses import dataclass, replace
from typing import Any

import _native
from cumulo.errors import AlreadyExists, InvalidArgument, NotFound
from storage.ring import report as reports
from storage.ring.devices import (
    MAX_DEVICE_ID,
    Device,
    check_device,
    check_part_power,
    check_replicas,
    check_weight,
)
from storage.ring.plan import Plan, make_plan
from storage.ring.ringfile import (
    BUILDER_MAGIC,
    RingData,
    RingFileError,
    read_container,
    write_container,
    write_ring,
)

NO_DEVICE = 0xFFFF
#: Most gather/place/repair rounds in one rebalance (each is one pass over the table).
MAX_ROUNDS = 8


def _excess(table: array, plan: Plan) -> int:
    """Part-replicas held beyond their devices' targets (0 when perfectly balanced)."""
    counts = _native.count_replicas(table, plan.slots)
    return sum(max(0, counts[d] - max(0, plan.dev_target[d])) for d in range(plan.slots))


@dataclass
class RebalanceResult:
    """What a rebalance did (or, for a dry run, would do)."""

    dry_run: bool
    moved_replicas: int
    moved_parts: int
    moved_bytes: int
    gathered: dict[str, int]
    relaxed: int
    repaired: int
    seconds: float
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "moved_replicas": self.moved_replicas,
            "moved_parts": self.moved_parts,
            "moved_bytes": self.moved_bytes,
            "gathered": self.gathered,
            "placed_without_dispersion": self.relaxed,
            "repaired": self.repaired,
            "seconds": round(self.seconds, 3),
            "report": self.report,
        }


class RingBuilder:
    """Devices, the current assignment and the rules to change it."""

    def __init__(
        self,
        part_power: int,
        replicas: int,
        min_part_hours: float = 1.0,
        salt: bytes | None = None,
    ) -> None:
        self.part_power = check_part_power(part_power)
        self.replicas = check_replicas(replicas)
        if min_part_hours < 0:
            raise InvalidArgument(
                f"min_part_hours must be 0 or more, got {min_part_hours}", field="min_part_hours"
            )
        self.min_part_hours = float(min_part_hours)
        self.salt = salt if salt is not None else secrets.token_bytes(16)
        self.devices: dict[int, Device] = {}
        self.removed: dict[int, Device] = {}
        self.table: array | None = None
        self.last_moved = array("I", bytes(4 * self.parts))
        self.version = 0
        #: Operator's estimate of the bytes stored in the ring, for move estimates.
        self.bytes_used = 0

    @property
    def parts(self) -> int:
        return 1 << self.part_power

    # -- devices -------------------------------------------------------------------
    def add_device(
        self,
        *,
        region: int,
        zone: int,
        ip: str,
        port: int,
        device: str,
        weight: float,
        id: int | None = None,
        meta: str = "",
    ) -> Device:
        """Add a device (placed on the next rebalance); returns it with its id."""
        if id is None:
            used = set(self.devices) | set(self.removed)
            id = next(i for i in range(MAX_DEVICE_ID + 2) if i not in used)
            if id > MAX_DEVICE_ID:
                raise InvalidArgument(f"the ring already has {MAX_DEVICE_ID + 1} device ids")
        dev = check_device(
            Device(
                id=id,
                region=region,
                zone=zone,
                ip=ip,
                port=port,
                device=device,
                weight=check_weight(weight),
                meta=meta,
            )
        )
        if id in self.devices or id in self.removed:
            raise AlreadyExists(
                f"device id {id} is already in the ring",
                field="id",
                hint="leave --id out to get the next free id",
            )
        for other in self.devices.values():
            if (other.ip, other.port, other.device) == (dev.ip, dev.port, dev.device):
                raise AlreadyExists(
                    f"device {dev.device} on {dev.server} is already in the ring as id {other.id}",
                    field="device",
                    hint="use set-weight to change it, or remove it first",
                )
        self.devices[id] = dev
        return dev

    def get_device(self, dev_id: int) -> Device:
        try:
            return self.devices[dev_id]
        except KeyError:
            raise NotFound(
                f"device {dev_id} is not in the ring",
                field="id",
                hint="`cumulo ring show` lists the devices",
            ) from None

    def remove_device(self, dev_id: int) -> Device:
        """Remove a device: the next rebalance moves all its replicas, whatever
        ``min_part_hours`` says (prefer weight 0 to drain it gradually)."""
        dev = self.get_device(dev_id)
        del self.devices[dev_id]
        if self.table is not None:
            self.removed[dev_id] = dev
        return dev

    def set_weight(self, dev_id: int, weight: float) -> Device:
        """Change a device's weight (0 drains it on the following rebalances)."""
        dev = replace(self.get_device(dev_id), weight=check_weight(weight))
        self.devices[dev_id] = dev
        return dev

    # -- rebalance -----------------------------------------------------------------
    def plan(self) -> Plan:
        weighted = sum(1 for d in self.devices.values() if d.weight > 0)
        if weighted < self.replicas:
            raise InvalidArgument(
                f"{self.replicas} replicas need at least {self.replicas} devices with a weight "
                f"above 0, and the ring has {weighted}",
                field="replicas",
                hint="add devices (or give them weight) before rebalancing",
            )
        return make_plan(self.devices.values(), self.removed.values(), self.replicas, self.parts)

    def rebalance(
        self,
        *,
        now: float | None = None,
        override_min_part_hours: bool = False,
        dry_run: bool = False,
    ) -> RebalanceResult:
        """Place every replica (see the module docstring); ``dry_run`` changes nothing."""
        started = time.perf_counter()
        plan = self.plan()
        parts, replicas = self.parts, self.replicas
        stamp = int(time.time() if now is None else now)
        table = (
            array("H", self.table)
            if self.table is not None
            else (array("H", [NO_DEVICE]) * (replicas * parts))
        )
        before = array("H", table)
        last_moved = array("I", self.last_moved)
        touched = bytearray(parts)
        min_seconds = int(self.min_part_hours * 3600)
        seed = (self.version + 1) & 0xFFFFFFFFFFFFFFFF
        gathered = dict.fromkeys(("removed", "dispersion", "drained", "over_target"), 0)
        relaxed = repaired = 0
        best = -1
        # Greedy placement can paint itself into a corner when a change leaves some
        # failure domain short; a few more gather/place/repair rounds usually finish the
        # job.  A round that does not reduce the excess over target is undone.
        for round_ in range(MAX_ROUNDS):
            saved = (array("H", table), bytearray(touched))
            round_seed = (seed + 0x9E3779B97F4A7C15 * round_) & 0xFFFFFFFFFFFFFFFF
            counts = _native.gather_replicas(
                table,
                replicas,
                parts,
                plan.anc,
                len(plan.nodes),
                plan.dev_state,
                plan.dev_target,
                plan.node_max,
                last_moved,
                touched,
                stamp,
                min_seconds,
                override_min_part_hours,
                round_seed,
            )
            if round_ and not any(counts):
                break
            placed_loose = _native.place_replicas(
                table,
                replicas,
                parts,
                plan.anc,
                len(plan.nodes),
                plan.dev_target,
                plan.node_target,
                plan.node_min,
                plan.node_max,
                round_seed,
            )
            fixed = _native.repair_replicas(
                table,
                replicas,
                parts,
                plan.anc,
                len(plan.nodes),
                plan.dev_target,
                plan.node_min,
                plan.node_max,
                last_moved,
                touched,
                stamp,
                min_seconds,
                override_min_part_hours,
                round_seed,
            )
            excess = _excess(table, plan)
            if round_ and excess >= best:
                table[:], touched[:] = saved
                break
            for key, value in zip(gathered, counts, strict=True):
                gathered[key] += value
            relaxed += placed_loose
            repaired += fixed
            best = excess
            if excess == 0:
                break
        moved_replicas, moved_parts = _native.finish_moves(before, table, parts, last_moved, stamp)
        devices = list(self.devices.values())
        report = reports.ring_report(devices, plan, table)
        result = RebalanceResult(
            dry_run=dry_run,
            moved_replicas=moved_replicas,
            moved_parts=moved_parts,
            moved_bytes=self.bytes_used * moved_replicas // (replicas * parts),
            gathered=gathered,
            relaxed=relaxed,
            repaired=repaired,
            seconds=time.perf_counter() - started,
            report=report,
        )
        if not dry_run:
            self.table = table
            self.last_moved = last_moved
            self.removed.clear()
            self.version += 1
        return result

    def report(self) -> dict[str, Any]:
        """Balance, dispersion and per-device figures of the current assignment."""
        if self.table is None:
            raise InvalidArgument(
                "the ring has not been rebalanced yet", hint="run `cumulo ring rebalance`"
            )
        return reports.ring_report(list(self.devices.values()), self.plan(), self.table)

    # -- files ---------------------------------------------------------------------
    def ring_data(self) -> RingData:
        """The ring file contents of the last rebalance."""
        if self.table is None:
            raise InvalidArgument(
                "the ring has not been rebalanced yet", hint="run `cumulo ring rebalance`"
            )
        slots = max(self.devices, default=-1) + 1
        devices: list[Device | None] = [self.devices.get(i) for i in range(slots)]
        return RingData(
            part_power=self.part_power,
            replicas=self.replicas,
            salt=self.salt,
            devices=devices,
            table=self.table,
            version=self.version,
        )

    def write_ring(self, path: str | os.PathLike[str]) -> None:
        write_ring(path, self.ring_data())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the builder file."""
        meta = {
            "kind": "builder",
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "salt": self.salt.hex(),
            "version": self.version,
            "bytes_used": self.bytes_used,
            "devices": [d.to_dict() for d in sorted(self.devices.values(), key=lambda d: d.id)],
            "removed": [d.to_dict() for d in sorted(self.removed.values(), key=lambda d: d.id)],
        }
        arrays = [("last_moved", self.last_moved)]
        if self.table is not None:
            arrays.append(("table", self.table))
        write_container(path, BUILDER_MAGIC, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RingBuilder:
        meta, arrays = read_container(path, BUILDER_MAGIC, "builder")
        try:
            builder = cls(
                int(meta["part_power"]),
                int(meta["replicas"]),
                float(meta["min_part_hours"]),
                bytes.fromhex(meta["salt"]),
            )
            builder.version = int(meta["version"])
            builder.bytes_used = int(meta.get("bytes_used", 0))
            for d in meta["devices"]:
                dev = Device.from_dict(d)
                builder.devices[dev.id] = dev
            for d in meta["removed"]:
                dev = Device.from_dict(d)
                builder.removed[dev.id] = dev
            builder.last_moved = arrays["last_moved"]
            builder.table = arrays.get("table")
        except (KeyError, TypeError, ValueError) as exc:
            raise RingFileError(f"builder file {path} is corrupt (bad field {exc})") from None
        if len(builder.last_moved) != builder.parts or (
            builder.table is not None and len(builder.table) != builder.parts * builder.replicas
        ):
            raise RingFileError(f"builder file {path} is corrupt (array sizes do not match)")
        return builder
