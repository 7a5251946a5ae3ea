"""``cumulo tls init|issue``: a CA and per-node certificates for a multi-node cloud.

Offline, like ``cumulo ring``: files are written into ``--dir`` and copied to the
nodes by the operator (docs/tls.md).  Nothing is ever overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cumulo.cli.output import print_fields, print_json


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tls = commands.add_parser("tls", help="make the cloud's CA and node certificates (TLS)")
    actions = tls.add_subparsers(dest="tls_command", metavar="ACTION")
    actions.required = True
    init = actions.add_parser("init", help="create the cloud's CA (ca.pem, ca.key) in --dir")
    init.add_argument("--dir", type=Path, required=True, help="directory for the CA files")
    init.add_argument("--name", default="Cumulo CA", help="the CA's common name")
    init.set_defaults(func=run_init)
    issue = actions.add_parser(
        "issue", help="issue a node certificate (<name>.pem, <name>.key) signed by the CA"
    )
    issue.add_argument("--dir", type=Path, required=True, help="directory holding the CA")
    issue.add_argument("--name", required=True, help="the node's name (file stem, common name)")
    issue.add_argument(
        "--ip", action="append", default=[], help="an IP clients dial the node by (repeatable)"
    )
    issue.add_argument(
        "--dns", action="append", default=[], help="a DNS name of the node (repeatable)"
    )
    issue.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    issue.set_defaults(func=run_issue)


def run_init(args: argparse.Namespace) -> int:
    from cumulo.certs import create_ca

    files = create_ca(args.dir, args.name)
    result = {"ca_file": str(files.cert), "ca_key": str(files.key)}
    if args.json:
        print_json(result)
        return 0
    print_fields(result)
    print(
        f"Keep {files.key} off the nodes (it signs certificates); copy {files.cert} to "
        "every node and client (tls.ca_file, CUMULO_TLS_CA_FILE)."
    )
    return 0


def run_issue(args: argparse.Namespace) -> int:
    from cumulo.certs import ca_files, issue

    files = issue(args.dir, args.name, ips=args.ip, dns=args.dns, days=args.days)
    ca = ca_files(args.dir).cert
    result = {"cert_file": str(files.cert), "key_file": str(files.key), "ca_file": str(ca)}
    if args.json:
        print_json(result)
        return 0
    print_fields(result)
    print("\nOn that node, in its config file:\n")
    print("[tls]")
    print(f'cert_file = "{files.cert}"')
    print(f'key_file = "{files.key}"')
    print(f'ca_file = "{ca}"')
    print("client_auth = true   # object servers only")
    return 0
