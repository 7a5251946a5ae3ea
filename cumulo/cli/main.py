"""``cumulo``: the command-line tool.

Each command group lives in its own module with ``register(subparsers)``; the
modules are listed in :data:`COMMAND_MODULES`.  A command function takes the
parsed arguments and returns an exit code.  Errors from the SDK print as one
line, ``cumulo: error: <what happened> (<what to do>)``, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cumulo import errors

COMMAND_MODULES = [
    "cumulo.cli.cloud",  # up, down
    "cumulo.cli.info",  # info, version
    "cumulo.cli.node",  # node enroll|list|show|disable|enable|drain|revoke
    "cumulo.cli.ring",  # ring create|add|remove|set-weight|rebalance|show
    "cumulo.cli.identity",  # login, logout, whoami, token, project, user, role, appcred
    "cumulo.cli.quota",  # quota, usage
    "cumulo.cli.bench",  # bench objects
    "cumulo.cli.tls",  # tls init|issue
    "cumulo.cli.objects",  # container ..., object put|get|head|list|delete|copy
    "cumulo.cli.storage",  # storage status|replicate|audit
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cumulo", description="Cumulo: an IaaS cloud over gRPC.")
    parser.add_argument(
        "--endpoint", help="controller HOST:PORT (default: the local cloud, or $CUMULO_ENDPOINT)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per call")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except errors.CumuloError as exc:
        print(f"cumulo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cumulo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
