"""Helpers shared by the ring tests: the issue's cluster and backend switching.

``use_backend(monkeypatch, name)`` points the ``_native`` facade's ring and placement
functions at the compiled modules or at the pure twins, so one test body runs over
both implementations (the compiled half is skipped under ``CUMULO_NO_EXTENSIONS=1``).
"""

from __future__ import annotations

import importlib
import os

import pytest

import _native
from storage.ring import RingBuilder

BACKENDS = ["cython", "python"]
FACADE = {
    "ring": {"RingIndex": "RingIndex", "name_hash": "name_hash"},
    "placement": {
        "count_replicas": "count_replicas",
        "count_dispersion": "count_dispersion",
        "gather_replicas": "gather",
        "place_replicas": "place",
        "repair_replicas": "repair",
        "finish_moves": "finish",
    },
}


def use_backend(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    if name == "cython":
        if os.environ.get("CUMULO_NO_EXTENSIONS") == "1":
            pytest.skip("CUMULO_NO_EXTENSIONS=1: compiled modules disabled")
        modules = {stem: importlib.import_module(f"_native._{stem}") for stem in FACADE}
    else:
        modules = {stem: importlib.import_module(f"_native.{stem}_py") for stem in FACADE}
    for stem, names in FACADE.items():
        for facade_name, module_name in names.items():
            monkeypatch.setattr(_native, facade_name, getattr(modules[stem], module_name))


def issue_cluster(part_power: int = 8, min_part_hours: float = 0.0) -> RingBuilder:
    """3 replicas, 1 region, 3 zones, 5 servers x 4 devices; zones 1 and 2 have two
    servers of weight-4000 devices, zone 3 one server of weight-8000 devices."""
    builder = RingBuilder(part_power, 3, min_part_hours, salt=b"cumulo-ring-tests")
    for zone, servers, weight in ((1, 2, 4000), (2, 2, 4000), (3, 1, 8000)):
        for s in range(servers):
            for d in range(4):
                builder.add_device(
                    region=1,
                    zone=zone,
                    ip=f"10.0.{zone}.{s + 1}",
                    port=7720,
                    device=f"d{d}",
                    weight=weight,
                )
    return builder


def device_share(builder: RingBuilder, dev_id: int) -> int:
    assert builder.table is not None
    return sum(1 for d in builder.table if d == dev_id)
