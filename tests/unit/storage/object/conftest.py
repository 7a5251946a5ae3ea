"""Fixtures for the object-store tests: each store implementation behind one small harness."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.object.diskfile import DiskDevice, name_hash
from storage.object.memory import MemoryDevice
from storage.object.store import MIN_CHUNK_SIZE, ObjectDevice, ObjectName

#: Small chunks so that multi-chunk objects stay small in tests.
CHUNK = MIN_CHUNK_SIZE


@dataclass
class Harness:
    """A device plus the one thing the contract cannot express portably: damaging it."""

    device: ObjectDevice
    corrupt: Callable[[int, ObjectName, int], None]


def _corrupt_disk(device: DiskDevice) -> Callable[[int, ObjectName, int], None]:
    def corrupt(partition: int, name: ObjectName, offset: int) -> None:
        hashed = name_hash(name.path)
        folder = Path(device.objects_dir, str(partition), hashed[-3:], hashed)
        (data_file,) = folder.glob("*.data")
        with open(data_file, "r+b") as handle:
            handle.seek(offset)
            byte = handle.read(1)
            handle.seek(offset)
            handle.write(bytes([byte[0] ^ 0xFF]))

    return corrupt


@pytest.fixture(params=["disk", "memory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "disk":
        disk = DiskDevice(tmp_path / "d1", chunk_size=CHUNK)
        yield Harness(disk, _corrupt_disk(disk))
        assert os.listdir(disk.tmp_dir) == [], "a test left a temporary file behind"
    else:
        memory = MemoryDevice("d1", chunk_size=CHUNK)
        yield Harness(memory, memory.corrupt)
