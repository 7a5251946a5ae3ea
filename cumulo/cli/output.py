"""Printing results for people (aligned tables, key/value blocks) or scripts (``--json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def message_to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as the JSON mapping grpcurl would print."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def print_json(data: Any) -> None:
    if isinstance(data, Message):
        data = message_to_dict(data)
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print ``rows`` under ``headers`` with aligned columns."""
    cells = [[str(h).upper() for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def print_fields(fields: Mapping[str, Any], indent: int = 0) -> None:
    """Print ``key: value`` lines, nesting mappings."""
    width = max((len(k) for k in fields), default=0)
    pad = " " * indent
    for key, value in fields.items():
        if isinstance(value, Mapping):
            print(f"{pad}{key}:")
            print_fields(value, indent + 2)
        else:
            print(f"{pad}{key.ljust(width)}  {value}")
