# cython: language_level=3
"""Replica placement inner loops, compiled.

Twin of ``_native/placement_py.py`` (the reference, which states the contract and
the meaning of every argument); results must be identical.  The loops keep the
same visiting orders and tie-breaks as the twin, on raw C arrays, with the GIL
released.  Every argument is validated first (lengths, ids and node numbers in
range) so a bad caller gets a ValueError, never a stray write.
"""

from cpython.array cimport array, clone
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free

DEF MAX_REPLICAS = 64
DEF NONE = 0xFFFF

NO_DEVICE = NONE


cdef struct Ctx:
    unsigned short* table
    int replicas
    Py_ssize_t parts
    const int* anc
    Py_ssize_t slots
    Py_ssize_t nodes
    const signed char* dev_state
    const long long* dev_target
    const long long* node_target
    const int* node_min
    const int* node_max
    const unsigned int* last_moved
    unsigned char* touched
    long long now
    long long min_seconds
    bint override
    uint64_t seed
    int64_t* counts
    int64_t* node_count


cdef inline uint64_t _mix64(uint64_t z) noexcept nogil:
    z = z + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef int _setup(Ctx* c, unsigned short[::1] table, int replicas, Py_ssize_t parts,
                const int[::1] anc, Py_ssize_t nodes, Py_ssize_t slots) except -1:
    """Check the shared arguments and fill the pointers every loop uses."""
    cdef Py_ssize_t i
    c.counts = NULL
    c.node_count = NULL
    if replicas < 1 or replicas > MAX_REPLICAS:
        raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, got {replicas}")
    if parts < 1 or table.shape[0] != replicas * parts:
        raise ValueError(f"table must hold replicas * parts = {replicas * parts} slots")
    for i in range(table.shape[0]):
        if table[i] != NONE and table[i] >= slots:
            raise ValueError(f"table names device {table[i]}, past the {slots} known ids")
    if anc.shape[0] < 3 * slots:
        raise ValueError(f"anc must hold 3 node numbers for each of {slots} device ids")
    for i in range(3 * slots):
        if anc[i] >= nodes:
            raise ValueError(f"anc names node {anc[i]}, past the {nodes} nodes")
    c.table = &table[0]
    c.replicas = replicas
    c.parts = parts
    c.anc = &anc[0] if slots else NULL
    c.slots = slots
    c.nodes = nodes
    c.counts = <int64_t*>calloc(slots + 1, sizeof(int64_t))
    c.node_count = <int64_t*>calloc(nodes + 1, sizeof(int64_t))
    if c.counts == NULL or c.node_count == NULL:
        _release(c)
        raise MemoryError()
    with nogil:
        _count(c)
    return 0


cdef void _release(Ctx* c) noexcept:
    free(c.counts)
    free(c.node_count)
    c.counts = NULL
    c.node_count = NULL


cdef int _per_node(const int[::1] values, Py_ssize_t nodes, str name) except -1:
    if values.shape[0] < nodes:
        raise ValueError(f"{name} must hold one value for each of {nodes} nodes")
    return 0


cdef int _per_part(Py_ssize_t length, Py_ssize_t parts, str name) except -1:
    if length < parts:
        raise ValueError(f"{name} must hold one value for each of {parts} partitions")
    return 0


cdef void _count(Ctx* c) noexcept nogil:
    cdef Py_ssize_t i
    cdef int t, node, dev
    for i in range(c.replicas * c.parts):
        dev = c.table[i]
        if dev != NONE:
            c.counts[dev] += 1
            for t in range(3):
                node = c.anc[3 * dev + t]
                if node >= 0:
                    c.node_count[node] += 1


def count_replicas(const unsigned short[::1] table, Py_ssize_t slots):
    """Part-replicas held by each device id (``array('q')`` of ``slots``)."""
    cdef array out = clone(array("q"), slots, True)
    cdef long long* dst = out.data.as_longlongs
    cdef Py_ssize_t i, n = table.shape[0]
    cdef bint bad = False
    with nogil:
        for i in range(n):
            if table[i] != NONE:
                if table[i] >= slots:
                    bad = True
                    break
                dst[table[i]] += 1
    if bad:
        raise IndexError("array index out of range")
    return out


cdef int _members(const Ctx* c, Py_ssize_t p, int* members) noexcept nogil:
    cdef int r, n = 0
    for r in range(c.replicas):
        if c.table[r * c.parts + p] != NONE:
            members[n] = c.table[r * c.parts + p]
            n += 1
    return n


def count_dispersion(unsigned short[::1] table, int replicas, Py_ssize_t parts,
                     const int[::1] anc, const int[::1] node_max):
    """Partitions with more replicas in some node than ``node_max`` allows, or two
    replicas on one device."""
    cdef Ctx c
    cdef Py_ssize_t slots = anc.shape[0] // 3
    _setup(&c, table, replicas, parts, anc, node_max.shape[0], slots)
    _release(&c)
    cdef const int* cap = &node_max[0] if node_max.shape[0] else NULL
    cdef Py_ssize_t p, bad = 0
    cdef int r, q, t, n, k, node
    cdef int members[MAX_REPLICAS]
    cdef int seen_node[3 * MAX_REPLICAS]
    cdef int seen_count[3 * MAX_REPLICAS]
    cdef bint dup, over
    with nogil:
        for p in range(parts):
            n = _members(&c, p, members)
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
                    node = c.anc[3 * members[r] + t]
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
                if seen_count[q] > cap[seen_node[q]]:
                    over = True
            if over:
                bad += 1
    return bad


cdef inline bint _movable(const Ctx* c, Py_ssize_t p) noexcept nogil:
    cdef long long last = c.now if c.touched[p] else <long long>c.last_moved[p]
    return c.override or c.now - last >= c.min_seconds


cdef inline void _take(Ctx* c, Py_ssize_t slot) noexcept nogil:
    cdef int dev = c.table[slot], t, node
    c.counts[dev] -= 1
    for t in range(3):
        node = c.anc[3 * dev + t]
        if node >= 0:
            c.node_count[node] -= 1
    c.table[slot] = NONE


cdef void _gather(Ctx* c, Py_ssize_t* out) noexcept nogil:
    cdef Py_ssize_t slot, p, i, best_slot, start
    cdef int r, t, q, k, dev, node, state
    cdef int seen_node[3 * MAX_REPLICAS]
    cdef int seen_count[3 * MAX_REPLICAS]
    cdef int64_t excess, best_excess
    cdef bint bad
    for slot in range(c.replicas * c.parts):
        dev = c.table[slot]
        if dev != NONE:
            state = c.dev_state[dev]
            if state == 0 or state == 3:
                _take(c, slot)
                c.touched[slot % c.parts] = 1
                out[0] += 1

    for p in range(c.parts):
        if not _movable(c, p):
            continue
        k = 0
        for r in range(c.replicas):
            dev = c.table[r * c.parts + p]
            if dev == NONE:
                continue
            for t in range(3):
                node = c.anc[3 * dev + t]
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
        for r in range(c.replicas):
            dev = c.table[r * c.parts + p]
            if dev == NONE:
                continue
            bad = False
            for t in range(3):
                node = c.anc[3 * dev + t]
                for q in range(k):
                    if seen_node[q] == node:
                        if seen_count[q] > c.node_max[node]:
                            bad = True
                        break
            if bad:
                excess = c.counts[dev] - c.dev_target[dev]
                if best_slot < 0 or excess > best_excess:
                    best_slot = r * c.parts + p
                    best_excess = excess
        if best_slot >= 0:
            _take(c, best_slot)
            c.touched[p] = 1
            out[1] += 1

    for slot in range(c.replicas * c.parts):
        dev = c.table[slot]
        if dev != NONE and c.dev_state[dev] == 2:
            p = slot % c.parts
            if _movable(c, p):
                _take(c, slot)
                c.touched[p] = 1
                out[2] += 1

    start = <Py_ssize_t>(_mix64(c.seed) % <uint64_t>c.parts)
    for i in range(c.parts):
        p = (start + i) % c.parts
        if not _movable(c, p):
            continue
        for r in range(c.replicas):
            dev = c.table[r * c.parts + p]
            if dev != NONE and c.counts[dev] > c.dev_target[dev]:
                _take(c, r * c.parts + p)
                c.touched[p] = 1
                out[3] += 1
                break


def gather(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
           Py_ssize_t nodes, const signed char[::1] dev_state,
           const long long[::1] dev_target, const int[::1] node_max,
           const unsigned int[::1] last_moved, unsigned char[::1] touched, long long now,
           long long min_seconds, bint override, uint64_t seed):
    """Empty the slots whose replica must or should move (see the twin)."""
    cdef Ctx c
    cdef Py_ssize_t slots = dev_state.shape[0]
    if dev_target.shape[0] < slots:
        raise ValueError("dev_target must hold one value for each device id")
    _per_node(node_max, nodes, "node_max")
    _per_part(last_moved.shape[0], parts, "last_moved")
    _per_part(touched.shape[0], parts, "touched")
    _setup(&c, table, replicas, parts, anc, nodes, slots)
    c.dev_state = &dev_state[0] if slots else NULL
    c.dev_target = &dev_target[0] if slots else NULL
    c.node_max = &node_max[0] if nodes else NULL
    c.last_moved = &last_moved[0]
    c.touched = &touched[0]
    c.now = now
    c.min_seconds = min_seconds
    c.override = override
    c.seed = seed
    cdef Py_ssize_t out[4]
    out[0] = out[1] = out[2] = out[3] = 0
    try:
        with nogil:
            _gather(&c, out)
    finally:
        _release(&c)
    return out[0], out[1], out[2], out[3]


cdef int _best_device(const Ctx* c, Py_ssize_t p, const int* members, int n,
                      bint strict) noexcept nogil:
    cdef int best = -1, dev, t, m, inside, node, i
    cdef int64_t key[7]
    cdef int64_t best_key[7]
    cdef uint64_t tie, best_tie = 0
    cdef bint ok, member, better
    for i in range(7):
        best_key[i] = 0  # only read once a first candidate set it; silences -Wmaybe-uninitialized
    for dev in range(c.slots):
        if c.dev_target[dev] < 0:
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
            node = c.anc[3 * dev + t]
            inside = 0
            for m in range(n):
                if c.anc[3 * members[m] + t] == node:
                    inside += 1
            if strict and inside >= c.node_max[node]:
                ok = False
                break
            key[2 * t] = 1 if inside < c.node_min[node] else 0
            key[2 * t + 1] = c.node_target[node] - c.node_count[node]
        if not ok:
            continue
        key[6] = c.dev_target[dev] - c.counts[dev]
        tie = _mix64(((<uint64_t>p << 16) | <uint64_t>dev) ^ c.seed)
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


cdef struct Tree:
    # The failure-domain tree as CSR lists: regions, then each node's children (zones of
    # a region, servers of a zone, devices with a target of a server), ascending ids.
    int nregions
    int* regions
    int* start
    int* kids
    int* cand
    int* next_cand


cdef void _free_tree(Tree* tree) noexcept nogil:
    free(tree.regions)
    free(tree.start)
    free(tree.kids)
    free(tree.cand)
    free(tree.next_cand)


cdef int _build_tree(const Ctx* c, Tree* tree) noexcept nogil:
    """Build the tree; 1 if the descent in :func:`_best_in_tree` is exact for these
    arguments, 0 if the flat scan must be used, -1 when out of memory.

    The descent visits only nodes whose per-partition count is below their maximum, and
    assumes such a node always has such a child.  That holds when every node's maximum is
    at most the sum of its children's (a server's: at most its devices with a target), as
    :mod:`storage.ring.plan` guarantees, and each node has one parent.  Then the descent
    returns exactly what the flat scan does, only faster with many devices.
    """
    cdef Py_ssize_t n = c.nodes, d, i
    cdef int t, node, parent
    cdef int* tier = <int*>calloc(n + 1, sizeof(int))
    cdef int* up = <int*>calloc(n + 1, sizeof(int))
    cdef int* fill = <int*>calloc(n + 1, sizeof(int))
    cdef long long* room = <long long*>calloc(n + 1, sizeof(long long))
    cdef int ok = 1
    tree.regions = <int*>calloc(n + 1, sizeof(int))
    tree.start = <int*>calloc(n + 2, sizeof(int))
    tree.kids = <int*>calloc(n + c.slots + 1, sizeof(int))
    tree.cand = <int*>calloc(n + c.slots + 1, sizeof(int))
    tree.next_cand = <int*>calloc(n + c.slots + 1, sizeof(int))
    tree.nregions = 0
    if (tier == NULL or up == NULL or fill == NULL or room == NULL or tree.regions == NULL
            or tree.start == NULL or tree.kids == NULL or tree.cand == NULL
            or tree.next_cand == NULL):
        ok = -1
    else:
        for i in range(n):
            tier[i] = -1
            up[i] = -1
        for d in range(c.slots):
            if c.anc[3 * d] < 0 and c.anc[3 * d + 1] < 0 and c.anc[3 * d + 2] < 0:
                if c.dev_target[d] >= 0:
                    ok = 0  # a device that may receive replicas outside the tree
                continue
            for t in range(3):
                node = c.anc[3 * d + t]
                if node < 0 or (tier[node] != -1 and tier[node] != t):
                    ok = 0
                    break
                tier[node] = t
                parent = c.anc[3 * d + t - 1] if t else -1
                if t and up[node] != -1 and up[node] != parent:
                    ok = 0
                    break
                up[node] = parent
            if ok != 1:
                break
        if ok == 1:
            # Children counts, then offsets, then the lists in ascending id order.
            for i in range(n):
                if tier[i] == 0:
                    tree.regions[tree.nregions] = <int>i
                    tree.nregions += 1
                elif tier[i] > 0:
                    tree.start[up[i] + 1] += 1
            for d in range(c.slots):
                if c.dev_target[d] >= 0:
                    tree.start[c.anc[3 * d + 2] + 1] += 1
            for i in range(n):
                tree.start[i + 1] += tree.start[i]
            for i in range(n):
                if tier[i] > 0:
                    tree.kids[tree.start[up[i]] + fill[up[i]]] = <int>i
                    fill[up[i]] += 1
            for d in range(c.slots):
                if c.dev_target[d] >= 0:
                    node = c.anc[3 * d + 2]
                    tree.kids[tree.start[node] + fill[node]] = <int>d
                    fill[node] += 1
            for i in range(n):
                if tier[i] == 2:
                    room[i] = fill[i]
                elif tier[i] >= 0:
                    for d in range(tree.start[i], tree.start[i + 1]):
                        room[i] += c.node_max[tree.kids[d]]
            for i in range(n):
                if tier[i] >= 0 and room[i] < c.node_max[i]:
                    ok = 0
    free(tier)
    free(up)
    free(fill)
    free(room)
    return ok


cdef inline int _inside(const Ctx* c, const int* members, int n, int t, int node) noexcept nogil:
    cdef int m, inside = 0
    for m in range(n):
        if c.anc[3 * members[m] + t] == node:
            inside += 1
    return inside


cdef int _best_in_tree(const Ctx* c, Tree* tree, Py_ssize_t p, const int* members,
                       int n) noexcept nogil:
    """The flat scan's answer in strict mode, found by descending the tree: at each tier
    keep every node whose (below minimum, need) key ties for the best among nodes with
    room for this partition, then pick among their devices."""
    cdef int ncand = 0, nnext, t, i, j, node, inside, m, dev, best = -1
    cdef int64_t kdef, kneed, bdef = 0, bneed = 0, need, best_need = 0
    cdef uint64_t tie, best_tie = 0
    cdef int* cand = tree.cand
    cdef int* swap
    cdef bint member
    for i in range(tree.nregions):
        node = tree.regions[i]
        inside = _inside(c, members, n, 0, node)
        if inside >= c.node_max[node]:
            continue
        kdef = 1 if inside < c.node_min[node] else 0
        kneed = c.node_target[node] - c.node_count[node]
        if ncand == 0 or kdef > bdef or (kdef == bdef and kneed > bneed):
            bdef, bneed, ncand = kdef, kneed, 0
        elif kdef != bdef or kneed != bneed:
            continue
        cand[ncand] = node
        ncand += 1
    for t in range(1, 3):
        nnext = 0
        for i in range(ncand):
            for j in range(tree.start[cand[i]], tree.start[cand[i] + 1]):
                node = tree.kids[j]
                inside = _inside(c, members, n, t, node)
                if inside >= c.node_max[node]:
                    continue
                kdef = 1 if inside < c.node_min[node] else 0
                kneed = c.node_target[node] - c.node_count[node]
                if nnext == 0 or kdef > bdef or (kdef == bdef and kneed > bneed):
                    bdef, bneed, nnext = kdef, kneed, 0
                elif kdef != bdef or kneed != bneed:
                    continue
                tree.next_cand[nnext] = node
                nnext += 1
        swap = tree.next_cand
        tree.next_cand = cand
        cand = swap
        tree.cand = cand
        ncand = nnext
    for i in range(ncand):
        for j in range(tree.start[cand[i]], tree.start[cand[i] + 1]):
            dev = tree.kids[j]
            member = False
            for m in range(n):
                if members[m] == dev:
                    member = True
                    break
            if member:
                continue
            need = c.dev_target[dev] - c.counts[dev]
            tie = _mix64(((<uint64_t>p << 16) | <uint64_t>dev) ^ c.seed)
            if (best < 0 or need > best_need
                    or (need == best_need and (tie > best_tie
                                               or (tie == best_tie and dev < best)))):
                best, best_need, best_tie = dev, need, tie
    return best


cdef Py_ssize_t _place(Ctx* c, Tree* tree, bint use_tree, Py_ssize_t* relaxed) noexcept nogil:
    """Fill the holes; returns -1, or the partition no device could take."""
    cdef int members[MAX_REPLICAS]
    cdef Py_ssize_t p
    cdef int r, n, dev, t
    for p in range(c.parts):
        n = _members(c, p, members)
        for r in range(c.replicas):
            if c.table[r * c.parts + p] != NONE:
                continue
            if use_tree:
                dev = _best_in_tree(c, tree, p, members, n)
            else:
                dev = _best_device(c, p, members, n, True)
            if dev < 0:
                dev = _best_device(c, p, members, n, False)
                if dev < 0:
                    return p
                relaxed[0] += 1
            c.table[r * c.parts + p] = dev
            members[n] = dev
            n += 1
            c.counts[dev] += 1
            for t in range(3):
                c.node_count[c.anc[3 * dev + t]] += 1
    return -1


def place(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
          Py_ssize_t nodes, const long long[::1] dev_target,
          const long long[::1] node_target, const int[::1] node_min, const int[::1] node_max,
          uint64_t seed):
    """Fill every empty slot, partition by partition (see the twin)."""
    cdef Ctx c
    cdef Py_ssize_t slots = dev_target.shape[0], stuck, relaxed = 0
    if node_target.shape[0] < nodes:
        raise ValueError(f"node_target must hold one value for each of {nodes} nodes")
    _per_node(node_min, nodes, "node_min")
    _per_node(node_max, nodes, "node_max")
    _setup(&c, table, replicas, parts, anc, nodes, slots)
    c.dev_target = &dev_target[0] if slots else NULL
    c.node_target = &node_target[0] if nodes else NULL
    c.node_min = &node_min[0] if nodes else NULL
    c.node_max = &node_max[0] if nodes else NULL
    c.seed = seed
    cdef Tree tree
    cdef int exact
    try:
        with nogil:
            exact = _build_tree(&c, &tree)
            if exact >= 0:
                stuck = _place(&c, &tree, exact == 1, &relaxed)
        if exact < 0:
            raise MemoryError()
    finally:
        _free_tree(&tree)
        _release(&c)
    if stuck >= 0:
        raise ValueError(f"no device can take another replica of partition {stuck}")
    return relaxed


cdef Py_ssize_t _repair(Ctx* c) noexcept nogil:
    cdef int members[MAX_REPLICAS]
    cdef Py_ssize_t p, i, start, moved = 0
    cdef int dev, r, m, t, old, node, left, inside, remain
    cdef bint present, fits
    start = <Py_ssize_t>(_mix64(c.seed ^ 0x5EED) % <uint64_t>c.parts)
    for dev in range(c.slots):
        if c.dev_target[dev] < 0 or c.counts[dev] >= c.dev_target[dev]:
            continue
        for i in range(c.parts):
            if c.counts[dev] >= c.dev_target[dev]:
                break
            p = (start + i) % c.parts
            if not _movable(c, p):
                continue
            present = False
            for r in range(c.replicas):
                members[r] = c.table[r * c.parts + p]
                if members[r] == dev:
                    present = True
            if present:
                continue
            for r in range(c.replicas):
                old = members[r]
                if old == NONE or c.counts[old] <= c.dev_target[old]:
                    continue
                fits = True
                for t in range(3):
                    node = c.anc[3 * dev + t]
                    left = c.anc[3 * old + t]
                    inside = 0
                    remain = 0
                    for m in range(c.replicas):
                        if members[m] == old or members[m] == NONE:
                            continue
                        if c.anc[3 * members[m] + t] == node:
                            inside += 1
                        if c.anc[3 * members[m] + t] == left:
                            remain += 1
                    if inside >= c.node_max[node]:
                        fits = False
                        break
                    if left != node and remain < c.node_min[left]:
                        fits = False
                        break
                if not fits:
                    continue
                c.table[r * c.parts + p] = dev
                c.counts[old] -= 1
                c.counts[dev] += 1
                c.touched[p] = 1
                moved += 1
                break
    return moved


def repair(unsigned short[::1] table, int replicas, Py_ssize_t parts, const int[::1] anc,
           Py_ssize_t nodes, const long long[::1] dev_target, const int[::1] node_min,
           const int[::1] node_max, const unsigned int[::1] last_moved,
           unsigned char[::1] touched, long long now, long long min_seconds, bint override,
           uint64_t seed):
    """Move replicas from devices over their target to devices under it (see the twin)."""
    cdef Ctx c
    cdef Py_ssize_t slots = dev_target.shape[0], moved
    _per_node(node_min, nodes, "node_min")
    _per_node(node_max, nodes, "node_max")
    _per_part(last_moved.shape[0], parts, "last_moved")
    _per_part(touched.shape[0], parts, "touched")
    _setup(&c, table, replicas, parts, anc, nodes, slots)
    c.dev_target = &dev_target[0] if slots else NULL
    c.node_min = &node_min[0] if nodes else NULL
    c.node_max = &node_max[0] if nodes else NULL
    c.last_moved = &last_moved[0]
    c.touched = &touched[0]
    c.now = now
    c.min_seconds = min_seconds
    c.override = override
    c.seed = seed
    try:
        with nogil:
            moved = _repair(&c)
    finally:
        _release(&c)
    return moved


def finish(const unsigned short[::1] before, const unsigned short[::1] table, Py_ssize_t parts,
           unsigned int[::1] last_moved, long long now):
    """Stamp ``now`` on every partition whose replicas changed devices (see the twin)."""
    if before.shape[0] != table.shape[0] or parts < 1 or table.shape[0] % parts:
        raise ValueError("before and table must be tables of the same size")
    _per_part(last_moved.shape[0], parts, "last_moved")
    cdef Py_ssize_t slot, p, n = table.shape[0], moved_slots = 0, moved_parts = 0
    cdef unsigned char* marks = <unsigned char*>calloc(parts + 1, 1)
    if marks == NULL:
        raise MemoryError()
    try:
        with nogil:
            for slot in range(n):
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
