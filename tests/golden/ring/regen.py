"""Golden vectors that freeze ring placement and lookups.

``python tests/golden/ring/regen.py`` rewrites ``vectors.json`` next to this file;
do that only on purpose (a placement change moves data in every deployed cluster),
and say why in the commit.  ``tests/unit/storage/ring/test_ring_golden.py`` recomputes
the vectors with each backend and compares.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VECTORS = HERE / "vectors.json"

NAMES = [
    ("AUTH_test", None, None),
    ("AUTH_test", "photos", None),
    ("AUTH_test", "photos", "cat.jpg"),
    ("AUTH_ünïcödé", "контейнер", "対象/パス/名前.txt"),
    ("a", "c", "o" * 600),
    ("acc", "", ""),
    ("🦄", "🌈", "✨"),
]


def compute() -> dict[str, Any]:
    """Build the issue's cluster at part power 7, rebalance, remove, re-add; record all."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import _native
    from storage.ring.builder import RingBuilder
    from storage.ring.reader import build_index

    builder = RingBuilder(7, 3, 0, salt=b"golden-salt")
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
    steps: list[dict[str, Any]] = []

    def record(label: str, moved: int) -> None:
        assert builder.table is not None
        steps.append(
            {
                "step": label,
                "moved": moved,
                "table": [
                    list(builder.table[r * builder.parts : (r + 1) * builder.parts])
                    for r in range(builder.replicas)
                ],
                "sha256": hashlib.sha256(builder.table.tobytes()).hexdigest(),
            }
        )

    record("first", builder.rebalance(now=1_000_000).moved_replicas)
    builder.remove_device(0)
    record("remove 0", builder.rebalance(now=1_000_100).moved_replicas)
    builder.add_device(region=1, zone=1, ip="10.0.1.1", port=7720, device="d0", weight=4000)
    record("add back", builder.rebalance(now=1_000_200).moved_replicas)
    builder.set_weight(19, 0)
    record("drain 19", builder.rebalance(now=1_000_300).moved_replicas)

    index = build_index(builder.ring_data())
    lookups = []
    for account, container, obj in NAMES:
        part, nodes = index.get_nodes(account, container, obj)
        lookups.append(
            {
                "name": [account, container, obj],
                "hash": _native.name_hash(builder.salt, account, container, obj),
                "part": part,
                "devices": [n.id for n in nodes],
            }
        )
    handoffs = {str(p): index.handoffs(p) for p in range(0, builder.parts, 9)}
    return {"salt": builder.salt.hex(), "steps": steps, "lookups": lookups, "handoffs": handoffs}


def render(data: dict[str, Any]) -> str:
    """JSON with every list of plain numbers on one line (one replica row per line)."""
    text = json.dumps(data, indent=1, ensure_ascii=False)
    return (
        re.sub(
            r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
            lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]",
            text,
        )
        + "\n"
    )


def main() -> None:
    VECTORS.write_text(render(compute()))
    print(f"wrote {VECTORS}")


if __name__ == "__main__":
    main()
