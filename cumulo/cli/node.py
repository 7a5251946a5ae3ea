"""``cumulo node ...``: enroll nodes, list them with their liveness, take them out of service."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from cumulo.cli.output import message_to_dict, print_fields, print_json, print_table
from cumulo.client import connect
from cumulo.node.v1 import node_pb2


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    node = commands.add_parser("node", help="enrolled nodes (hosts running an agent)")
    sub = node.add_subparsers(dest="node_command", metavar="COMMAND")
    sub.required = True

    enroll = sub.add_parser("enroll", help="enroll a node and print its credential (once)")
    enroll.add_argument("name", help="node name")
    enroll.add_argument("--rotate", action="store_true", help="re-key an enrolled node")
    enroll.add_argument(
        "--credential-file", type=Path, help="write the credential here (mode 0600) too"
    )
    enroll.set_defaults(func=run_enroll)

    listing = sub.add_parser("list", help="list nodes with state and capacity")
    listing.set_defaults(func=run_list)

    show = sub.add_parser("show", help="show one node in detail")
    show.add_argument("node", help="node id or name")
    show.set_defaults(func=run_show)

    for verb, helptext in (
        ("disable", "keep the node out of scheduling"),
        ("enable", "put the node back into scheduling (ends a drain)"),
        ("drain", "disable the node and tell its agent to move work away"),
        ("revoke", "revoke the node's credential and disconnect its agent"),
    ):
        parser = sub.add_parser(verb, help=helptext)
        parser.add_argument("node", help="node id or name")
        if verb in ("disable", "drain"):
            parser.add_argument("--reason", default="", help="why (shown in node show)")
        parser.set_defaults(func=run_change, verb=verb)


def state_name(node: node_pb2.Node) -> str:
    return node_pb2.NodeState.Name(node.state).removeprefix("NODE_STATE_").lower()


def admin_name(node: node_pb2.Node) -> str:
    name = node_pb2.AdminState.Name(node.admin_state).removeprefix("ADMIN_STATE_").lower()
    return "draining" if node.draining else name


def _ago(node: node_pb2.Node) -> str:
    if not node.HasField("last_seen"):
        return "never"
    seconds = (datetime.now(UTC) - node.last_seen.ToDatetime(tzinfo=UTC)).total_seconds()
    return f"{max(0, seconds):.0f}s ago"


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB" if value else "-"


def run_enroll(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        response = client.nodes.enroll(args.name, rotate=args.rotate)
    if args.credential_file:
        path: Path = args.credential_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(response.credential + "\n")
    if args.json:
        print_json(response)
        return 0
    print(f"Enrolled node {response.node.name} ({response.node.id}).")
    print("Its credential (shown only now; put it in the agent's credential_file):")
    print(response.credential)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        nodes = list(client.nodes.list())
    if args.json:
        print_json({"nodes": [message_to_dict(n) for n in nodes]})
        return 0
    rows = [
        (
            n.name,
            n.id,
            state_name(n),
            admin_name(n),
            _ago(n),
            f"{n.applied_revision}/{n.desired_revision}",
            n.inventory.vcpus or "-",
            _gib(n.inventory.memory_bytes),
            "yes" if n.inventory.kvm_usable else "no",
        )
        for n in nodes
    ]
    print_table(
        rows, ["name", "id", "state", "admin", "last seen", "revision", "vcpus", "memory", "kvm"]
    )
    return 0


def _print_node(node: node_pb2.Node) -> None:
    inventory = node.inventory
    fields: dict[str, object] = {
        "name": node.name,
        "id": node.id,
        "state": state_name(node),
        "admin": admin_name(node),
        "reason": node.disabled_reason or "-",
        "last seen": _ago(node),
        "revision": f"applied {node.applied_revision}, desired {node.desired_revision}",
        "agent": node.agent_version or "-",
        "controller": node.controller_instance or "(not connected)",
        "credential": "revoked" if node.credential_revoked else "valid",
        "host": {
            "hostname": inventory.hostname or "-",
            "vcpus": inventory.vcpus,
            "memory": _gib(inventory.memory_bytes),
            "disk": f"{_gib(inventory.disk_free_bytes)} free of {_gib(inventory.disk_bytes)}",
            "cpu": inventory.cpu_model or "-",
            "kvm": f"{'yes' if inventory.kvm_usable else 'no'} ({inventory.kvm_reason or '-'})",
            "hypervisor": inventory.hypervisor
            if inventory.hypervisor_available
            else f"unavailable ({inventory.hypervisor_reason or '-'})",
        },
    }
    if node.resources:
        fields["resources"] = {
            f"{r.kind}/{r.name}": r.state + (f" ({r.message})" if r.message else "")
            for r in node.resources
        }
    print_fields(fields)


def run_show(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        node = client.nodes.get(args.node)
    if args.json:
        print_json(node)
        return 0
    _print_node(node)
    return 0


def run_change(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        if args.verb == "disable":
            node = client.nodes.disable(args.node, args.reason)
        elif args.verb == "enable":
            node = client.nodes.enable(args.node)
        elif args.verb == "drain":
            node = client.nodes.drain(args.node, args.reason)
        else:
            node = client.nodes.revoke(args.node)
    if args.json:
        print_json(node)
        return 0
    done = {"disable": "disabled", "enable": "enabled", "drain": "drained", "revoke": "revoked"}
    print(f"Node {node.name} {done[args.verb]}.")
    return 0
