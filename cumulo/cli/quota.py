"""``cumulo quota show|set`` and ``cumulo usage``."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC

from cumulo import errors
from cumulo.cli.identity import parse_time
from cumulo.cli.output import message_to_dict, print_json, print_table
from cumulo.client import Client, connect
from cumulo.quota.v1 import quota_pb2 as pb


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    quota = commands.add_parser("quota", help="project quotas: limits and what is in use")
    sub = quota.add_subparsers(dest="quota_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="a project's limits and usage (default: yours)")
    show.add_argument("--project", default="", help="project name or id (cloud admin)")
    show.set_defaults(func=run_quota_show)
    change = sub.add_parser("set", help="change a project's limits (cloud admin)")
    change.add_argument("--project", required=True, help="project name or id")
    change.add_argument("limits", nargs="*", metavar="RESOURCE=N", help="-1 means unlimited")
    change.add_argument("--reset", action="append", default=[], metavar="RESOURCE")
    change.set_defaults(func=run_quota_set)

    usage = commands.add_parser("usage", help="a project's usage records over a time range")
    usage.add_argument("--project", default="", help="project name or id (default: yours)")
    usage.add_argument("--since", help="start (ISO 8601, inclusive)")
    usage.add_argument("--until", help="end (ISO 8601, exclusive; default now)")
    usage.add_argument("--resource", action="append", default=[], help="only this (repeatable)")
    usage.add_argument("--csv", action="store_true", help="every record as CSV on stdout")
    usage.set_defaults(func=run_usage)


def _project_id(client: Client, name_or_id: str) -> str:
    return client.identity.find_project(name_or_id).meta.id if name_or_id else ""


def _print_items(reply: pb.GetQuotaResponse | pb.SetQuotaResponse, as_json: bool) -> None:
    if as_json:
        print_json(reply)
        return
    print(f"project {reply.project_id}")
    print_table(
        [
            [
                i.resource,
                "unlimited" if i.limit < 0 else i.limit,
                i.in_use,
                "default" if i.is_default else "set",
            ]
            for i in reply.items
        ],
        ["resource", "limit", "in use", "source"],
    )


def run_quota_show(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        reply = client.quota.get_quota(_project_id(client, args.project))
    _print_items(reply, args.json)
    return 0


def run_quota_set(args: argparse.Namespace) -> int:
    limits = {}
    for item in args.limits:
        resource, sep, value = item.partition("=")
        try:
            limits[resource] = int(value)
        except ValueError:
            sep = ""
        if not sep:
            raise errors.InvalidArgument(
                f"{item!r} is not RESOURCE=N", hint="e.g. instances=20 cores=-1"
            )
    with connect(args.endpoint, timeout=args.timeout) as client:
        reply = client.quota.set_quota(_project_id(client, args.project), limits, args.reset)
    _print_items(reply, args.json)
    return 0


def run_usage(args: argparse.Namespace) -> int:
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    with connect(args.endpoint, timeout=args.timeout) as client:
        project_id = _project_id(client, args.project)
        if args.csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(["project_id", "resource", "amount", "at"])
            for record in client.quota.iter_usage_records(
                project_id, since=since, until=until, resources=args.resource
            ):
                writer.writerow(
                    [
                        record.project_id,
                        record.resource,
                        record.amount,
                        record.at.ToDatetime(tzinfo=UTC).isoformat(),
                    ]
                )
            return 0
        reply = client.quota.get_usage(
            project_id, since=since, until=until, resources=args.resource, page_size=1
        )
    if args.json:
        body = message_to_dict(reply)
        body.pop("records", None)
        body.pop("page", None)
        print_json(body)
        return 0
    print(f"project {reply.project_id}")
    print_table(
        [[t.resource, t.sum, t.max, t.records] for t in reply.totals],
        ["resource", "sum", "max", "records"],
    )
    return 0
