"""``cumulo storage ...``: the storage nodes' replicator, auditor and segment reaper.

``status`` shows each device's last replication and audit pass; ``replicate`` and
``audit`` run a pass now and wait for it; ``reap`` runs each node's segment reaper
now (docs/object-store.md, "Orphaned segments") and shows what it did.  Nodes are
``--node HOST:PORT`` (repeatable), else the local cloud's storage nodes; the storage
credential is ``--credential-file``, else the local cloud's (docs/replication.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cumulo import errors
from cumulo.cli.output import message_to_dict, print_json, print_table
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.services.storage_nodes import (
    StorageNodeAdmin,
    local_storage_credential,
    local_storage_nodes,
    read_credential,
)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    storage = commands.add_parser("storage", help="storage nodes: replication and auditing")
    sub = storage.add_subparsers(dest="storage_command", metavar="COMMAND")
    sub.required = True
    for verb, helptext, func in (
        ("status", "each device's last replication and audit pass", run_status),
        ("replicate", "run a replication pass now on every device and wait", run_replicate),
        ("audit", "run an audit pass now (not rate-limited) and wait", run_audit),
        ("reap", "delete orphaned large-object segments now and wait", run_reap),
    ):
        parser = sub.add_parser(verb, help=helptext)
        parser.add_argument(
            "--node",
            action="append",
            default=[],
            metavar="HOST:PORT",
            help="a storage node (repeatable; default: the local cloud's nodes)",
        )
        parser.add_argument(
            "--credential-file", type=Path, help="the cluster's storage credential file"
        )
        if verb in ("replicate", "audit"):
            parser.add_argument(
                "--device", action="append", default=[], help="only this device (repeatable)"
            )
        parser.set_defaults(func=func)


def _targets(args: argparse.Namespace) -> tuple[list[tuple[str, str]], str]:
    nodes = [(address, address) for address in args.node] or local_storage_nodes()
    if not nodes:
        raise errors.NotFound(
            "no storage nodes to ask",
            hint="pass --node HOST:PORT, or start a local cloud with `cumulo up`",
        )
    path = args.credential_file or local_storage_credential()
    if path is None:
        raise errors.NotFound(
            "no storage credential",
            hint="pass --credential-file (storage.credential_file on a storage node)",
        )
    return nodes, read_credential(Path(path))


def _ago(started: Any) -> str:
    if not started.seconds:
        return "-"
    seconds = max(0, int(time.time() - started.seconds))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def run_status(args: argparse.Namespace) -> int:
    nodes, credential = _targets(args)
    answers: list[tuple[str, rpb.GetReplicationStatusResponse]] = []
    for name, address in nodes:
        with StorageNodeAdmin(address, credential, timeout=args.timeout) as node:
            answers.append((name, node.status()))
    if args.json:
        print_json({"nodes": [{"node": n, **message_to_dict(a)} for n, a in answers]})
        return 0
    rows = []
    for name, answer in answers:
        for device in answer.devices:
            last = device.last_replication
            audit = device.last_audit
            rows.append(
                (
                    name,
                    device.device,
                    "running" if device.replicating else _ago(last.started_at),
                    f"{last.seconds:.2f}s" if device.HasField("last_replication") else "-",
                    last.partitions,
                    f"{last.objects_pushed}/{last.objects_pulled}",
                    last.errors,
                    "running" if device.auditing else _ago(audit.started_at),
                    audit.files,
                    audit.quarantined,
                )
            )
    print_table(
        rows,
        [
            "node",
            "device",
            "replicated",
            "took",
            "partitions",
            "pushed/pulled",
            "errors",
            "audited",
            "files",
            "quarantined",
        ],
    )
    if answers and not answers[0][1].replication_enabled:
        print("background replication is off (storage.replication_enabled = false)")
    return 0


def run_replicate(args: argparse.Namespace) -> int:
    nodes, credential = _targets(args)
    rows, dumped, errors_seen = [], [], 0
    for name, address in nodes:
        if not args.json:
            print(f"replicating {name} ...", flush=True)
        with StorageNodeAdmin(address, credential) as node:
            answer = node.replicate(args.device)
        dumped.append({"node": name, **message_to_dict(answer)})
        for one in answer.passes:
            errors_seen += one.errors + one.index.errors
            rows.append(
                (
                    name,
                    one.device,
                    f"{one.seconds:.2f}s",
                    one.partitions,
                    one.suffixes_synced,
                    f"{one.objects_pushed}/{one.objects_pulled}",
                    f"{one.index.rows_pushed}/{one.index.rows_pulled}",
                    one.handoffs_removed + one.index.handoffs_removed,
                    one.errors + one.index.errors,
                )
            )
    if args.json:
        print_json({"nodes": dumped})
    else:
        print_table(
            rows,
            [
                "node",
                "device",
                "took",
                "partitions",
                "suffixes synced",
                "objects pushed/pulled",
                "rows pushed/pulled",
                "handoffs removed",
                "errors",
            ],
        )
        if errors_seen:
            print("some peers failed; their partitions are retried at the next pass (see logs)")
    return 1 if errors_seen else 0


def run_audit(args: argparse.Namespace) -> int:
    nodes, credential = _targets(args)
    rows, dumped, quarantined = [], [], 0
    for name, address in nodes:
        if not args.json:
            print(f"auditing {name} ...", flush=True)
        with StorageNodeAdmin(address, credential) as node:
            answer = node.audit(args.device)
        dumped.append({"node": name, **message_to_dict(answer)})
        for one in answer.passes:
            quarantined += one.quarantined
            rows.append(
                (name, one.device, f"{one.seconds:.2f}s", one.files, one.bytes, one.quarantined)
            )
    if args.json:
        print_json({"nodes": dumped})
    else:
        print_table(rows, ["node", "device", "took", "files", "bytes", "quarantined"])
        if quarantined:
            print(f"{quarantined} damaged copies quarantined; replication restores them")
    return 0


def run_reap(args: argparse.Namespace) -> int:
    nodes, credential = _targets(args)
    rows, dumped, failures = [], [], 0
    for name, address in nodes:
        if not args.json:
            print(f"reaping segments on {name} ...", flush=True)
        with StorageNodeAdmin(address, credential) as node:
            done = node.reap_segments().reap
        dumped.append({"node": name, **message_to_dict(done)})
        failures += done.errors
        rows.append(
            (
                name,
                f"{done.seconds:.2f}s",
                done.segments_examined,
                done.groups_examined,
                done.groups_too_young,
                done.groups_referenced,
                done.groups_unmarked + done.groups_unverified,
                done.segments_deleted,
                done.bytes_freed,
                done.errors,
            )
        )
    if args.json:
        print_json({"nodes": dumped})
    else:
        print_table(
            rows,
            [
                "node",
                "took",
                "segments",
                "groups",
                "too young",
                "referenced",
                "kept unsure",
                "deleted",
                "bytes freed",
                "errors",
            ],
        )
        if failures:
            print("some checks or deletes failed; they are retried at the next pass (see logs)")
    return 1 if failures else 0
