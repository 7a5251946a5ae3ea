"""``python -m storage.ring.bootstrap``: build a first ring over a few storage nodes.

For ``cumulo up`` and development clusters: one zone per node (so the replicas of
each partition land on different nodes), every device weight 1, then rebalance and
write the ring file.  An existing builder file is left alone (its ring is rewritten
only if the ring file is missing).  Real clusters use ``cumulo ring ...``.

    python -m storage.ring.bootstrap --builder B --ring R --part-power 10 --replicas 3 \\
        --node 127.0.0.1:7721/d1,d2 --node 127.0.0.1:7722/d1,d2 --node 127.0.0.1:7723/d1,d2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cumulo import errors
from storage.ring import RingBuilder


def build(
    builder_path: Path, ring_path: Path, part_power: int, replicas: int, nodes: list[str]
) -> RingBuilder:
    if builder_path.exists():
        builder = RingBuilder.load(builder_path)
    else:
        builder = RingBuilder(part_power, replicas, min_part_hours=0)
        for zone, node in enumerate(nodes, start=1):
            address, _, devices = node.partition("/")
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not devices:
                raise errors.InvalidArgument(f"--node {node!r} is not HOST:PORT/DEV[,DEV...]")
            for device in devices.split(","):
                builder.add_device(
                    region=1, zone=zone, ip=host, port=int(port), device=device, weight=1.0
                )
        builder.rebalance()
        builder_path.parent.mkdir(parents=True, exist_ok=True)
        builder.save(builder_path)
    if not ring_path.exists():
        builder.write_ring(ring_path)
    return builder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.ring.bootstrap", description=__doc__)
    parser.add_argument("--builder", type=Path, required=True)
    parser.add_argument("--ring", type=Path, required=True)
    parser.add_argument("--part-power", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--node", action="append", default=[], help="HOST:PORT/DEV[,DEV...]")
    options = parser.parse_args(argv)
    try:
        build(options.builder, options.ring, options.part_power, options.replicas, options.node)
    except errors.CumuloError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
