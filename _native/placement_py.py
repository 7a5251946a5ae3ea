"""Replica placement inner loops: the pure-Python reference implementation.

``storage/ring/builder.py`` decides *what* each device and failure domain should hold
(targets and per-partition bounds); these loops decide *which* partition replicas go
where.  ``_native/placement.pyx`` must give identical results, so everything here is
integer arithmetic with deterministic tie-breaks.

Shared arguments:

* ``table``: flat ``array('H')``, replica-major (``table[r * parts + p]``), device ids,
  ``NO_DEVICE`` (0xFFFF) for an empty slot.  Modified in place.
* ``anc``: ``array('i')`` of ``3 * slots``: the region, zone and server node of each
  device id (one numbering over all three tiers); -1 for ids not in the builder.
* ``dev_state``: ``array('b')`` per device id: 0 absent, 1 active, 2 draining (weight 0),
  3 removed (its replicas must go).
* ``dev_target``: ``array('q')`` per device id: part-replicas it should hold, -1 when it
  may not receive any (absent, draining, removed).
* ``node_target`` (``array('q')``), ``node_min``/``node_max`` (``array('i')``) per node:
  the part-replicas it should hold, and how few/many replicas of one partition it must
  and may hold (the dispersion bounds).
* ``last_moved``: ``array('I')`` per partition, Unix seconds of its last move;
  ``touched``: ``bytearray`` per partition, set when this rebalance moved it (as if
  ``last_moved`` were ``now``).  A partition may move when ``override`` or
  ``now - last >= min_seconds``.
"""

from __future__ import annotations

from array import array

NO_DEVICE = 0xFFFF
MASK64 = (1 << 64) - 1
ABSENT, ACTIVE, DRAINING, REMOVED = 0, 1, 2, 3


def _mix64(value: int) -> int:
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


MAX_REPLICAS = 64


def _check(table: array, slots: int, replicas: int, parts: int) -> None:
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, got {replicas}")
    if len(table) != replicas * parts:
        raise ValueError(f"table must hold replicas * parts = {replicas * parts} slots")
    for dev in table:
        if dev != NO_DEVICE and dev >= slots:
            raise ValueError(f"table names device {dev}, past the {slots} known ids")


def count_replicas(table: array, slots: int) -> array:
    """Part-replicas held by each device id (``array('q')`` of ``slots``)."""
    counts = array("q", bytes(8 * slots))
    for dev in table:
        if dev != NO_DEVICE:
            counts[dev] += 1
    return counts


def _node_counts(table: array, anc: array, nodes: int) -> array:
    counts = array("q", bytes(8 * nodes))
    for dev in table:
        if dev != NO_DEVICE:
            for t in range(3):
                node = anc[3 * dev + t]
                if node >= 0:
                    counts[node] += 1
    return counts


def count_dispersion(table: array, replicas: int, parts: int, anc: array, node_max: array) -> int:
    """Partitions with more replicas in some node than ``node_max`` allows, or two
    replicas on one device."""
    bad = 0
    for p in range(parts):
        members = [table[r * parts + p] for r in range(replicas)]
        members = [d for d in members if d != NO_DEVICE]
        if len(set(members)) != len(members):
            bad += 1
            continue
        seen: dict[int, int] = {}
        for d in members:
            for t in range(3):
                node = anc[3 * d + t]
                if node >= 0:
                    seen[node] = seen.get(node, 0) + 1
        if any(count > node_max[node] for node, count in seen.items()):
            bad += 1
    return bad


def _movable(
    p: int, last_moved: array, touched: bytearray, now: int, min_seconds: int, override: bool
) -> bool:
    # A partition touched by this rebalance moved "now": with min_part_hours > 0 it
    # gives up at most one replica per rebalance, so the others keep serving it.
    last = now if touched[p] else last_moved[p]
    return override or now - last >= min_seconds


def gather(
    table: array,
    replicas: int,
    parts: int,
    anc: array,
    nodes: int,
    dev_state: array,
    dev_target: array,
    node_max: array,
    last_moved: array,
    touched: bytearray,
    now: int,
    min_seconds: int,
    override: bool,
    seed: int,
) -> tuple[int, int, int, int]:
    """Empty the slots whose replica must or should move.

    In this order: replicas on removed or absent devices (always, whatever the time
    since the last move); one replica of each partition that breaks a dispersion
    bound (the one on the device most over its target); replicas on draining devices;
    then replicas on devices over their target, scanning partitions from a seeded
    start, until each is at its target.  Apart from the first step a partition only
    gives up a replica when :func:`_movable`; a partition touched in this rebalance
    counts as moved now, so with ``min_seconds > 0`` (and no override) it gives up at
    most one replica per rebalance and the others keep serving it.

    Returns (removed, dispersion, drained, over) counts of emptied slots.
    """
    _check(table, len(dev_state), replicas, parts)
    counts = count_replicas(table, len(dev_state))
    node_count = _node_counts(table, anc, nodes)
    removed = dispersion = drained = over = 0

    def take(slot: int) -> None:
        dev = table[slot]
        counts[dev] -= 1
        for t in range(3):
            node = anc[3 * dev + t]
            if node >= 0:
                node_count[node] -= 1
        table[slot] = NO_DEVICE

    for slot in range(replicas * parts):
        dev = table[slot]
        if dev != NO_DEVICE and dev_state[dev] in (ABSENT, REMOVED):
            take(slot)
            touched[slot % parts] = 1
            removed += 1

    for p in range(parts):
        if not _movable(p, last_moved, touched, now, min_seconds, override):
            continue
        seen: dict[int, int] = {}
        for r in range(replicas):
            dev = table[r * parts + p]
            if dev != NO_DEVICE:
                for t in range(3):
                    node = anc[3 * dev + t]
                    seen[node] = seen.get(node, 0) + 1
        # Every device left in the table is active or draining, so its nodes exist.
        best_slot = -1
        best_excess = 0
        for r in range(replicas):
            dev = table[r * parts + p]
            if dev == NO_DEVICE:
                continue
            if any(seen[anc[3 * dev + t]] > node_max[anc[3 * dev + t]] for t in range(3)):
                excess = counts[dev] - dev_target[dev]
                if best_slot < 0 or excess > best_excess:
                    best_slot, best_excess = r * parts + p, excess
        if best_slot >= 0:
            take(best_slot)
            touched[p] = 1
            dispersion += 1

    for slot in range(replicas * parts):
        dev = table[slot]
        if dev != NO_DEVICE and dev_state[dev] == DRAINING:
            p = slot % parts
            if _movable(p, last_moved, touched, now, min_seconds, override):
                take(slot)
                touched[p] = 1
                drained += 1

    start = _mix64(seed) % parts
    for i in range(parts):
        p = (start + i) % parts
        if not _movable(p, last_moved, touched, now, min_seconds, override):
            continue
        for r in range(replicas):
            dev = table[r * parts + p]
            if dev != NO_DEVICE and counts[dev] > dev_target[dev]:
                take(r * parts + p)
                touched[p] = 1
                over += 1
                break
    return removed, dispersion, drained, over


def _best_device(
    p: int,
    members: list[int],
    anc: array,
    dev_target: array,
    counts: array,
    node_target: array,
    node_count: array,
    node_min: array,
    node_max: array,
    seed: int,
    strict: bool,
) -> int:
    """The device that should take one more replica of ``p`` (-1 if none may).

    Candidates keep every dispersion bound (unless ``strict`` is false); among them the
    key prefers, tier by tier from the region down, a node below its per-partition
    minimum, then the node furthest below its target; then the device furthest below
    its target; then a seeded hash, so ties spread without favouring low ids.
    """
    best = -1
    best_key: tuple[int, ...] = ()
    for dev in range(len(dev_target)):
        if dev_target[dev] < 0 or dev in members:
            continue
        key: list[int] = []
        ok = True
        for t in range(3):
            node = anc[3 * dev + t]
            inside = sum(1 for m in members if anc[3 * m + t] == node)
            if strict and inside >= node_max[node]:
                ok = False
                break
            key.append(1 if inside < node_min[node] else 0)
            key.append(node_target[node] - node_count[node])
        if not ok:
            continue
        key.append(dev_target[dev] - counts[dev])
        key.append(_mix64(((p << 16) | dev) ^ seed))
        candidate = tuple(key)
        if best < 0 or candidate > best_key:
            best, best_key = dev, candidate
    return best


def place(
    table: array,
    replicas: int,
    parts: int,
    anc: array,
    nodes: int,
    dev_target: array,
    node_target: array,
    node_min: array,
    node_max: array,
    seed: int,
) -> int:
    """Fill every empty slot, partition by partition (see :func:`_best_device`).

    When no device keeps the dispersion bounds the bounds are dropped for that replica
    (never the rule that replicas of a partition use distinct devices).  Returns how
    many replicas needed that; the caller reports it.  Raises ``ValueError`` when a
    partition has more replicas than there are devices that may receive one.
    """
    _check(table, len(dev_target), replicas, parts)
    counts = count_replicas(table, len(dev_target))
    node_count = _node_counts(table, anc, nodes)
    relaxed = 0
    for p in range(parts):
        slots = [r * parts + p for r in range(replicas)]
        members = [table[s] for s in slots if table[s] != NO_DEVICE]
        for slot in slots:
            if table[slot] != NO_DEVICE:
                continue
            args = (anc, dev_target, counts, node_target, node_count, node_min, node_max, seed)
            dev = _best_device(p, members, *args, True)
            if dev < 0:
                dev = _best_device(p, members, *args, False)
                if dev < 0:
                    raise ValueError(f"no device can take another replica of partition {p}")
                relaxed += 1
            table[slot] = dev
            members.append(dev)
            counts[dev] += 1
            for t in range(3):
                node_count[anc[3 * dev + t]] += 1
    return relaxed


def repair(
    table: array,
    replicas: int,
    parts: int,
    anc: array,
    nodes: int,
    dev_target: array,
    node_min: array,
    node_max: array,
    last_moved: array,
    touched: bytearray,
    now: int,
    min_seconds: int,
    override: bool,
    seed: int,
) -> int:
    """Move replicas from devices over their target to devices under it, where that
    keeps every dispersion bound and the partition may move.  Fixes what greedy
    placement could not balance.  Returns the number of replicas moved."""
    _check(table, len(dev_target), replicas, parts)
    counts = count_replicas(table, len(dev_target))
    moved = 0
    start = _mix64(seed ^ 0x5EED) % parts
    for dev in range(len(dev_target)):
        if dev_target[dev] < 0 or counts[dev] >= dev_target[dev]:
            continue
        for i in range(parts):
            if counts[dev] >= dev_target[dev]:
                break
            p = (start + i) % parts
            if not _movable(p, last_moved, touched, now, min_seconds, override):
                continue
            members = [table[r * parts + p] for r in range(replicas)]
            if dev in members:
                continue
            for r in range(replicas):
                old = members[r]
                if old == NO_DEVICE or counts[old] <= dev_target[old]:
                    continue
                # The new device's nodes must stay within their maxima and the old
                # device's nodes (where they differ) above their minima.
                others = [m for m in members if m != old and m != NO_DEVICE]
                fits = True
                for t in range(3):
                    node = anc[3 * dev + t]
                    inside = sum(1 for m in others if anc[3 * m + t] == node)
                    if inside >= node_max[node]:
                        fits = False
                        break
                    left = anc[3 * old + t]
                    if left != node:
                        remain = sum(1 for m in others if anc[3 * m + t] == left)
                        if remain < node_min[left]:
                            fits = False
                            break
                if not fits:
                    continue
                table[r * parts + p] = dev
                counts[old] -= 1
                counts[dev] += 1
                touched[p] = 1
                moved += 1
                break
    return moved


def finish(before: array, table: array, parts: int, last_moved: array, now: int) -> tuple[int, int]:
    """Stamp ``now`` on every partition whose replicas changed devices since ``before``.

    A slot that was empty before (a new ring) is not a move.  Returns (part-replicas
    moved, partitions moved).
    """
    moved_slots = 0
    moved_parts = set()
    for slot in range(len(table)):
        old = before[slot]
        if old != NO_DEVICE and old != table[slot]:
            moved_slots += 1
            moved_parts.add(slot % parts)
    for p in moved_parts:
        last_moved[p] = now
    return moved_slots, len(moved_parts)
