"""``cumulo info`` and ``cumulo version``: what the controller is and runs on."""

from __future__ import annotations

import argparse

from cumulo.cli.output import message_to_dict, print_fields, print_json
from cumulo.client import connect


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    info = commands.add_parser("info", help="show the controller's versions and runtime facts")
    info.add_argument(
        "--section",
        action="append",
        default=[],
        help="only this section (database, native, runtime); repeatable",
    )
    info.set_defaults(func=run_info)
    version = commands.add_parser("version", help="show versions of the controller's software")
    version.set_defaults(func=run_version)


def run_info(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        version = client.system.get_version()
        info = client.system.get_info(args.section)
    if args.json:
        print_json(
            {
                "endpoint": client.endpoint,
                "version": message_to_dict(version),
                "info": message_to_dict(info),
            }
        )
        return 0
    fields: dict[str, object] = {
        "endpoint": client.endpoint,
        "version": version.version,
        "api": ", ".join(version.api_packages),
    }
    if info.HasField("native"):
        fields["BACKEND"] = info.native.backend
        for module, reason in sorted(info.native.fallbacks.items()):
            fields[f"fallback {module}"] = reason
    if info.HasField("database"):
        db = info.database
        fields["database"] = f"{db.kind} {db.server_version} (schema v{db.schema_version}) {db.url}"
    if info.HasField("runtime"):
        rt = info.runtime
        uptime = rt.uptime.ToTimedelta()
        fields["host"] = f"{rt.hostname} pid {rt.pid}"
        fields["uptime"] = str(uptime).split(".")[0]
        fields["instance"] = rt.instance_id
        fields["data dir"] = rt.data_dir
    fields["components"] = dict(sorted(version.components.items()))
    print_fields(fields)
    return 0


def run_version(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        version = client.system.get_version()
    if args.json:
        print_json(version)
        return 0
    print_fields({"version": version.version, **dict(sorted(version.components.items()))})
    return 0
