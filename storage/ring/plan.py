"""What each failure domain and device should hold: the placement plan.

The plan is computed top-down over the tree region > zone > server > device:

1. **Dispersion bounds.**  A node that holds ``k`` replicas of a partition spreads them
   over its children as evenly as their sizes allow (a child can take at most as many
   replicas of one partition as it has devices with weight).  The most even spread of
   ``k`` gives each child at most ``hi`` and at least ``lo`` replicas of that partition.
   ``topo_max`` is the same bound from the topology alone (``k`` = replicas at the root):
   the report counts a partition as badly dispersed when some node holds more of its
   replicas than that.
2. **Weight within the bounds.**  The node's part-replicas are shared among its children
   in proportion to weight, clamped to ``[lo * parts, hi * parts]`` (water-filling), and
   rounded by largest remainder so the integer targets add up exactly.  This is where
   dispersion wins over weight: a zone too light for a third of the replicas still gets a
   third when every partition needs a replica in it.
3. A child's own per-partition bounds then tighten to ``floor``/``ceil`` of its target
   over ``parts`` (a child whose target is exactly ``parts`` holds one replica of every
   partition).

Everything here is plain Python shared by both native backends, so the numbers the
native loops see do not depend on which backend loaded.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from storage.ring.devices import Device

TIERS = ("region", "zone", "server")
ABSENT, ACTIVE, DRAINING, REMOVED = 0, 1, 2, 3


@dataclass
class Node:
    """One region, zone or server of the plan."""

    tier: int
    key: tuple[object, ...]
    index: int
    weight: float = 0.0
    capacity: int = 0
    target: int = 0
    kmin: int = 0
    kmax: int = 0
    topo_max: int = 0
    children: list[Node] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.tier == 0:
            return f"r{self.key[0]}"
        if self.tier == 1:
            return f"r{self.key[0]}z{self.key[1]}"
        host = f"[{self.key[2]}]" if ":" in str(self.key[2]) else str(self.key[2])
        return f"r{self.key[0]}z{self.key[1]}-{host}:{self.key[3]}"


@dataclass
class Plan:
    """Targets and bounds, as the flat arrays ``_native``'s placement loops take."""

    replicas: int
    parts: int
    nodes: list[Node]
    slots: int
    anc: array
    dev_state: array
    dev_target: array
    node_target: array
    node_min: array
    node_max: array
    topo_max: array
    total_weight: float

    def target_of(self, dev_id: int) -> int:
        return max(0, self.dev_target[dev_id]) if dev_id < self.slots else 0


def spread(k: int, caps: Sequence[int]) -> tuple[list[int], list[int]]:
    """Per-child (most, least) replicas of one partition when ``k`` are spread as evenly
    as children with room for ``caps`` replicas allow."""
    if k <= 0:
        return [0] * len(caps), [0] * len(caps)
    level = 0
    while sum(min(c, level) for c in caps) < k:
        level += 1
        if level > max(caps, default=0):
            break
    most = [min(c, level) for c in caps]
    if sum(most) == k:
        return most, most
    return most, [min(c, level - 1) for c in caps]


def waterfill(
    total: float, weights: Sequence[float], lo: Sequence[float], hi: Sequence[float]
) -> list[float]:
    """Shares proportional to ``weights`` clamped to ``[lo, hi]``, adding up to ``total``."""
    if sum(lo) >= total:
        return list(lo)
    if sum(hi) <= total:
        return list(hi)

    def shares(scale: float) -> list[float]:
        return [
            min(max(scale * w, low), high) for w, low, high in zip(weights, lo, hi, strict=True)
        ]

    low_scale = 0.0
    high_scale = max((h / w for w, h in zip(weights, hi, strict=True) if w > 0), default=0.0)
    for _ in range(200):
        mid = (low_scale + high_scale) / 2
        if sum(shares(mid)) < total:
            low_scale = mid
        else:
            high_scale = mid
        if high_scale - low_scale <= 1e-15 * high_scale:
            break
    return shares(high_scale)


def apportion(
    shares: Sequence[float], total: int, lo: Sequence[int], hi: Sequence[int]
) -> list[int]:
    """Integers within ``[lo, hi]`` adding up to ``total``, each the floor or ceiling of its
    share; the largest remainders round up (ties: earlier children first)."""
    ints = [min(max(math.floor(s), low), high) for s, low, high in zip(shares, lo, hi, strict=True)]
    rest = total - sum(ints)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - math.floor(shares[i])), i))
    while rest > 0:
        progressed = False
        for i in order:
            if rest and ints[i] < hi[i]:
                ints[i] += 1
                rest -= 1
                progressed = True
        if not progressed:
            break
    while rest < 0:
        progressed = False
        for i in reversed(order):
            if rest and ints[i] > lo[i]:
                ints[i] -= 1
                rest += 1
                progressed = True
        if not progressed:
            break
    return ints


def _build_tree(devices: Iterable[Device]) -> tuple[list[Node], dict[tuple[object, ...], Node]]:
    by_key: dict[tuple[object, ...], Node] = {}
    devs = sorted(devices, key=lambda d: d.id)
    keys: list[set[tuple[object, ...]]] = [set(), set(), set()]
    for d in devs:
        keys[0].add((d.region,))
        keys[1].add((d.region, d.zone))
        keys[2].add((d.region, d.zone, d.ip, d.port))
    nodes: list[Node] = []
    for tier in range(3):
        for key in sorted(keys[tier], key=lambda k: tuple(str(x).zfill(40) for x in k)):
            node = Node(tier=tier, key=key, index=len(nodes))
            nodes.append(node)
            by_key[key] = node
            if tier:
                by_key[key[:-1] if tier < 2 else key[:2]].children.append(node)
    for d in devs:
        server = by_key[(d.region, d.zone, d.ip, d.port)]
        server.devices.append(d)
        for node in (by_key[(d.region,)], by_key[(d.region, d.zone)], server):
            node.weight += d.weight
            node.capacity += 1 if d.weight > 0 else 0
    return nodes, by_key


def make_plan(
    devices: Iterable[Device], removed: Iterable[Device], replicas: int, parts: int
) -> Plan:
    """The plan for ``devices`` (``removed`` ones only get ids and must be emptied)."""
    active = list(devices)
    gone = list(removed)
    nodes, _ = _build_tree(active)
    slots = max((d.id for d in active + gone), default=-1) + 1
    anc = array("i", [-1]) * (3 * slots)
    dev_state = array("b", bytes(slots))
    dev_target = array("q", [-1]) * slots
    for d in gone:
        dev_state[d.id] = REMOVED

    regions = [n for n in nodes if n.tier == 0]
    total_weight = sum(n.weight for n in regions)

    def split(parent_target: int, kmin: int, kmax: int, topo: int, kids: list[Node]) -> None:
        caps = [k.capacity for k in kids]
        hi, _ = spread(kmax, caps)
        _, lo = spread(kmin, caps)
        topo_hi, _ = spread(topo, caps)
        shares = waterfill(
            float(parent_target),
            [k.weight for k in kids],
            [float(v * parts) for v in lo],
            [float(v * parts) for v in hi],
        )
        targets = apportion(shares, parent_target, [v * parts for v in lo], [v * parts for v in hi])
        for kid, target, low, high, top in zip(kids, targets, lo, hi, topo_hi, strict=True):
            kid.target = target
            kid.kmin = max(low, target // parts)
            kid.kmax = min(high, -(-target // parts))
            # A domain without weight only drains: replicas there are not a dispersion fault.
            kid.topo_max = top if kid.capacity > 0 else replicas
            if kid.tier < 2:
                split(target, kid.kmin, kid.kmax, kid.topo_max, kid.children)
            else:
                _split_devices(kid, parts, dev_target, dev_state)

    split(replicas * parts, replicas, replicas, replicas, regions)
    for node in nodes:
        if node.tier == 2:
            for d in node.devices:
                region_key, zone_key = node.key[:1], node.key[:2]
                anc[3 * d.id] = next(n.index for n in regions if n.key == region_key)
                anc[3 * d.id + 1] = next(
                    n.index for n in nodes if n.tier == 1 and n.key == zone_key
                )
                anc[3 * d.id + 2] = node.index
    return Plan(
        replicas=replicas,
        parts=parts,
        nodes=nodes,
        slots=slots,
        anc=anc,
        dev_state=dev_state,
        dev_target=dev_target,
        node_target=array("q", [n.target for n in nodes]),
        node_min=array("i", [n.kmin for n in nodes]),
        node_max=array("i", [n.kmax for n in nodes]),
        topo_max=array("i", [n.topo_max for n in nodes]),
        total_weight=total_weight,
    )


def _split_devices(server: Node, parts: int, dev_target: array, dev_state: array) -> None:
    """Share a server's target among its devices: at most one replica of a partition each."""
    devs = server.devices
    caps = [1 if d.weight > 0 else 0 for d in devs]
    hi, _ = spread(server.kmax, caps)
    _, lo = spread(server.kmin, caps)
    shares = waterfill(
        float(server.target),
        [d.weight for d in devs],
        [float(v * parts) for v in lo],
        [float(v * parts) for v in hi],
    )
    targets = apportion(shares, server.target, [v * parts for v in lo], [v * parts for v in hi])
    for d, target in zip(devs, targets, strict=True):
        if d.weight > 0:
            dev_state[d.id] = ACTIVE
            dev_target[d.id] = target
        else:
            dev_state[d.id] = DRAINING
            dev_target[d.id] = -1
