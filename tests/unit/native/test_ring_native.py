"""``_native.ring`` and ``_native.placement``: the compiled modules equal their twins.

Equality tests import both implementations directly; the compiled half is skipped
only under ``CUMULO_NO_EXTENSIONS=1``.  Property tests draw names (any unicode),
topologies and prior tables with hypothesis.
"""

from __future__ import annotations

import os
import random
from array import array

import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _native
from _native import placement_py, ring_py
from storage.ring.devices import Device
from storage.ring.plan import make_plan

PURE_ONLY = os.environ.get("CUMULO_NO_EXTENSIONS") == "1"
needs_compiled = pytest.mark.skipif(PURE_ONLY, reason="CUMULO_NO_EXTENSIONS=1")
NONE = 0xFFFF

if not PURE_ONLY:
    from _native import _placement, _ring  # type: ignore[attr-defined]

names = st.text(max_size=80) | st.binary(max_size=80)
valid_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80)


def test_compiled_modules_loaded_unless_disabled() -> None:
    if PURE_ONLY:
        assert _native.FALLBACKS["ring"] == _native.FALLBACKS["placement"]
        assert _native.RingIndex is ring_py.RingIndex
        return
    # A silent fallback to the twins would cost 20-100x: fail loudly instead.
    assert "ring" not in _native.FALLBACKS
    assert "placement" not in _native.FALLBACKS
    assert _native.RingIndex is _ring.RingIndex
    assert _native.place_replicas is _placement.place


def test_hash_is_xxh3_of_the_salted_path() -> None:
    key = b"salt/acc/cont/obj"
    assert ring_py.name_hash(b"salt", "acc", "cont", "obj") == xxhash.xxh3_64_intdigest(key)
    assert ring_py.name_hash(b"", "a") == xxhash.xxh3_64_intdigest(b"/a")


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(
    salt=st.binary(max_size=40), a=valid_text, c=st.none() | valid_text, o=st.none() | valid_text
)
def test_name_hash_equal(salt: bytes, a: str, c: str | None, o: str | None) -> None:
    if o is not None and c is None:
        for impl in (ring_py, _ring):
            with pytest.raises(ValueError, match="needs a container"):
                impl.name_hash(salt, a, c, o)
        return
    assert _ring.name_hash(salt, a, c, o) == ring_py.name_hash(salt, a, c, o)


@needs_compiled
def test_long_names_and_bad_types() -> None:
    long = "ü" * 5000
    assert _ring.name_hash(b"s", long, long, long) == ring_py.name_hash(b"s", long, long, long)
    for impl in (ring_py, _ring):
        with pytest.raises(TypeError, match="str or bytes"):
            impl.name_hash(b"s", 5)
        with pytest.raises(UnicodeEncodeError):
            impl.name_hash(b"s", "\ud800")


def random_index(module, seed: int, part_power: int = 6, replicas: int = 3, ndev: int = 12):
    rng = random.Random(seed)
    parts = 1 << part_power
    devices: list = [{"id": i} for i in range(ndev)]
    devices[rng.randrange(ndev)] = None  # a gap in the ids
    usable = [i for i, d in enumerate(devices) if d is not None]
    table = array("H")
    rows = [rng.sample(usable, replicas) for _ in range(parts)]
    for r in range(replicas):
        table.extend(row[r] for row in rows)
    region = array("i", [rng.randrange(2) if d else -1 for d in devices])
    zone = array("i", [rng.randrange(4) if d else -1 for d in devices])
    server = array("i", [rng.randrange(6) if d else -1 for d in devices])
    return module.RingIndex(table, replicas, part_power, b"salty", devices, region, zone, server)


@needs_compiled
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    batch=st.lists(names, max_size=30),
    replicas=st.integers(1, 4),
    part_power=st.integers(1, 9),
)
def test_index_equal(seed: int, batch: list, replicas: int, part_power: int) -> None:
    fast = random_index(_ring, seed, part_power, replicas)
    ref = random_index(ring_py, seed, part_power, replicas)
    assert fast.get_parts(batch) == ref.get_parts(batch)
    assert fast.get_nodes_batch(batch) == ref.get_nodes_batch(batch)
    for name in batch:
        assert fast.get_nodes(name) == ref.get_nodes(name)
        assert fast.get_part(name, "c", "o") == ref.get_part(name, "c", "o")
    for part in range(fast.parts):
        assert fast.get_part_nodes(part) == ref.get_part_nodes(part)
        assert fast.handoffs(part) == ref.handoffs(part)
        assert fast.handoffs(part, 2) == ref.handoffs(part, 2)


@pytest.mark.parametrize("module", [ring_py, pytest.param("compiled", marks=needs_compiled)])
def test_handoffs_prefer_other_domains_and_never_repeat(module) -> None:
    module = _ring if module == "compiled" else module
    # 2 regions x 2 zones x 2 servers x 2 devices; device id = r*8 + z*4 + s*2 + d.
    devices = [{"id": i} for i in range(16)]
    region = array("i", [i // 8 for i in range(16)])
    zone = array("i", [i // 4 for i in range(16)])
    server = array("i", [i // 2 for i in range(16)])
    table = array("H", [0, 0, 4, 4])  # part_power 1, 2 replicas: parts 0,1 -> devices 0, 4
    index = module.RingIndex(table, 2, 1, b"", devices, region, zone, server)
    hand = index.handoffs(0)
    assert sorted(hand) == [i for i in range(16) if i not in (0, 4)]
    assert region[hand[0]] == 1  # the other region first
    assert index.handoffs(0, 3) == hand[:3]


@needs_compiled
def test_index_validation() -> None:
    for module in (ring_py, _ring):
        region = array("i", [0, 0])
        with pytest.raises(ValueError, match="array\\('H'\\)"):
            module.RingIndex(array("H", [0]), 1, 1, b"", [1, 2], region, region, region)
        with pytest.raises(ValueError, match="past the end"):
            module.RingIndex(array("H", [0, 5]), 1, 1, b"", [1, 2], region, region, region)
        with pytest.raises(ValueError, match="not in the ring"):
            module.RingIndex(array("H", [0, 1]), 1, 1, b"", [1, None], region, region, region)
        index = module.RingIndex(array("H", [0, 1]), 1, 1, b"", [1, 2], region, region, region)
        with pytest.raises(IndexError):
            index.get_part_nodes(2)


@pytest.mark.parametrize("module", [ring_py, pytest.param("compiled", marks=needs_compiled)])
def test_reload_hook_and_swap(module) -> None:
    module = _ring if module == "compiled" else module
    calls = []
    region = array("i", [0, 0])
    index = module.RingIndex(array("H", [0, 1]), 1, 1, b"", ["a", "b"], region, region, region)
    other = module.RingIndex(array("H", [1, 0]), 1, 1, b"", ["a", "b"], region, region, region)

    def hook() -> None:
        calls.append(1)
        index.swap(other)

    index.set_reload_hook(hook, 0.0)
    assert index.get_part_nodes(0) == ["b"]  # the hook ran first and swapped
    assert calls
    index.set_reload_hook(None, 0.0)


# -- placement -------------------------------------------------------------------
devices_strategy = st.lists(
    st.tuples(
        st.integers(1, 2),
        st.integers(1, 3),
        st.integers(1, 3),
        st.sampled_from([0, 1, 10, 100, 4000]),
    ),
    min_size=3,
    max_size=14,
)


def make_devices(spec: list[tuple[int, int, int, int]]) -> list[Device]:
    return [
        Device(
            id=i * 2,
            region=r,
            zone=z,
            ip=f"10.{r}.{z}.{s}",
            port=7720,
            device=f"d{i}",
            weight=float(w),
        )
        for i, (r, z, s, w) in enumerate(spec)
    ]


def run_steps(module, plan, table, replicas, parts, seed, prior):
    last = array("I", prior)
    touched = bytearray(parts)
    nodes = len(plan.nodes)
    g = module.gather(
        table,
        replicas,
        parts,
        plan.anc,
        nodes,
        plan.dev_state,
        plan.dev_target,
        plan.node_max,
        last,
        touched,
        5000,
        3600,
        False,
        seed,
    )
    after_gather = array("H", table)
    relaxed = module.place(
        table,
        replicas,
        parts,
        plan.anc,
        nodes,
        plan.dev_target,
        plan.node_target,
        plan.node_min,
        plan.node_max,
        seed,
    )
    after_place = array("H", table)
    rep = module.repair(
        table,
        replicas,
        parts,
        plan.anc,
        nodes,
        plan.dev_target,
        plan.node_min,
        plan.node_max,
        last,
        touched,
        5000,
        3600,
        False,
        seed,
    )
    return (
        g,
        after_gather,
        relaxed,
        after_place,
        rep,
        array("H", table),
        bytes(touched),
        module.count_replicas(table, plan.slots),
        module.count_dispersion(table, replicas, parts, plan.anc, plan.topo_max),
    )


@needs_compiled
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=devices_strategy,
    replicas=st.integers(1, 4),
    part_power=st.integers(1, 7),
    seed=st.integers(0, 2**64 - 1),
    prior_seed=st.integers(0, 1000),
)
def test_placement_equal(spec, replicas, part_power, seed, prior_seed) -> None:
    devices = make_devices(spec)
    if sum(1 for d in devices if d.weight > 0) < replicas:
        return
    parts = 1 << part_power
    rng = random.Random(prior_seed)
    # A prior table over a superset of ids (some now removed/absent), with holes.
    removed = [Device(id=1, region=1, zone=1, ip="10.9.9.9", port=1, device="gone", weight=1)]
    ids = [d.id for d in devices] + [1]
    table = array("H", [NONE]) * (replicas * parts)
    if prior_seed % 3:
        for p in range(parts):
            chosen = rng.sample(ids, min(replicas, len(ids)))
            for r, dev in enumerate(chosen):
                if rng.random() < 0.9:
                    table[r * parts + p] = dev
    plan = make_plan(devices, removed, replicas, parts)
    prior = array("I", [rng.choice((0, 4000, 4999)) for _ in range(parts)])
    fast = run_steps(_placement, plan, array("H", table), replicas, parts, seed, prior)
    ref = run_steps(placement_py, plan, array("H", table), replicas, parts, seed, prior)
    assert fast == ref
    final = fast[5]
    for p in range(parts):
        devs = [final[r * parts + p] for r in range(replicas)]
        assert NONE not in devs and len(set(devs)) == replicas
    before = array("H", table)
    last_a, last_b = array("I", prior), array("I", prior)
    assert _placement.finish(before, final, parts, last_a, 9) == placement_py.finish(
        before, final, parts, last_b, 9
    )
    assert last_a == last_b


@needs_compiled
def test_placement_validation() -> None:
    for module in (placement_py, _placement):
        with pytest.raises(ValueError, match="past the"):
            module.place(
                array("H", [7, 0]),
                1,
                2,
                array("i", [0, 0, 0]),
                1,
                array("q", [1]),
                array("q", [1]),
                array("i", [0]),
                array("i", [1]),
                0,
            )
        with pytest.raises(ValueError, match="replicas must be"):
            module.place(
                array("H", []),
                0,
                2,
                array("i", [0, 0, 0]),
                1,
                array("q", [1]),
                array("q", [1]),
                array("i", [0]),
                array("i", [1]),
                0,
            )


@needs_compiled
def test_compiled_placement_refuses_out_of_range_arguments() -> None:
    """The compiled loops run on raw pointers without the GIL: bad sizes must raise."""
    table = array("H", [0, NONE])
    target = array("q", [1])
    one = array("i", [1])
    with pytest.raises(ValueError, match="anc names node"):
        _placement.place(
            table, 1, 2, array("i", [0, 0, 5]), 1, target, array("q", [1]), one, one, 0
        )
    with pytest.raises(ValueError, match="anc must hold"):
        _placement.place(table, 1, 2, array("i", [0]), 1, target, array("q", [1]), one, one, 0)
    with pytest.raises(ValueError, match="node_max must hold"):
        _placement.place(
            table,
            1,
            2,
            array("i", [0, 0, 0]),
            2,
            target,
            array("q", [1, 1]),
            array("i", [1, 1]),
            one,
            0,
        )
    with pytest.raises(ValueError, match="touched must hold"):
        _placement.repair(
            table,
            1,
            2,
            array("i", [0, 0, 0]),
            1,
            target,
            one,
            one,
            array("I", [0, 0]),
            bytearray(1),
            0,
            0,
            False,
            0,
        )


@needs_compiled
@pytest.mark.parametrize("loosen", [False, True])
def test_place_equal_on_a_wide_tree_and_with_inconsistent_bounds(loosen: bool) -> None:
    """The compiled ``place`` descends the tree when the bounds allow it and scans every
    device otherwise; either way it must return the twin's table."""
    rng = random.Random(7)
    spec = [
        (rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 4), rng.choice([10, 100, 4000]))
        for _ in range(60)
    ]
    devices = make_devices(spec)
    parts, replicas = 64, 3
    plan = make_plan(devices, [], replicas, parts)
    node_max = array("i", plan.node_max)
    if loosen:  # a zone allowed more than its servers can take: the descent is not exact
        zone = next(n for n in plan.nodes if n.tier == 1)
        node_max[zone.index] = 99
    tables = []
    for module in (_placement, placement_py):
        table = array("H", [NONE]) * (replicas * parts)
        module.place(
            table,
            replicas,
            parts,
            plan.anc,
            len(plan.nodes),
            plan.dev_target,
            plan.node_target,
            plan.node_min,
            node_max,
            11,
        )
        tables.append(table)
    assert tables[0] == tables[1]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), replicas=st.integers(1, 4))
def test_handoff_properties(seed: int, replicas: int) -> None:
    index = random_index(_native, seed, 4, replicas)
    usable = {i for i, d in enumerate(index.devices) if d is not None}
    for part in range(index.parts):
        primaries = index.get_part_device_ids(part)
        hand = index.handoffs(part)
        assert len(hand) == len(set(hand))
        assert set(hand) == usable - set(primaries)
        assert index.handoffs(part, 3) == hand[:3]
