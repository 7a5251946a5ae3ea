"""``cumulo object put-many`` and ``cumulo object get-many``: many files at once.

Files of at most 1 MiB travel pipelined over one ``ObjectSession`` stream
(``ObjectsClient.put_many`` / ``get_many``); bigger ones fall back to the
PutObject / GetObject streams, one after the other, so any file works.  A failure
of one object is reported on stderr and the others go on; the command exits 1 if
any failed.  Progress (objects done of all) shows on stderr when it is a terminal
(``--progress`` / ``--no-progress``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cumulo import errors
from cumulo.cli.output import print_json
from cumulo.client import Client, connect
from cumulo.services.objects import SMALL_OBJECT_LIMIT


class CountBar:
    """A one-line count on stderr: ``label done/total objects``."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.last = 0.0

    def __call__(self, done: int, _: int | None = None) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        sys.stderr.write(f"\r{self.label} {done}/{self.total} objects")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _bar(args: argparse.Namespace, label: str, total: int) -> CountBar | None:
    wanted = args.progress
    if wanted is None:
        wanted = sys.stderr.isatty() and total > 1
    return CountBar(label, total) if wanted else None


def _client(args: argparse.Namespace) -> Client:
    return connect(args.endpoint, timeout=args.timeout, object_endpoint=args.object_endpoint)


def files_to_upload(paths: list[str], prefix: str) -> list[tuple[str, Path]]:
    """(object name, file) for every file given or found under a directory given.

    The name is ``prefix`` + the path as given (``./`` and repeated ``/`` dropped),
    with ``/`` between directories on every platform."""
    found: list[tuple[str, Path]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, _, names in sorted(os.walk(path)):
                for name in sorted(names):
                    found.append(_named(prefix, Path(root) / name))
        elif path.is_file():
            found.append(_named(prefix, path))
        else:
            raise errors.NotFound(f"no file or directory {given}", hint="check the path")
    return found


def _named(prefix: str, path: Path) -> tuple[str, Path]:
    parts = [part for part in path.as_posix().split("/") if part not in ("", ".")]
    return prefix + "/".join(parts), path


def run_put_many(args: argparse.Namespace) -> int:
    files = files_to_upload(args.paths, args.prefix)
    small = [(name, path) for name, path in files if path.stat().st_size <= SMALL_OBJECT_LIMIT]
    big = [(name, path) for name, path in files if path.stat().st_size > SMALL_OBJECT_LIMIT]
    bar = _bar(args, "put-many", len(files))
    started = time.monotonic()
    stored: list[dict[str, Any]] = []
    failed: list[tuple[str, errors.CumuloError]] = []

    def items() -> Iterator[tuple[str, bytes]]:
        for name, path in small:
            yield name, path.read_bytes()

    with _client(args) as client:
        for outcome in client.objects.put_many(
            args.container,
            items(),
            content_type=args.content_type,
            window=args.window,
            progress=(lambda done, _: bar(done)) if bar is not None else None,
        ):
            _record(outcome.key, outcome.value, outcome.error, stored, failed)
        for name, path in big:
            try:
                info = client.objects.put_object(
                    args.container, name, path, content_type=args.content_type
                )
            except errors.CumuloError as exc:
                _record(name, None, exc, stored, failed)
            else:
                _record(name, info, None, stored, failed)
            if bar is not None:
                bar(len(stored) + len(failed))
    return _report(args, "stored", stored, failed, time.monotonic() - started)


def run_get_many(args: argparse.Namespace) -> int:
    target = Path(args.output_dir)
    target.mkdir(parents=True, exist_ok=True)
    bar = _bar(args, "get-many", len(args.names))
    started = time.monotonic()
    written: list[dict[str, Any]] = []
    failed: list[tuple[str, errors.CumuloError]] = []
    with _client(args) as client:
        too_large: list[str] = []
        for outcome in client.objects.get_many(args.container, args.names, window=args.window):
            error = outcome.error
            if isinstance(error, errors.Conflict) and error.reason == "OBJECT_TOO_LARGE":
                too_large.append(outcome.key)
                continue
            if outcome.value is not None:
                _save(target, outcome.key, [outcome.value.data], written, failed)
            else:
                failed.append((outcome.key, error))  # type: ignore[arg-type]
            if bar is not None:
                bar(len(written) + len(failed))
        for name in too_large:  # bigger than a session carries: stream them
            try:
                download = client.objects.get_object(args.container, name)
            except errors.CumuloError as exc:
                failed.append((name, exc))
            else:
                _save(target, name, download.chunks, written, failed)
            if bar is not None:
                bar(len(written) + len(failed))
    return _report(args, "wrote", written, failed, time.monotonic() - started)


def _save(
    target: Path,
    name: str,
    chunks: Any,
    written: list[dict[str, Any]],
    failed: list[tuple[str, errors.CumuloError]],
) -> None:
    try:
        path = _write(target, name, chunks)
    except errors.CumuloError as exc:
        failed.append((name, exc))
    else:
        written.append({"name": name, "file": str(path), "bytes": path.stat().st_size})


def _write(target: Path, name: str, chunks: Any) -> Path:
    """Write ``chunks`` to ``target``/``name`` via a ``.partial`` file; refuse a name
    that would land outside ``target``."""
    path = (target / name.lstrip("/")).resolve()
    if not path.is_relative_to(target.resolve()) or path == target.resolve():
        raise errors.InvalidArgument(
            f"object {name!r} would be written outside {target}", field="names"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _record(
    name: str,
    info: Any,
    error: Exception | None,
    done: list[dict[str, Any]],
    failed: list[tuple[str, errors.CumuloError]],
) -> None:
    if error is None:
        done.append({"name": name, "bytes": int(info.size), "etag": info.etag})
    else:
        failed.append((name, error))  # type: ignore[arg-type]


def _report(
    args: argparse.Namespace,
    verb: str,
    done: list[dict[str, Any]],
    failed: list[tuple[str, errors.CumuloError]],
    seconds: float,
) -> int:
    if getattr(args, "json", False):
        print_json(
            {
                "done": done,
                "failed": [
                    {"name": name, "error": str(error), "reason": error.reason}
                    for name, error in failed
                ],
                "seconds": round(seconds, 3),
            }
        )
    else:
        for name, error in failed:
            print(f"{name}: {error}", file=sys.stderr)
        total = sum(item["bytes"] for item in done)
        print(
            f"{verb} {len(done)} objects ({total} bytes) in {seconds:.1f} s"
            + (f"; {len(failed)} failed" if failed else "")
        )
    return 1 if failed else 0
