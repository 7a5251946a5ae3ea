"""Ring reports: balance, dispersion and why the targets differ from the weights.

Definitions (also in docs/ring.md):

* **balance**: the worst device's deviation, in %, of the part-replicas it holds from its
  *target* (its fair share once dispersion is satisfied; :mod:`storage.ring.plan`).
* **weight balance**: the same against the pure weight share
  ``replicas * parts * weight / total weight``, what Swift calls balance with no overload.
* **dispersion**: % of partitions with more replicas in one region, zone or server than
  the topology forces (``Plan.topo_max``), or two replicas on one device.
* **notes**: one sentence per failure domain whose target departs from its weight share
  (relative to its parent), saying which dispersion rule costs that balance.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import _native
from storage.ring.devices import Device
from storage.ring.plan import TIERS, Node, Plan


def _pct(value: float, reference: float) -> float:
    if reference > 0:
        return 100.0 * (value - reference) / reference
    return 100.0 if value > 0 else 0.0


def ring_report(devices: Sequence[Device], plan: Plan, table: array) -> dict[str, Any]:
    """The report of ``table`` under ``plan`` (plain data, JSON-ready)."""
    parts, replicas = plan.parts, plan.replicas
    total = replicas * parts
    counts = _native.count_replicas(table, plan.slots)
    weight = plan.total_weight or 1.0
    rows = []
    balance = weight_balance = 0.0
    for d in sorted(devices, key=lambda d: d.id):
        held = counts[d.id] if d.id < plan.slots else 0
        target = plan.target_of(d.id)
        share = total * d.weight / weight
        off = _pct(held, target)
        off_weight = _pct(held, share)
        balance = max(balance, abs(off))
        if d.weight > 0:
            weight_balance = max(weight_balance, abs(off_weight))
        rows.append(
            {
                "id": d.id,
                "region": d.region,
                "zone": d.zone,
                "server": d.server,
                "device": d.device,
                "weight": d.weight,
                "parts": held,
                "target": target,
                "balance": round(off, 3),
                "weight_balance": round(off_weight, 3),
            }
        )
    bad = _native.count_dispersion(table, replicas, parts, plan.anc, plan.topo_max)
    domains = []
    for node in plan.nodes:
        held = sum(counts[d.id] for d in _devices_of(node) if d.id < plan.slots)
        domains.append(
            {
                "tier": TIERS[node.tier],
                "name": node.name,
                "weight_pct": round(100.0 * node.weight / weight, 3),
                "target_pct": round(100.0 * node.target / total, 3),
                "parts": held,
                "target": node.target,
                "max_replicas_per_part": node.kmax,
            }
        )
    return {
        "part_power": plan.parts.bit_length() - 1,
        "parts": parts,
        "replicas": replicas,
        "devices": len(devices),
        "balance": round(balance, 3),
        "weight_balance": round(weight_balance, 3),
        "dispersion": round(100.0 * bad / parts, 3),
        "dispersion_parts": bad,
        "notes": notes(plan),
        "domains": domains,
        "device_rows": rows,
    }


def _devices_of(node: Node) -> list[Device]:
    if node.tier == 2:
        return node.devices
    return [d for child in node.children for d in _devices_of(child)]


def notes(plan: Plan) -> list[str]:
    """Why some failure domains hold more or less than their weight share."""
    total = plan.replicas * plan.parts
    weight = plan.total_weight
    out: list[str] = []
    if weight <= 0:
        return out

    def walk(nodes: list[Node], parent_ratio: float) -> None:
        for node in nodes:
            if node.weight <= 0:
                continue
            share = total * node.weight / weight
            ratio = node.target / share
            # A domain whose parent holds nothing holds nothing either: nothing to explain.
            if parent_ratio > 0 and abs(ratio / parent_ratio - 1) > 0.005:
                tier = TIERS[node.tier]
                held = f"{tier} {node.name} holds {node.target / total:.1%} of the replicas"
                has = f"has {node.weight / weight:.1%} of the weight"
                if ratio > parent_ratio:
                    why = (
                        f"every partition needs {node.kmin} of its {plan.replicas} replicas "
                        f"there to keep replicas in separate {tier}s"
                        if node.kmin > 0
                        else f"the other {tier}s may not hold more replicas of a partition"
                    )
                    out.append(
                        f"{held} but {has}: its devices are {ratio - 1:.1%} over their "
                        f"weight share because {why}"
                    )
                else:
                    out.append(
                        f"{held} but {has}: its devices are {1 - ratio:.1%} under their weight "
                        f"share because no partition may keep more than {node.kmax} of its "
                        f"replicas in one {tier}"
                    )
            walk(node.children, ratio)

    walk([n for n in plan.nodes if n.tier == 0], 1.0)
    return out
