"""Ring files and the reader: format checks, atomic writes, reloads, memory."""

from __future__ import annotations

import logging
import os
import struct
import tracemalloc
from array import array

import pytest

from storage.ring import Ring, RingData, RingFileError, read_ring, write_ring
from storage.ring.builder import RingBuilder
from storage.ring.devices import Device
from storage.ring.ringfile import HEADER
from tests.unit.storage.ring.ring_backends import BACKENDS, issue_cluster, use_backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    use_backend(monkeypatch, request.param)
    return str(request.param)


@pytest.fixture
def built() -> RingBuilder:
    builder = issue_cluster(part_power=8)
    builder.rebalance(now=1_000_000)
    return builder


def test_round_trip(tmp_path, built: RingBuilder, backend: str) -> None:
    path = tmp_path / "object.ring"
    built.write_ring(path)
    data = read_ring(path)
    assert data.table == built.table
    assert data.salt == built.salt
    assert [d for d in data.devices if d] == list(built.devices.values())
    ring = Ring(path)
    part, nodes = ring.get_nodes("acc", "cont", "obj")
    assert [n.id for n in nodes] == ring.get_part_device_ids(part)
    assert len({n.id for n in nodes}) == 3
    assert ring.get_parts(["acc/cont/obj"])[0] == part
    assert all(d.id not in ring.get_part_device_ids(part) for d in ring.get_more_nodes(part))
    assert [f for f in os.listdir(tmp_path)] == ["object.ring"]  # no temporary left behind


def test_file_is_compressed_and_checksummed(tmp_path, built: RingBuilder) -> None:
    path = tmp_path / "object.ring"
    built.write_ring(path)
    raw = path.read_bytes()
    magic, version, _flags, size, _checksum = HEADER.unpack_from(raw)
    assert magic == b"CUMRING\x01" and version == 1 and size == len(raw) - HEADER.size
    assert raw[HEADER.size : HEADER.size + 4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: raw[:10], "truncated"),
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 0xFF]), "checksum mismatch"),
        (lambda raw: b"NOTARING" + raw[8:], "not a Cumulo ring file"),
        (lambda raw: raw[:8] + struct.pack("<H", 9) + raw[10:], "newer than this Cumulo"),
        (lambda raw: b"", "truncated"),
    ],
)
def test_bad_files_are_refused(tmp_path, built: RingBuilder, damage, message: str) -> None:
    path = tmp_path / "object.ring"
    built.write_ring(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RingFileError, match=message):
        read_ring(path)
    with pytest.raises(RingFileError, match=message):
        Ring(path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(RingFileError, match="does not exist"):
        Ring(tmp_path / "nothing.ring")


def test_inconsistent_table_is_refused(tmp_path) -> None:
    dev = Device(id=0, region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=1)
    data = RingData(part_power=1, replicas=1, salt=b"", devices=[dev], table=array("H", [0, 3]))
    write_ring(tmp_path / "r", data)
    with pytest.raises(RingFileError, match="inconsistent"):
        Ring(tmp_path / "r")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("part_power", 60, "outside"), ("replicas", 0, "outside"), ("device_id", 7, "position")],
)
def test_implausible_headers_are_refused(tmp_path, field: str, value: int, message: str) -> None:
    dev = Device(id=0, region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=1)
    data = RingData(part_power=1, replicas=1, salt=b"", devices=[dev], table=array("H", [0, 0]))
    if field == "device_id":
        data.devices = [
            Device(id=value, region=1, zone=1, ip="10.0.0.1", port=1, device="a", weight=1)
        ]
    else:
        setattr(data, field, value)
    write_ring(tmp_path / "r", data)
    with pytest.raises(RingFileError, match=message):
        read_ring(tmp_path / "r")


def test_reader_reloads_a_newer_file(tmp_path, built: RingBuilder, backend: str) -> None:
    path = tmp_path / "object.ring"
    built.write_ring(path)
    ring = Ring(path, reload_interval=0)
    get_nodes = ring.get_nodes  # a bound method must stay valid across reloads
    old_version = ring.version
    built.remove_device(0)
    built.rebalance(now=1_000_000)
    built.write_ring(path)
    get_nodes("acc", "cont", "obj")  # the lookup notices the new file
    assert ring.version == old_version + 1
    assert all(0 not in ring.get_part_device_ids(p) for p in range(ring.parts))
    assert ring.reload() is False  # nothing new since


def test_reader_keeps_old_ring_on_corrupt_file(
    tmp_path, built: RingBuilder, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "object.ring"
    built.write_ring(path)
    ring = Ring(path, reload_interval=0)
    expected = ring.get_nodes("a", "c", "o")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 100])
    with caplog.at_level(logging.ERROR, logger="storage.ring.reader"):
        assert ring.get_nodes("a", "c", "o") == expected
        assert ring.get_nodes("a", "c", "o") == expected
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1  # logged once per bad file, not per lookup
    with pytest.raises(RingFileError, match="truncated"):
        ring.reload()
    assert ring.get_nodes("a", "c", "o") == expected
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="storage.ring.reader"):
        assert ring.get_nodes("a", "c", "o") == expected
        assert ring.get_nodes("a", "c", "o") == expected
    assert sum("does not exist" in r.getMessage() for r in caplog.records) == 1
    path.write_bytes(raw)  # a good file again is picked up
    os.utime(path, ns=(1, 1))
    ring.get_nodes("a", "c", "o")
    assert ring.version == built.version


def test_large_ring_is_compact(tmp_path) -> None:
    """2**20 partitions x 3 replicas: the reader holds at most 8 MB (6 MiB of table)."""
    part_power, replicas = 20, 3
    parts = 1 << part_power
    devices: list[Device | None] = [
        Device(id=i, region=1, zone=i % 3, ip=f"10.0.0.{i}", port=1, device="d", weight=1)
        for i in range(20)
    ]
    row = array("H", [i % 20 for i in range(parts)])
    table = array("H")
    for r in range(replicas):
        table.extend(array("H", [(v + 7 * r) % 20 for v in row[:20]]) * (parts // 20))
        table.extend(row[: parts - (parts // 20) * 20])
    path = tmp_path / "big.ring"
    write_ring(path, RingData(part_power, replicas, b"s", devices, table))
    del table, row
    tracemalloc.start()
    try:
        ring = Ring(path)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ring.table_bytes == parts * replicas * 2
    assert held <= 8_000_000, held
