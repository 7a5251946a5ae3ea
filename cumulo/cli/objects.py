"""``cumulo container ...`` and ``cumulo object ...``: the object store from the shell.

The commands talk to the object proxy (``--object-endpoint``, ``$CUMULO_OBJECT_ENDPOINT``
or the local cloud's ``object-proxy``) with the same login as every other command.
Transfers larger than :data:`PROGRESS_THRESHOLD` show a progress bar on stderr when
it is a terminal (``--progress`` forces it, ``--no-progress`` hides it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from cumulo import errors
from cumulo.cli.object_batches import run_get_many, run_put_many
from cumulo.cli.output import message_to_dict, print_fields, print_json, print_table
from cumulo.client import Client, connect

PROGRESS_THRESHOLD = 4 << 20


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    container = commands.add_parser("container", help="object-store containers")
    csub = container.add_subparsers(dest="container_command", metavar="ACTION", required=True)

    def ccmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        parser = csub.add_parser(name, help=help, description=help)
        _common(parser)
        parser.set_defaults(func=func)
        return parser

    create = ccmd("create", "create a container", run_container_create)
    create.add_argument("name")
    create.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("--exist-ok", action="store_true", help="no error if it exists")
    listing = ccmd("list", "list your containers", run_container_list)
    listing.add_argument("--prefix", default="")
    listing.add_argument("--limit", type=int, default=0)
    show = ccmd("show", "a container's metadata and statistics", run_container_show)
    show.add_argument("name")
    change = ccmd("set", "change a container's metadata (KEY= removes KEY)", run_container_set)
    change.add_argument("name")
    change.add_argument("meta", nargs="+", metavar="KEY=VALUE")
    change.add_argument("--replace", action="store_true", help="replace all metadata")
    delete = ccmd("delete", "delete an empty container", run_container_delete)
    delete.add_argument("name")
    account = ccmd("account", "your account: containers, objects, bytes", run_account)
    del account

    obj = commands.add_parser("object", help="objects in containers")
    osub = obj.add_subparsers(dest="object_command", metavar="ACTION", required=True)

    def ocmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        parser = osub.add_parser(name, help=help, description=help)
        _common(parser)
        parser.set_defaults(func=func)
        return parser

    put = ocmd("put", "upload a file (or stdin with -)", run_object_put)
    put.add_argument("container")
    put.add_argument("name")
    put.add_argument("file", nargs="?", help="file to upload (default: NAME; - for stdin)")
    put.add_argument("--content-type", default="")
    put.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    put.add_argument("--sha256", action="store_true", help="also store the SHA-256")
    _progress_flags(put)
    get = ocmd("get", "download an object", run_object_get)
    get.add_argument("container")
    get.add_argument("name")
    get.add_argument("-o", "--output", help="file to write (default: NAME's last part; - stdout)")
    get.add_argument("--range", help="bytes START-END (END exclusive, may be empty)")
    _progress_flags(get)
    head = ocmd("head", "an object's metadata", run_object_head)
    head.add_argument("container")
    head.add_argument("name")
    listing = ocmd("list", "list a container's objects", run_object_list)
    listing.add_argument("container")
    listing.add_argument("--prefix", default="")
    listing.add_argument("--delimiter", default="")
    listing.add_argument("--marker", default="")
    listing.add_argument("--limit", type=int, default=0)
    delete = ocmd("delete", "delete an object", run_object_delete)
    delete.add_argument("container")
    delete.add_argument("name")
    put_many = ocmd(
        "put-many", "upload many files (pipelined; directories recursively)", run_put_many
    )
    put_many.add_argument("container")
    put_many.add_argument("paths", nargs="+", metavar="PATH", help="files and directories")
    put_many.add_argument("--prefix", default="", help="put before every object name")
    put_many.add_argument("--content-type", default="")
    put_many.add_argument(
        "--window", type=int, default=64, help="objects in progress at most (default: 64)"
    )
    _progress_flags(put_many)
    get_many = ocmd("get-many", "download many objects (pipelined)", run_get_many)
    get_many.add_argument("container")
    get_many.add_argument("names", nargs="+", metavar="NAME")
    get_many.add_argument(
        "-o", "--output-dir", default=".", help="directory to write them to (default: .)"
    )
    get_many.add_argument(
        "--window", type=int, default=64, help="objects in progress at most (default: 64)"
    )
    _progress_flags(get_many)
    copy = ocmd("copy", "copy an object server-side", run_object_copy)
    copy.add_argument("container")
    copy.add_argument("name")
    copy.add_argument("destination_container")
    copy.add_argument("destination_name")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--object-endpoint", help="object proxy HOST:PORT")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON")


def _progress_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_true", default=None, help="show progress")
    group.add_argument("--no-progress", dest="progress", action="store_false")


def _client(args: argparse.Namespace) -> Client:
    return connect(args.endpoint, timeout=args.timeout, object_endpoint=args.object_endpoint)


def _pairs(items: list[str], allow_empty: bool = True) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or (not value and not allow_empty):
            raise errors.InvalidArgument(f"{item!r} is not KEY=VALUE")
        out[key] = value
    return out


class ProgressBar:
    """A one-line bar on stderr: percent, bytes and rate."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and (total is None or done < total):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6) / (1 << 20)
        if total:
            filled = int(30 * done / total)
            bar = "#" * filled + "-" * (30 - filled)
            line = f"{self.label} [{bar}] {100 * done // total:3d}% {done >> 20}/{total >> 20} MiB"
        else:
            line = f"{self.label} {done >> 20} MiB"
        sys.stderr.write(f"\r{line} {rate:.1f} MiB/s")
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(args: argparse.Namespace, label: str, size: int | None) -> ProgressBar | None:
    wanted = args.progress
    if wanted is None:
        wanted = sys.stderr.isatty() and (size is None or size > PROGRESS_THRESHOLD)
    return ProgressBar(label) if wanted else None


def _container_row(c: Any) -> list[Any]:
    return [c.name, c.object_count, c.bytes_used, c.index_shards]


def run_container_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        created = client.objects.create_container(
            args.name, _pairs(args.meta), exist_ok=args.exist_ok
        )
    if getattr(args, "json", False):
        print_json(created)
    else:
        print(f"created container {created.name}")
    return 0


def run_container_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = list(client.objects.list_containers(prefix=args.prefix, limit=args.limit))
    if getattr(args, "json", False):
        print_json([message_to_dict(c) for c in found])
    else:
        print_table([_container_row(c) for c in found], ["name", "objects", "bytes", "shards"])
    return 0


def _print_container(container: Any, as_json: bool) -> None:
    if as_json:
        print_json(container)
        return
    print_fields(
        {
            "name": container.name,
            "objects": container.object_count,
            "bytes": container.bytes_used,
            "index shards": container.index_shards,
            "created": container.created_at.ToDatetime().isoformat(timespec="seconds"),
            "metadata": dict(container.metadata) or "-",
        }
    )


def run_container_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_container(client.objects.get_container(args.name), getattr(args, "json", False))
    return 0


def run_container_set(args: argparse.Namespace) -> int:
    with _client(args) as client:
        changed = client.objects.update_container_metadata(
            args.name, _pairs(args.meta), replace=args.replace
        )
    _print_container(changed, getattr(args, "json", False))
    return 0


def run_container_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.objects.delete_container(args.name)
    if not getattr(args, "json", False):
        print(f"deleted container {args.name}")
    else:
        print_json({"deleted": args.name})
    return 0


def run_account(args: argparse.Namespace) -> int:
    with _client(args) as client:
        account = client.objects.get_account()
    if getattr(args, "json", False):
        print_json(account)
    else:
        print_fields(
            {
                "account": account.name,
                "containers": account.container_count,
                "objects": account.object_count,
                "bytes": account.bytes_used,
            }
        )
    return 0


def _print_object(info: Any, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    print_fields(
        {
            "container": info.container,
            "name": info.name,
            "size": info.size,
            "etag": info.etag,
            "sha256": info.sha256 or "-",
            "content type": info.content_type or "-",
            "modified": info.modified_at.ToDatetime().isoformat(timespec="seconds"),
            "metadata": dict(info.metadata) or "-",
        }
    )


def run_object_put(args: argparse.Namespace) -> int:
    source = args.file or args.name
    body: Any
    size: int | None
    if source == "-":
        body, size = sys.stdin.buffer, None
    else:
        path = Path(source)
        if not path.is_file():
            raise errors.NotFound(f"no file {path}", hint="give the file to upload as FILE")
        body, size = path, path.stat().st_size
    with _client(args) as client:
        info = client.objects.put_object(
            args.container,
            args.name,
            body,
            content_type=args.content_type,
            metadata=_pairs(args.meta),
            compute_sha256=args.sha256,
            progress=_progress(args, f"put {args.name}", size),
        )
    if getattr(args, "json", False):
        print_json(info)
    else:
        print(f"stored {args.container}/{info.name}: {info.size} bytes, etag {info.etag}")
    return 0


def _range(text: str | None) -> tuple[int, int | None] | None:
    if not text:
        return None
    start, sep, end = text.partition("-")
    if not sep or not start.isdigit() or (end and not end.isdigit()):
        raise errors.InvalidArgument(f"--range {text!r} is not START-END", field="range")
    return int(start), int(end) if end else None


def run_object_get(args: argparse.Namespace) -> int:
    output = args.output or args.name.rstrip("/").rsplit("/", 1)[-1]
    with _client(args) as client:
        download = client.objects.get_object(args.container, args.name, range=_range(args.range))
        size = download.header.end - download.header.start
        progress = _progress(args, f"get {args.name}", size)
        done = 0
        if output == "-":
            for chunk in download.chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        partial = Path(f"{output}.partial")
        try:
            with open(partial, "wb") as handle:
                for chunk in download.chunks:
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, size)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    if getattr(args, "json", False):
        print_json({"object": message_to_dict(download.info), "file": output, "bytes": done})
    else:
        print(f"wrote {done} bytes to {output}")
    return 0


def run_object_head(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_object(
            client.objects.head_object(args.container, args.name), getattr(args, "json", False)
        )
    return 0


def run_object_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        entries = list(
            client.objects.list_objects(
                args.container,
                prefix=args.prefix,
                delimiter=args.delimiter,
                marker=args.marker,
                limit=args.limit,
            )
        )
    if getattr(args, "json", False):
        print_json([{"prefix": e} if isinstance(e, str) else message_to_dict(e) for e in entries])
        return 0
    rows = []
    for entry in entries:
        if isinstance(entry, str):
            rows.append([entry, "-", "-", "-"])
        else:
            when = entry.modified_at.ToDatetime().isoformat(timespec="seconds")
            rows.append([entry.name, str(entry.size), entry.etag, when])
    print_table(rows, ["name", "size", "etag", "modified"])
    return 0


def run_object_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.objects.delete_object(args.container, args.name)
    if getattr(args, "json", False):
        print_json({"deleted": f"{args.container}/{args.name}"})
    else:
        print(f"deleted {args.container}/{args.name}")
    return 0


def run_object_copy(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.objects.copy_object(
            args.container, args.name, args.destination_container, args.destination_name
        )
    _print_object(info, getattr(args, "json", False))
    return 0
