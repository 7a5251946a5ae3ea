# cython: language_level=3
"""Replica placement inner loops, compiled.

Twin of ``_native/placement_py.py`` (the reference, which states the contract and
the meaning of every argument); results must be identical.  The loops keep the
same visiting orders and tie-breaks as the twin, on C arrays instead of Python
objects.
"""

from cpython.array cimport array, clone
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free

DEF MAX_REPLICAS = 64
DEF NONE = 0xFFFF

NO_DEVICE = NONE


cdef inline uint64_t _mix64(uint64_t z) noexcept nogil:
    z = z + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef int _check(const unsigned short[::1] table, Py_ssize_t slots, int replicas,
                Py_ssize_t parts) except -1:
    if replicas < 1 or replicas > MAX_REPLICAS:
        raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, got {replicas}")
    if table.shape[0] != replicas * parts:
        raise ValueError(f"table must hold replicas * parts = {replicas * parts} slots")
    cdef Py_ssize_t i
    for i in range(table.shape[0]):
        if table[i] != NONE and table[i] >= slots:
            raise ValueError(f"table names device {table[i]}, past the {slots} known ids")
    return 0


cdef int64_t* _counts(const unsigned short[::1] table, Py_ssize_t slots) except NULL:
    cdef int64_t* counts = <int64_t*>calloc(slots + 1, sizeof(int64_t))
    if counts == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    for i in range(table.shape[0]):
        if table[i] != NONE:
            counts[table[i]] += 1
    return counts


cdef int64_t* _node_counts(const unsigned short[::1] table, const int[::1] anc,
                           Py_ssize_t nodes) except NULL:
    cdef int64_t* counts = <int64_t*>calloc(nodes + 1, sizeof(int64_t))
    if counts == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    cdef int t, node
    for i in range(table.shape[0]):
        if table[i] != NONE:
            for t in range(3):
                node = anc[3 * table[i] + t]
                if node >= 0:
                    counts[node] += 1
    return counts


def count_replicas(const unsigned short[::1] table, Py_ssize_t slots):
    """Part-replicas held by each device id (``array('q')`` of ``slots``)."""
    cdef array out = clone(array("q"), slots, True)
    cdef Py_ssize_t i
    for i in range(table.shape[0]):
        if table[i] != NONE:
            if table[i] >= slots:
                raise IndexError("array index out of range")
            out.data.as_longlongs[table[i]] += 1
    return out


def count_dispersion(const unsigned short[::1] table, int replicas, Py_ssize_t parts,
                     const int[::1] anc, const int[::1] node_max):
    """Partitions with more replicas in some node than ``node_max`` allows, or two
    replicas on one device."""
    cdef Py_ssize_t p, bad = 0
    cdef int r, q, t, n, k, node
    cdef int members[MAX_REPLICAS]
    cdef int seen_node[3 * MAX_REPLICAS]
    cdef int seen_count[3 * MAX_REPLICAS]
    cdef bint dup, over
    if replicas > MAX_REPLICAS:
        raise ValueError(f"replicas must be 1..{MAX_REPLICAS}")
    for p in range(parts):
        n = 0
        for r in range(replicas):
            if table[r * parts + p] != NONE:
                members[n] = table[r * parts + p]
                n += 1
        dup = False
        for r in range(n):
            for q in range(r):
                if members[q] == members[r]:
                    dup = True
        if dup:
            bad += 1
            continue
        k = 0
        for r in range(n):
            for t in range(3):
                node = anc[3 * members[r] + t]
                if node < 0:
                    continue
                for q in range(k):
                    if seen_node[q] == node:
                        seen_count[q] += 1
                        break
                else:
                    seen_node[k] = node
                    seen_count[k] = 1
                    k += 1
        over = False
        for q in range(k):
            if seen_count[q] > node_max[seen_node[q]]:
                over = True
        if over:
            bad += 1
    return bad


cdef inline bint _movable(Py_ssize_t p, const unsigned int[::1] last_moved,
                          unsigned char[::1] touched, long long now, long long min_seconds,
                          bint override) noexcept:
    cdef long long last = now if touched[p] else <long long>last_moved[p]
    return override or now - last >= min_seconds


cdef inline void _take(unsigned short[::1] table, Py_ssize_t slot, const int[::1] anc,
                       int64_t* counts, int64_t* node_count) noexcept:
    cdef int dev = table[slot], t, node
    counts[dev] -= 1
    for t in range(3):
        node = anc[3 * dev + t]
        if node >= 0:
            node_count[node] -= 1
    table[slot] = NONE


def gather(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
           Py_ssize_t nodes, const signed char[::1] dev_state,
           const long long[::1] dev_target, const int[::1] node_max,
           const unsigned int[::1] last_moved, unsigned char[::1] touched, long long now,
           long long min_seconds, bint override, uint64_t seed):
    """Empty the slots whose replica must or should move (see the twin)."""
    cdef Py_ssize_t slots = dev_state.shape[0]
    _check(table, slots, replicas, parts)
    cdef int64_t* counts = _counts(table, slots)
    cdef int64_t* node_count = NULL
    cdef Py_ssize_t slot, p, i, best_slot, removed = 0, dispersion = 0, drained = 0, over = 0
    cdef Py_ssize_t start
    cdef int r, t, q, k, dev, node, state
    cdef int seen_node[3 * MAX_REPLICAS]
    cdef int seen_count[3 * MAX_REPLICAS]
    cdef int64_t excess, best_excess
    cdef bint bad
    try:
        node_count = _node_counts(table, anc, nodes)
        for slot in range(replicas * parts):
            dev = table[slot]
            if dev != NONE:
                state = dev_state[dev]
                if state == 0 or state == 3:
                    _take(table, slot, anc, counts, node_count)
                    touched[slot % parts] = 1
                    removed += 1

        for p in range(parts):
            if not _movable(p, last_moved, touched, now, min_seconds, override):
                continue
            k = 0
            for r in range(replicas):
                dev = table[r * parts + p]
                if dev == NONE:
                    continue
                for t in range(3):
                    node = anc[3 * dev + t]
                    for q in range(k):
                        if seen_node[q] == node:
                            seen_count[q] += 1
                            break
                    else:
                        seen_node[k] = node
                        seen_count[k] = 1
                        k += 1
            best_slot = -1
            best_excess = 0
            for r in range(replicas):
                dev = table[r * parts + p]
                if dev == NONE:
                    continue
                bad = False
                for t in range(3):
                    node = anc[3 * dev + t]
                    for q in range(k):
                        if seen_node[q] == node:
                            if seen_count[q] > node_max[node]:
                                bad = True
                            break
                if bad:
                    excess = counts[dev] - dev_target[dev]
                    if best_slot < 0 or excess > best_excess:
                        best_slot = r * parts + p
                        best_excess = excess
            if best_slot >= 0:
                _take(table, best_slot, anc, counts, node_count)
                touched[p] = 1
                dispersion += 1

        for slot in range(replicas * parts):
            dev = table[slot]
            if dev != NONE and dev_state[dev] == 2:
                p = slot % parts
                if _movable(p, last_moved, touched, now, min_seconds, override):
                    _take(table, slot, anc, counts, node_count)
                    touched[p] = 1
                    drained += 1

        start = <Py_ssize_t>(_mix64(seed) % <uint64_t>parts)
        for i in range(parts):
            p = (start + i) % parts
            if not _movable(p, last_moved, touched, now, min_seconds, override):
                continue
            for r in range(replicas):
                dev = table[r * parts + p]
                if dev != NONE and counts[dev] > dev_target[dev]:
                    _take(table, r * parts + p, anc, counts, node_count)
                    touched[p] = 1
                    over += 1
                    break
    finally:
        free(counts)
        free(node_count)
    return removed, dispersion, drained, over


cdef int _best_device(Py_ssize_t p, const int* members, int n, const int[::1] anc,
                      const long long[::1] dev_target, const int64_t* counts,
                      const long long[::1] node_target, const int64_t* node_count,
                      const int[::1] node_min, const int[::1] node_max, uint64_t seed,
                      bint strict) noexcept:
    cdef int best = -1, dev, t, m, inside, node, i
    cdef Py_ssize_t slots = dev_target.shape[0]
    cdef int64_t key[7]
    cdef int64_t best_key[7]
    cdef uint64_t tie, best_tie = 0
    cdef bint ok, member, better
    for dev in range(slots):
        if dev_target[dev] < 0:
            continue
        member = False
        for m in range(n):
            if members[m] == dev:
                member = True
                break
        if member:
            continue
        ok = True
        for t in range(3):
            node = anc[3 * dev + t]
            inside = 0
            for m in range(n):
                if anc[3 * members[m] + t] == node:
                    inside += 1
            if strict and inside >= node_max[node]:
                ok = False
                break
            key[2 * t] = 1 if inside < node_min[node] else 0
            key[2 * t + 1] = node_target[node] - node_count[node]
        if not ok:
            continue
        key[6] = dev_target[dev] - counts[dev]
        tie = _mix64(((<uint64_t>p << 16) | <uint64_t>dev) ^ seed)
        if best < 0:
            better = True
        else:
            better = False
            for i in range(7):
                if key[i] != best_key[i]:
                    better = key[i] > best_key[i]
                    break
            else:
                better = tie > best_tie
        if better:
            best = dev
            for i in range(7):
                best_key[i] = key[i]
            best_tie = tie
    return best


def place(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
          Py_ssize_t nodes, const long long[::1] dev_target,
          const long long[::1] node_target, const int[::1] node_min, const int[::1] node_max,
          uint64_t seed):
    """Fill every empty slot, partition by partition (see the twin)."""
    cdef Py_ssize_t slots = dev_target.shape[0]
    _check(table, slots, replicas, parts)
    cdef int64_t* counts = _counts(table, slots)
    cdef int64_t* node_count = NULL
    cdef int members[MAX_REPLICAS]
    cdef Py_ssize_t p, relaxed = 0
    cdef int r, n, dev, t
    try:
        node_count = _node_counts(table, anc, nodes)
        for p in range(parts):
            n = 0
            for r in range(replicas):
                if table[r * parts + p] != NONE:
                    members[n] = table[r * parts + p]
                    n += 1
            for r in range(replicas):
                if table[r * parts + p] != NONE:
                    continue
                dev = _best_device(p, members, n, anc, dev_target, counts, node_target,
                                   node_count, node_min, node_max, seed, True)
                if dev < 0:
                    dev = _best_device(p, members, n, anc, dev_target, counts, node_target,
                                       node_count, node_min, node_max, seed, False)
                    if dev < 0:
                        raise ValueError(f"no device can take another replica of partition {p}")
                    relaxed += 1
                table[r * parts + p] = dev
                members[n] = dev
                n += 1
                counts[dev] += 1
                for t in range(3):
                    node_count[anc[3 * dev + t]] += 1
    finally:
        free(counts)
        free(node_count)
    return relaxed


def repair(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
           Py_ssize_t nodes, const long long[::1] dev_target, const int[::1] node_min,
           const int[::1] node_max, const unsigned int[::1] last_moved,
           unsigned char[::1] touched, long long now, long long min_seconds, bint override,
           uint64_t seed):
    """Move replicas from devices over their target to devices under it (see the twin)."""
    cdef Py_ssize_t slots = dev_target.shape[0]
    _check(table, slots, replicas, parts)
    cdef int64_t* counts = _counts(table, slots)
    cdef int members[MAX_REPLICAS]
    cdef Py_ssize_t p, i, start, moved = 0
    cdef int dev, r, m, t, old, node, left, inside, remain
    cdef bint present, fits
    start = <Py_ssize_t>(_mix64(seed ^ 0x5EED) % <uint64_t>parts)
    try:
        for dev in range(slots):
            if dev_target[dev] < 0 or counts[dev] >= dev_target[dev]:
                continue
            for i in range(parts):
                if counts[dev] >= dev_target[dev]:
                    break
                p = (start + i) % parts
                if not _movable(p, last_moved, touched, now, min_seconds, override):
                    continue
                present = False
                for r in range(replicas):
                    members[r] = table[r * parts + p]
                    if members[r] == dev:
                        present = True
                if present:
                    continue
                for r in range(replicas):
                    old = members[r]
                    if old == NONE or counts[old] <= dev_target[old]:
                        continue
                    fits = True
                    for t in range(3):
                        node = anc[3 * dev + t]
                        left = anc[3 * old + t]
                        inside = 0
                        remain = 0
                        for m in range(replicas):
                            if members[m] == old or members[m] == NONE:
                                continue
                            if anc[3 * members[m] + t] == node:
                                inside += 1
                            if anc[3 * members[m] + t] == left:
                                remain += 1
                        if inside >= node_max[node]:
                            fits = False
                            break
                        if left != node and remain < node_min[left]:
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
    finally:
        free(counts)
    return moved


def finish(const unsigned short[::1] before, const unsigned short[::1] table, Py_ssize_t parts,
           unsigned int[::1] last_moved, long long now):
    """Stamp ``now`` on every partition whose replicas changed devices (see the twin)."""
    cdef Py_ssize_t slot, p, moved_slots = 0, moved_parts = 0
    cdef unsigned char* marks = <unsigned char*>calloc(parts + 1, 1)
    if marks == NULL:
        raise MemoryError()
    try:
        for slot in range(table.shape[0]):
            if before[slot] != NONE and before[slot] != table[slot]:
                moved_slots += 1
                marks[slot % parts] = 1
        for p in range(parts):
            if marks[p]:
                last_moved[p] = <unsigned int>now
                moved_parts += 1
    finally:
        free(marks)
    return moved_slots, moved_parts
