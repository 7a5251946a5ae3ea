"""Generate the key table of docs/configuration.md from cumulo/config.py (or check it).

Every configuration field is documented once, by the ``#:`` comment above it in
``cumulo/config.py``; this script renders those comments, the field types and the
defaults into the table between ``<!-- keys:begin -->`` and ``<!-- keys:end -->``.
``--check`` exits 1 when the table is stale (``make verify`` and a unit test run it).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_SOURCE = ROOT / "cumulo" / "config.py"
DOC = ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"
_FIELD = re.compile(r"^\s+(\w+)\s*:\s*[^=]+(=.*)?$")
_CLASS = re.compile(r"^class (\w+)")


def field_comments(source: str) -> dict[tuple[str, str], str]:
    """``(class name, field name) -> text of the #: comment lines above the field``."""
    comments: dict[tuple[str, str], str] = {}
    current_class = ""
    pending: list[str] = []
    for line in source.splitlines():
        if match := _CLASS.match(line):
            current_class, pending = match.group(1), []
            continue
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        if (match := _FIELD.match(line)) and current_class and pending:
            comments[(current_class, match.group(1))] = " ".join(pending)
        if stripped and not stripped.startswith("#"):
            pending = []
    return comments


def _type_name(kind: Any) -> str:
    text = getattr(kind, "__name__", None) or str(kind)
    if typing.get_origin(kind) is list:
        text = f"list of {typing.get_args(kind)[0].__name__}"
    return text.replace("Path", "path").replace("str", "string").replace("bool", "bool")


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "" or value == []:
        return "empty"
    if isinstance(value, list):
        return ", ".join(f"`{item}`" for item in value)
    return f"`{value}`"


def render() -> str:
    from cumulo.config import Config

    comments = field_comments(CONFIG_SOURCE.read_text())
    config = Config()
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    top_hints = typing.get_type_hints(Config)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not dataclasses.is_dataclass(value):
            meaning = comments.get(("Config", field.name), "")
            default = "see meaning" if field.name == "data_dir" else _default(value)
            rows.append(
                f"| `{field.name}` | {_type_name(top_hints[field.name])} | {default} | {meaning} |"
            )
            continue
        hints = typing.get_type_hints(type(value))
        for item in dataclasses.fields(value):
            meaning = comments.get((type(value).__name__, item.name), "")
            rows.append(
                f"| `{field.name}.{item.name}` | {_type_name(hints[item.name])} "
                f"| {_default(getattr(value, item.name))} | {meaning} |"
            )
    return "\n".join(rows)


def undocumented() -> list[str]:
    """Keys whose field has no ``#:`` comment."""
    return [line.split("`")[1] for line in render().splitlines()[2:] if line.endswith("|  |")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the table is stale")
    options = parser.parse_args()
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    table = "\n" + render() + "\n"
    missing = undocumented()
    if missing:
        print(f"config keys without a #: comment in cumulo/config.py: {missing}", file=sys.stderr)
        return 1
    if text[start:end] == table:
        return 0
    if options.check:
        print("docs/configuration.md key table is stale; run `make docs`", file=sys.stderr)
        return 1
    DOC.write_text(text[:start] + table + text[end:])
    print("docs/configuration.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
