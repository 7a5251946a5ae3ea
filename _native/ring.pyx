# cython: language_level=3
"""Ring lookups, compiled.

Twin of ``_native/ring_py.py`` (the reference, which states the contract); results
must be identical.  XXH3-64 comes from xxhash.h compiled inline, keys are built in
a stack buffer (heap only for very long names), and lookups index straight into the
flat ``array('H')`` table, so a lookup allocates only its result.
"""

cimport cython
from cpython.array cimport array, clone
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from posix.time cimport clock_gettime, timespec


cdef extern from "<time.h>" nogil:
    # Coarse (tick-resolution) monotonic clock: a few ns instead of ~20 per lookup,
    # ample for deciding whether to look at the ring file again.
    enum: CLOCK_MONOTONIC_COARSE


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    # CPython's inline accessors: an ASCII str's bytes are its UTF-8, no call needed.
    bint PyUnicode_IS_COMPACT_ASCII(object unicode)
    void* PyUnicode_DATA(object unicode)
    Py_ssize_t PyUnicode_GET_LENGTH(object unicode)


cdef extern from "xxhash.h" nogil:
    ctypedef unsigned long long XXH64_hash_t
    XXH64_hash_t XXH3_64bits(const void* data, size_t length)


NO_DEVICE = 0xFFFF
DEF STACK_KEY = 512


cdef inline uint64_t _mix64(uint64_t z) noexcept nogil:
    z = z + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def mix64(uint64_t value):
    """splitmix64's finaliser: a cheap, well-spread 64-bit permutation."""
    return _mix64(value)


cdef inline const char* _utf8(object part, Py_ssize_t* size) except NULL:
    if type(part) is str:
        if PyUnicode_IS_COMPACT_ASCII(part):
            size[0] = PyUnicode_GET_LENGTH(part)
            return <const char*>PyUnicode_DATA(part)
        return PyUnicode_AsUTF8AndSize(part, size)
    if type(part) is bytes:
        size[0] = PyBytes_GET_SIZE(part)
        return PyBytes_AS_STRING(part)
    raise TypeError(f"names must be str or bytes, got {type(part).__name__}")


cdef int _path_hash(const char* salt, Py_ssize_t salt_len, object account, object container,
                    object obj, uint64_t* out) except -1:
    cdef Py_ssize_t la = 0, lc = 0, lo = 0
    cdef const char* pa = _utf8(account, &la)
    cdef const char* pc = NULL
    cdef const char* po = NULL
    if obj is not None and container is None:
        raise ValueError("an object name needs a container name")
    if container is not None:
        pc = _utf8(container, &lc)
        if obj is not None:
            po = _utf8(obj, &lo)
    cdef Py_ssize_t total = salt_len + 1 + la
    if pc != NULL:
        total += 1 + lc
    if po != NULL:
        total += 1 + lo
    cdef char stack[STACK_KEY]
    cdef char* buf = stack
    if total > STACK_KEY:
        buf = <char*>malloc(total)
        if buf == NULL:
            raise MemoryError()
    cdef Py_ssize_t at = salt_len
    memcpy(buf, salt, salt_len)
    buf[at] = b"/"
    memcpy(buf + at + 1, pa, la)
    at += 1 + la
    if pc != NULL:
        buf[at] = b"/"
        memcpy(buf + at + 1, pc, lc)
        at += 1 + lc
        if po != NULL:
            buf[at] = b"/"
            memcpy(buf + at + 1, po, lo)
            at += 1 + lo
    out[0] = XXH3_64bits(buf, <size_t>at)
    if buf != stack:
        free(buf)
    return 0


def name_hash(bytes salt, account, container=None, obj=None):
    """XXH3-64 of the salted path of a name (the partition is its top bits)."""
    cdef uint64_t digest
    _path_hash(PyBytes_AS_STRING(salt), PyBytes_GET_SIZE(salt), account, container, obj,
               &digest)
    return digest


cdef struct _Keyed:
    uint64_t key
    int32_t dev


cdef int _by_key(const void* a, const void* b) noexcept nogil:
    cdef const _Keyed* x = <const _Keyed*>a
    cdef const _Keyed* y = <const _Keyed*>b
    if x.key != y.key:
        return -1 if x.key < y.key else 1
    return -1 if x.dev < y.dev else (1 if x.dev > y.dev else 0)


cdef double _monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


@cython.final
cdef class RingIndex:
    """Partition and device lookups over one flat replica-to-device table."""

    cdef array _table
    cdef const uint16_t* _tab
    cdef readonly int replicas
    cdef readonly int part_power
    cdef readonly Py_ssize_t parts
    cdef int _shift
    cdef readonly bytes salt
    cdef readonly list devices
    cdef array _region
    cdef array _zone
    cdef array _server
    cdef object _hook
    cdef double _interval
    cdef double _next_check

    def __init__(self, array table, int replicas, int part_power, bytes salt, devices,
                 array dev_region, array dev_zone, array dev_server):
        self._hook = None
        self._fill(table, replicas, part_power, salt, devices, dev_region, dev_zone, dev_server)

    cdef _fill(self, array table, int replicas, int part_power, bytes salt, devices,
               array dev_region, array dev_zone, array dev_server):
        if not 1 <= part_power <= 32:
            raise ValueError(f"part_power must be 1..32, got {part_power}")
        if replicas < 1:
            raise ValueError(f"replicas must be 1 or more, got {replicas}")
        cdef Py_ssize_t parts = (<Py_ssize_t>1) << part_power
        if table.typecode != "H" or len(table) != replicas * parts:
            raise ValueError(f"table must be an array('H') of {replicas * parts} device ids")
        devices = list(devices)
        cdef Py_ssize_t ndev = len(devices)
        for tiers in (dev_region, dev_zone, dev_server):
            if tiers.typecode != "i" or len(tiers) != ndev:
                raise ValueError(f"tier arrays must be array('i') of {ndev} items")
        cdef const uint16_t* tab = table.data.as_ushorts
        cdef Py_ssize_t i, total = replicas * parts
        cdef uint16_t top = 0
        for i in range(total):
            if tab[i] > top:
                top = tab[i]
        if total and top >= ndev:
            raise ValueError("table names a device id past the end of the device list")
        cdef bytearray seen = bytearray(ndev)
        cdef unsigned char* mark = seen
        for i in range(total):
            mark[tab[i]] = 1
        for i in range(ndev):
            if mark[i] and devices[i] is None:
                raise ValueError(f"table names device {i}, which is not in the ring")
        self._table = table
        self._tab = tab
        self.replicas = replicas
        self.part_power = part_power
        self.parts = parts
        self._shift = 64 - part_power
        self.salt = salt
        self.devices = devices
        self._region = dev_region
        self._zone = dev_zone
        self._server = dev_server

    def swap(self, RingIndex other):
        """Take ``other``'s table and devices (the reload path); the hook stays."""
        self._fill(other._table, other.replicas, other.part_power, other.salt, other.devices,
                   other._region, other._zone, other._server)

    def set_reload_hook(self, hook, double interval):
        """Call ``hook`` from a lookup when ``interval`` seconds passed since the last call."""
        self._hook = hook
        self._interval = interval
        self._next_check = _monotonic() + interval

    cdef inline int _check(self) except -1:
        cdef double now
        if self._hook is not None:
            now = _monotonic()
            if now >= self._next_check:
                self._next_check = now + self._interval
                self._hook()
        return 0

    cdef inline uint32_t _part(self, account, container, obj) except? 0xFFFFFFFF:
        cdef uint64_t digest
        _path_hash(PyBytes_AS_STRING(self.salt), PyBytes_GET_SIZE(self.salt), account,
                   container, obj, &digest)
        return <uint32_t>(digest >> self._shift)

    cdef list _nodes(self, Py_ssize_t part):
        cdef int r
        cdef Py_ssize_t parts = self.parts
        cdef list devices = self.devices
        cdef list out = PyList_New(self.replicas)
        cdef object dev
        for r in range(self.replicas):
            dev = devices[self._tab[r * parts + part]]
            Py_INCREF(dev)  # PyList_SET_ITEM steals a reference
            PyList_SET_ITEM(out, r, dev)
        return out

    def get_part(self, account, container=None, obj=None):
        """The partition of a name."""
        self._check()
        return self._part(account, container, obj)

    def get_nodes(self, account, container=None, obj=None):
        """The partition of a name and its primary devices, replica order."""
        self._check()
        cdef uint32_t part = self._part(account, container, obj)
        return part, self._nodes(part)

    def get_part_nodes(self, Py_ssize_t part):
        """The primary devices of a partition, replica order."""
        self._check()
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        return self._nodes(part)

    def get_part_device_ids(self, Py_ssize_t part):
        """The primary device ids of a partition, replica order."""
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        return [self._tab[r * self.parts + part] for r in range(self.replicas)]

    cdef array _parts_of(self, names):
        cdef list seq = names if type(names) is list else list(names)
        cdef Py_ssize_t n = len(seq), i, size, need
        cdef array out = clone(array("I"), n, False)
        cdef uint32_t* dst = out.data.as_uints
        cdef Py_ssize_t salt_len = PyBytes_GET_SIZE(self.salt)
        cdef char stack[STACK_KEY]
        cdef char* buf = stack
        cdef Py_ssize_t cap = STACK_KEY
        cdef const char* src
        if salt_len + 1 > cap:
            cap = salt_len + 1 + STACK_KEY
            buf = <char*>malloc(cap)
            if buf == NULL:
                raise MemoryError()
        memcpy(buf, PyBytes_AS_STRING(self.salt), salt_len)
        try:
            for i in range(n):
                src = _utf8(seq[i], &size)
                need = salt_len + 1 + size
                if need > cap:
                    if buf != stack:
                        free(buf)
                    buf = <char*>malloc(need)
                    if buf == NULL:
                        raise MemoryError()
                    cap = need
                    memcpy(buf, PyBytes_AS_STRING(self.salt), salt_len)
                buf[salt_len] = b"/"
                memcpy(buf + salt_len + 1, src, size)
                dst[i] = <uint32_t>(XXH3_64bits(buf, <size_t>need) >> self._shift)
        finally:
            if buf != stack:
                free(buf)
        return out

    def get_parts(self, names):
        """Partitions of many joined names (``"account/container/obj"``), as array('I')."""
        self._check()
        return self._parts_of(names)

    def get_nodes_batch(self, names):
        """Partitions (array('I')) and primary device ids (array('H'), ``replicas`` per
        name, name-major) of many joined names."""
        self._check()
        cdef array parts_out = self._parts_of(names)
        cdef Py_ssize_t n = len(parts_out), i
        cdef int r, replicas = self.replicas
        cdef array devs = clone(array("H"), n * replicas, False)
        cdef uint16_t* dst = devs.data.as_ushorts
        cdef const uint32_t* src = parts_out.data.as_uints
        # Hold the table: a reload in another thread may swap it while the GIL is released.
        cdef array table = self._table
        cdef const uint16_t* tab = table.data.as_ushorts
        cdef Py_ssize_t parts = self.parts
        with nogil:
            for i in range(n):
                for r in range(replicas):
                    dst[i * replicas + r] = tab[r * parts + src[i]]
        return parts_out, devs

    def handoffs(self, Py_ssize_t part, Py_ssize_t limit=-1):
        """Handoff device ids of a partition, best first (see the module contract)."""
        if not 0 <= part < self.parts:
            raise IndexError(f"partition {part} is outside 0..{self.parts - 1}")
        cdef Py_ssize_t ndev = len(self.devices), count = 0, i, j, level
        cdef const int32_t* region = <const int32_t*>self._region.data.as_ints
        cdef const int32_t* zone = <const int32_t*>self._zone.data.as_ints
        cdef const int32_t* server = <const int32_t*>self._server.data.as_ints
        cdef const int32_t* tier
        cdef list primaries = self.get_part_device_ids(part)
        cdef set used_r = {region[d] for d in primaries}
        cdef set used_z = {zone[d] for d in primaries}
        cdef set used_s = {server[d] for d in primaries}
        cdef set used
        cdef list chosen = []
        if ndev == 0:
            return chosen
        cdef _Keyed* order = <_Keyed*>malloc(ndev * sizeof(_Keyed))
        cdef bytearray taken_buf = bytearray(ndev)
        cdef unsigned char* taken = taken_buf
        if order == NULL:
            raise MemoryError()
        try:
            for d in primaries:
                taken[<Py_ssize_t>d] = 1
            for i in range(ndev):
                if zone[i] >= 0 and not taken[i]:
                    order[count].key = _mix64((<uint64_t>part << 16) | <uint64_t>i)
                    order[count].dev = <int32_t>i
                    count += 1
            qsort(order, count, sizeof(_Keyed), _by_key)
            if limit < 0:
                limit = count
            for level in range(3):
                tier = region if level == 0 else (zone if level == 1 else server)
                used = used_r if level == 0 else (used_z if level == 1 else used_s)
                for j in range(count):
                    if len(chosen) >= limit:
                        return chosen
                    i = order[j].dev
                    if not taken[i] and tier[i] not in used:
                        chosen.append(i)
                        taken[i] = 1
                        used_r.add(region[i])
                        used_z.add(zone[i])
                        used_s.add(server[i])
            for j in range(count):
                if len(chosen) >= limit:
                    break
                i = order[j].dev
                if not taken[i]:
                    chosen.append(i)
                    taken[i] = 1
            return chosen
        finally:
            free(order)
