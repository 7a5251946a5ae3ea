"""``cumulo ring ...``: build object-store rings (offline operator tooling).

Every command works on a builder file (``create`` makes one); ``rebalance`` writes the
ring file that servers and proxies load (default: the builder path with ``.builder``
replaced by ``.ring``).  ``show`` takes a builder or a ring file.  No command talks to
a cloud, so this module may import :mod:`storage.ring` directly.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cumulo.cli.output import print_fields, print_json, print_table
from cumulo.errors import InvalidArgument
from storage.ring import Ring, RingBuilder
from storage.ring.ringfile import BUILDER_MAGIC, RING_MAGIC, RingFileError


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ring = commands.add_parser("ring", help="build object-store rings (offline)")
    sub = ring.add_subparsers(dest="ring_command", metavar="SUBCOMMAND")
    sub.required = True

    def command(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=help)
        parser.add_argument("builder", help="builder file (ring file too, for show)")
        parser.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
        parser.set_defaults(func=func)
        return parser

    create = command("create", "create an empty builder file", run_create)
    create.add_argument(
        "--part-power",
        type=int,
        required=True,
        help="2**N partitions, fixed for the ring's life (1..24)",
    )
    create.add_argument("--replicas", type=int, required=True, help="replicas of each object")
    create.add_argument(
        "--min-part-hours",
        type=float,
        default=1.0,
        help="hours before a partition may move again (default 1)",
    )
    create.add_argument("--force", action="store_true", help="overwrite an existing file")

    add = command("add", "add a device", run_add)
    add.add_argument("--region", type=int, default=1)
    add.add_argument("--zone", type=int, required=True)
    add.add_argument("--ip", required=True, help="storage server address")
    add.add_argument("--port", type=int, required=True, help="storage server port")
    add.add_argument("--device", required=True, help="device name on the server, e.g. sdb1")
    add.add_argument("--weight", type=float, required=True, help="relative capacity")
    add.add_argument("--id", type=int, help="device id (default: the next free one)")
    add.add_argument("--meta", default="", help="free text kept with the device")

    remove = command("remove", "remove a device (all its replicas move)", run_remove)
    remove.add_argument("id", type=int, help="device id")

    weight = command("set-weight", "change a device's weight (0 drains it)", run_set_weight)
    weight.add_argument("id", type=int, help="device id")
    weight.add_argument("weight", type=float, help="new weight")

    rebalance = command("rebalance", "place replicas and write the ring file", run_rebalance)
    rebalance.add_argument(
        "--dry-run", action="store_true", help="report what would move; change nothing"
    )
    rebalance.add_argument(
        "--override-min-part-hours",
        action="store_true",
        help="move partitions even if they moved less than min-part-hours ago",
    )
    rebalance.add_argument("--output", help="ring file (default: <builder>.ring)")
    rebalance.add_argument(
        "--bytes-used",
        type=int,
        help="bytes stored in the ring, for the moved-bytes estimate (kept)",
    )

    command("show", "show a builder or ring file", run_show)


def ring_path(builder: str) -> Path:
    path = Path(builder)
    if path.suffix == ".builder":
        return path.with_suffix(".ring")
    return path.with_name(path.name + ".ring")


def _load(args: argparse.Namespace) -> RingBuilder:
    return RingBuilder.load(args.builder)


def _device_fields(dev: Any) -> dict[str, Any]:
    return dev.to_dict() | {"server": dev.server}


def run_create(args: argparse.Namespace) -> int:
    if Path(args.builder).exists() and not args.force:
        raise InvalidArgument(
            f"{args.builder} exists already", hint="pick another path or pass --force"
        )
    builder = RingBuilder(args.part_power, args.replicas, args.min_part_hours)
    builder.save(args.builder)
    if args.json:
        print_json(
            {
                "builder": args.builder,
                "part_power": builder.part_power,
                "replicas": builder.replicas,
                "min_part_hours": builder.min_part_hours,
            }
        )
    else:
        print(
            f"created {args.builder}: 2**{builder.part_power} partitions, "
            f"{builder.replicas} replicas, min-part-hours {builder.min_part_hours:g}"
        )
    return 0


def run_add(args: argparse.Namespace) -> int:
    builder = _load(args)
    dev = builder.add_device(
        region=args.region,
        zone=args.zone,
        ip=args.ip,
        port=args.port,
        device=args.device,
        weight=args.weight,
        id=args.id,
        meta=args.meta,
    )
    builder.save(args.builder)
    if args.json:
        print_json(_device_fields(dev))
    else:
        print(
            f"added device {dev.id}: r{dev.region}z{dev.zone} {dev.server}/{dev.device} "
            f"weight {dev.weight:g} (placed on the next rebalance)"
        )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    builder = _load(args)
    dev = builder.remove_device(args.id)
    builder.save(args.builder)
    if args.json:
        print_json(_device_fields(dev))
    else:
        print(
            f"removed device {dev.id} ({dev.server}/{dev.device}); "
            "its replicas move on the next rebalance"
        )
    return 0


def run_set_weight(args: argparse.Namespace) -> int:
    builder = _load(args)
    dev = builder.set_weight(args.id, args.weight)
    builder.save(args.builder)
    if args.json:
        print_json(_device_fields(dev))
    else:
        print(f"device {dev.id} weight {dev.weight:g} (applied on the next rebalance)")
    return 0


def run_rebalance(args: argparse.Namespace) -> int:
    builder = _load(args)
    if args.bytes_used is not None:
        if args.bytes_used < 0:
            raise InvalidArgument("--bytes-used must be 0 or more")
        builder.bytes_used = args.bytes_used
    result = builder.rebalance(
        override_min_part_hours=args.override_min_part_hours, dry_run=args.dry_run
    )
    output = Path(args.output) if args.output else ring_path(args.builder)
    if not args.dry_run:
        builder.save(args.builder)
        builder.write_ring(output)
    if args.json:
        print_json(result.to_dict() | {"ring": None if args.dry_run else str(output)})
        return 0
    verb = "would move" if args.dry_run else "moved"
    size = (
        f"~{_size(result.moved_bytes)}"
        if builder.bytes_used
        else "pass --bytes-used for a size estimate"
    )
    print(
        f"{'dry run: ' if args.dry_run else ''}{verb} {result.moved_replicas} part-replicas "
        f"of {result.moved_parts} partitions ({size}) "
        f"in {result.seconds:.2f} s"
    )
    _print_report(result.report)
    unsettled = result.report["balance"] > 1.0 or result.report["dispersion"] > 0
    if unsettled and builder.min_part_hours > 0 and not args.override_min_part_hours:
        print(
            f"note: partitions that moved in the last {builder.min_part_hours:g} h (or in "
            "this rebalance) were left in place; rebalance again later, or pass "
            "--override-min-part-hours"
        )
    if result.relaxed:
        print(f"warning: {result.relaxed} replicas could not keep the dispersion rules")
    if not args.dry_run:
        print(f"wrote {output} (version {builder.version})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        with open(args.builder, "rb") as src:
            magic = src.read(len(RING_MAGIC))
    except OSError as exc:
        raise RingFileError(f"cannot read {args.builder}: {exc.strerror}") from None
    if magic not in (RING_MAGIC, BUILDER_MAGIC):
        raise RingFileError(
            f"{args.builder} is neither a Cumulo ring file nor a builder file",
            hint="ring files come from `cumulo ring rebalance`, builder files from `ring create`",
        )
    if magic == RING_MAGIC:
        ring = Ring(args.builder)
        devices = [d for d in ring.devices if d is not None]
        info = {
            "file": args.builder,
            "kind": "ring",
            "version": ring.version,
            "part_power": ring.part_power,
            "replicas": ring.replicas,
            "table_bytes": ring.table_bytes,
        }
        if args.json:
            print_json(info | {"devices": [d.to_dict() for d in devices]})
            return 0
        print_fields(info)
        print_table(
            [[d.id, d.region, d.zone, d.server, d.device, f"{d.weight:g}"] for d in devices],
            ["id", "region", "zone", "server", "device", "weight"],
        )
        return 0
    builder = _load(args)
    info = {
        "file": args.builder,
        "kind": "builder",
        "version": builder.version,
        "part_power": builder.part_power,
        "replicas": builder.replicas,
        "min_part_hours": builder.min_part_hours,
        "devices": len(builder.devices),
        "pending_removals": sorted(builder.removed),
    }
    report = builder.report() if builder.table is not None and builder.devices else None
    if args.json:
        print_json(
            info
            | {"report": report, "device_list": [d.to_dict() for d in builder.devices.values()]}
        )
        return 0
    print_fields(info)
    if report is None:
        print_table(
            [
                [d.id, d.region, d.zone, d.server, d.device, f"{d.weight:g}"]
                for d in builder.devices.values()
            ],
            ["id", "region", "zone", "server", "device", "weight"],
        )
        print("not rebalanced yet: run `cumulo ring rebalance`")
    else:
        _print_report(report)
    return 0


def _print_report(report: dict[str, Any]) -> None:
    print(
        f"balance {report['balance']:.2f}% (vs weight {report['weight_balance']:.2f}%), "
        f"dispersion {report['dispersion']:.2f}%"
    )
    print_table(
        [
            [
                r["id"],
                r["region"],
                r["zone"],
                r["server"],
                r["device"],
                f"{r['weight']:g}",
                r["parts"],
                r["target"],
                f"{r['balance']:+.2f}",
                f"{r['weight_balance']:+.2f}",
            ]
            for r in report["device_rows"]
        ],
        [
            "id",
            "region",
            "zone",
            "server",
            "device",
            "weight",
            "parts",
            "target",
            "balance%",
            "vs-weight%",
        ],
    )
    domains = [d for d in report["domains"] if d["tier"] != "server"]
    print_table(
        [
            [
                d["tier"],
                d["name"],
                f"{d['weight_pct']:.2f}",
                f"{d['target_pct']:.2f}",
                d["parts"],
                d["target"],
                d["max_replicas_per_part"],
            ]
            for d in domains
        ],
        ["domain", "name", "weight%", "replicas%", "parts", "target", "max/part"],
    )
    for note in report["notes"]:
        print(f"note: {note}")


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
