"""The ring builder: placement quality, minimal movement, min_part_hours, bad input.

Every test runs over the compiled placement loops and over their pure twins.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.errors import AlreadyExists, InvalidArgument, NotFound
from storage.ring import RingBuilder
from tests.unit.storage.ring.ring_backends import BACKENDS, device_share, issue_cluster, use_backend

NO_DEVICE = 0xFFFF


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    use_backend(monkeypatch, request.param)
    return str(request.param)


def assert_valid(builder: RingBuilder) -> None:
    """Every slot holds a device and no partition has two replicas on one device."""
    assert builder.table is not None
    parts, replicas = builder.parts, builder.replicas
    for p in range(parts):
        devs = [builder.table[r * parts + p] for r in range(replicas)]
        assert NO_DEVICE not in devs
        assert len(set(devs)) == replicas, (p, devs)


def test_first_rebalance_is_balanced_and_dispersed(backend: str) -> None:
    builder = issue_cluster(part_power=9)
    result = builder.rebalance(now=1_000_000)
    assert_valid(builder)
    assert result.report["balance"] <= 1.0
    assert result.report["weight_balance"] <= 1.0
    assert result.report["dispersion"] == 0.0
    assert result.moved_replicas == 0  # filling an empty ring moves nothing
    assert result.relaxed == 0
    zones = {(d["zone"], d["server"]) for d in result.report["device_rows"]}
    assert len(zones) == 5


def test_removing_a_device_moves_only_its_share_and_keeps_dispersion(backend: str) -> None:
    builder = issue_cluster(part_power=9)
    builder.rebalance(now=1_000_000)
    share = device_share(builder, 0)
    builder.remove_device(0)
    result = builder.rebalance(now=1_000_000 + 7200)
    assert_valid(builder)
    assert result.moved_replicas <= 1.05 * share
    assert result.report["dispersion"] == 0.0
    assert result.report["balance"] <= 1.0
    # Zone 1 is now too light for a third of the replicas: the report says what it costs.
    assert result.report["weight_balance"] > 5.0
    assert any(
        "zone r1z1" in note and "over their weight share" in note for note in result.report["notes"]
    )
    assert 0 not in set(builder.table or [])


def test_adding_a_device_moves_only_what_it_takes(backend: str) -> None:
    builder = issue_cluster(part_power=9)
    builder.rebalance(now=1_000_000)
    builder.remove_device(0)
    builder.rebalance(now=1_000_000)
    dev = builder.add_device(region=1, zone=1, ip="10.0.1.1", port=7720, device="d0", weight=4000)
    result = builder.rebalance(now=1_000_000)
    taken = device_share(builder, dev.id)
    assert result.moved_replicas == taken
    assert result.report["dispersion"] == 0.0
    assert result.report["balance"] <= 1.0


def test_min_part_hours_limits_moves_and_override_lifts_it(backend: str) -> None:
    builder = issue_cluster(part_power=8, min_part_hours=1)
    builder.rebalance(now=1_000_000)
    # Pretend every partition has just moved.
    for p in range(builder.parts):
        builder.last_moved[p] = 1_000_000
    builder.set_weight(3, 0)
    share = device_share(builder, 3)
    early = builder.rebalance(now=1_000_000 + 60, dry_run=True)
    late = builder.rebalance(now=1_000_000 + 3600, dry_run=True)
    forced = builder.rebalance(now=1_000_000 + 60, override_min_part_hours=True, dry_run=True)
    assert early.moved_replicas == 0
    assert late.moved_replicas >= share
    assert forced.moved_replicas == late.moved_replicas
    # A removed device's replicas move whatever the time since the last move.
    builder.remove_device(5)
    removal = builder.rebalance(now=1_000_000 + 60)
    assert removal.gathered["removed"] > 0
    assert 5 not in set(builder.table or [])


def test_at_most_one_replica_of_a_partition_moves_per_rebalance(backend: str) -> None:
    builder = issue_cluster(part_power=8, min_part_hours=1)
    builder.rebalance(now=1_000_000)
    before = list(builder.table or [])
    builder.remove_device(0)
    for dev_id in (4, 5, 6, 7):  # zone 1, the other server: its devices drain
        builder.set_weight(dev_id, 0)
    builder.rebalance(now=1_000_000 + 7200)
    after = list(builder.table or [])
    parts = builder.parts
    for p in range(parts):
        moved = sum(1 for r in range(3) if before[r * parts + p] != after[r * parts + p])
        assert moved <= 1


def test_one_rebalance_settles_without_min_part_hours(backend: str) -> None:
    builder = issue_cluster(part_power=8, min_part_hours=0)
    builder.rebalance(now=1_000_000)
    builder.remove_device(0)
    builder.set_weight(4, 0)
    first = builder.rebalance(now=1_000_000)
    assert device_share(builder, 4) == 0
    assert first.report["balance"] <= 1.0 and first.report["dispersion"] == 0.0
    assert builder.rebalance(now=1_000_000).moved_replicas == 0


def test_draining_device_empties(backend: str) -> None:
    builder = issue_cluster(part_power=8)
    builder.rebalance(now=1_000_000)
    builder.set_weight(3, 0)
    result = builder.rebalance(now=1_000_000)
    assert device_share(builder, 3) == 0
    assert result.gathered["drained"] + result.gathered["over_target"] > 0
    assert result.report["dispersion"] == 0.0
    assert_valid(builder)


def test_dry_run_changes_nothing(backend: str) -> None:
    builder = issue_cluster(part_power=8)
    builder.rebalance(now=1_000_000)
    table, moved, version = list(builder.table or []), list(builder.last_moved), builder.version
    builder.remove_device(5)
    result = builder.rebalance(now=1_000_000, dry_run=True)
    assert result.dry_run and result.moved_replicas > 0
    assert list(builder.table or []) == table
    assert list(builder.last_moved) == moved
    assert builder.version == version
    assert 5 in builder.removed


def test_rebalance_is_deterministic(backend: str) -> None:
    a, b = issue_cluster(part_power=8), issue_cluster(part_power=8)
    a.rebalance(now=5)
    b.rebalance(now=5)
    assert a.table == b.table


def test_uneven_topology_keeps_devices_distinct(backend: str) -> None:
    builder = RingBuilder(7, 3, 0, salt=b"uneven")
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=100)
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="b", weight=1)
    builder.add_device(region=1, zone=1, ip="10.0.0.2", port=1, device="c", weight=50)
    builder.add_device(region=2, zone=1, ip="10.0.1.1", port=1, device="d", weight=10)
    result = builder.rebalance(now=1)
    assert_valid(builder)
    assert result.report["dispersion"] == 0.0


def test_save_and_load_round_trip(tmp_path, backend: str) -> None:
    builder = issue_cluster(part_power=8)
    builder.rebalance(now=1_000_000)
    builder.remove_device(2)
    path = tmp_path / "object.builder"
    builder.save(path)
    loaded = RingBuilder.load(path)
    assert loaded.table == builder.table
    assert loaded.last_moved == builder.last_moved
    assert loaded.devices == builder.devices
    assert loaded.removed == builder.removed
    assert (loaded.salt, loaded.version, loaded.min_part_hours) == (
        builder.salt,
        builder.version,
        builder.min_part_hours,
    )


# -- bad input ----------------------------------------------------------------------
def test_negative_weight_is_refused() -> None:
    builder = RingBuilder(8, 3)
    with pytest.raises(InvalidArgument, match=r"0 or more.*0 drains"):
        builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=-1)
    dev = builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=0)
    with pytest.raises(InvalidArgument, match="0 or more"):
        builder.set_weight(dev.id, -5)
    with pytest.raises(InvalidArgument):
        builder.set_weight(dev.id, float("nan"))


def test_duplicate_device_is_refused() -> None:
    builder = RingBuilder(8, 3)
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=1)
    with pytest.raises(AlreadyExists, match="already in the ring as id 0"):
        builder.add_device(region=1, zone=2, ip="10.0.0.1", port=1, device="a", weight=1)
    with pytest.raises(AlreadyExists, match="device id 0"):
        builder.add_device(region=1, zone=1, ip="10.0.0.2", port=1, device="a", weight=1, id=0)


def test_more_replicas_than_devices_is_refused() -> None:
    builder = RingBuilder(8, 3)
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=1)
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="b", weight=1)
    builder.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="c", weight=0)
    with pytest.raises(InvalidArgument, match="3 replicas need at least 3 devices"):
        builder.rebalance()


@pytest.mark.parametrize("part_power", [0, -1, 25, 32, 2.5])
def test_part_power_out_of_range_is_refused(part_power) -> None:
    with pytest.raises(InvalidArgument, match="partition power must be an integer from 1 to 24"):
        RingBuilder(part_power, 3)


@pytest.mark.parametrize("replicas", [0, -3, 17, 1.5])
def test_bad_replica_count_is_refused(replicas) -> None:
    with pytest.raises(InvalidArgument, match="replicas must be an integer"):
        RingBuilder(8, replicas)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ip", "storage-1", "IPv4 or IPv6"),
        ("port", 0, "port must be"),
        ("device", "a/b", "device name"),
        ("device", "", "device name"),
        ("zone", -1, "zone must be"),
    ],
)
def test_bad_device_fields_are_refused(field: str, value: object, message: str) -> None:
    args: dict = {"region": 1, "zone": 1, "ip": "10.0.0.1", "port": 1, "device": "a", "weight": 1}
    args[field] = value
    with pytest.raises(InvalidArgument, match=message):
        RingBuilder(8, 3).add_device(**args)


def test_unknown_device_is_not_found() -> None:
    builder = RingBuilder(8, 3)
    with pytest.raises(NotFound, match="device 7 is not in the ring"):
        builder.remove_device(7)
    with pytest.raises(NotFound):
        builder.set_weight(7, 1)


# -- properties over random topologies --------------------------------------------------
topologies = st.lists(
    st.tuples(
        st.integers(1, 2),
        st.integers(1, 4),
        st.integers(1, 3),
        st.sampled_from([1.0, 10.0, 100.0, 4000.0, 8000.0]),
    ),
    min_size=5,
    max_size=22,
)


@settings(max_examples=25, deadline=None)
@given(
    spec=topologies,
    replicas=st.integers(1, 4),
    change=st.integers(0, 2**16),
    min_part_hours=st.sampled_from([0, 1]),
)
def test_random_topologies_stay_valid_and_dispersed(
    spec: list[tuple[int, int, int, float]], replicas: int, change: int, min_part_hours: int
) -> None:
    builder = RingBuilder(6, replicas, min_part_hours, salt=b"prop")
    for i, (region, zone, server, weight) in enumerate(spec):
        builder.add_device(
            region=region,
            zone=zone,
            ip=f"10.{region}.{zone}.{server}",
            port=1,
            device=f"d{i}",
            weight=weight,
        )
    first = builder.rebalance(now=1_000_000)
    assert_valid(builder)
    assert first.report["dispersion"] == 0.0
    ids = sorted(builder.devices)
    builder.remove_device(ids[change % len(ids)])
    remaining = sorted(builder.devices)
    builder.set_weight(remaining[(change // 7) % len(remaining)], float(change % 3) * 100)
    builder.add_device(
        region=1, zone=change % 4 + 1, ip="10.9.9.9", port=1, device="new", weight=100
    )
    if sum(1 for d in builder.devices.values() if d.weight > 0) < replicas:
        return
    later = 1_000_000 + 3600 * 24
    second = builder.rebalance(now=later)
    assert_valid(builder)
    assert second.report["dispersion"] == 0.0 or min_part_hours
    # Removed devices' replicas always move, whatever min_part_hours says.
    assert not set(builder.table or []) - set(builder.devices)
