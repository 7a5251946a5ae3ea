"""Turning merged index rows into a listing page: tombstones, prefix, delimiter, marker, limit.

:func:`list_page` pulls merged rows (``fetch(marker, n) -> (rows, truncated)``, as
:meth:`IndexClient.list` answers) until the page is full or the index is exhausted.
Rules, as in Swift:

* a tombstone row hides its name and is otherwise skipped (it never produces a
  common prefix);
* with a delimiter, a live name that continues past ``prefix`` and contains the
  delimiter after it is rolled into the common prefix ending at that delimiter; the
  prefix is one entry, and every other name under it is skipped without being listed
  (the next fetch starts after the whole prefix);
* a page holds at most ``limit`` entries (objects and prefixes together); when it is
  full, the page token encodes the last entry so the next page continues right after
  it - after the whole prefix when the last entry was one.

Page tokens are opaque to clients: urlsafe base64 of a small JSON object.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cumulo import errors
from storage.container.index import Row

#: Sorts after every character a name may contain, so "p" + MAX_CHAR skips everything under "p".
MAX_CHAR = chr(0x10FFFF)

Fetch = Callable[[str, int], Awaitable[tuple[list[Row], bool]]]


@dataclass
class Page:
    objects: list[Row] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    #: Names of the entries in order (objects and prefixes interleaved).
    order: list[str] = field(default_factory=list)
    next_token: str = ""


def encode_token(last: str, is_prefix: bool) -> str:
    raw = json.dumps({"m": last, "p": is_prefix}, ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_token(token: str) -> tuple[str, bool]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        return str(data["m"]), bool(data["p"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise errors.InvalidArgument(
            "the page token is not one this service issued",
            field="page.page_token",
            reason="INVALID_PAGE_TOKEN",
            hint="send page_token exactly as the previous response gave it",
        ) from None


async def list_page(
    fetch: Fetch,
    *,
    prefix: str,
    delimiter: str,
    marker: str,
    limit: int,
    marker_is_prefix: bool = False,
) -> Page:
    """One listing page; see the module docstring."""
    page = Page()
    skip = marker if marker_is_prefix else ""
    cursor = marker + MAX_CHAR if marker_is_prefix else marker
    batch = min(max(limit + 16, 100), 10_000)
    while True:
        rows, truncated = await fetch(cursor, batch)
        for row in rows:
            if skip and row.name.startswith(skip):
                continue
            skip = ""
            if row.deleted:
                continue
            if delimiter:
                at = row.name.find(delimiter, len(prefix))
                if at >= 0:
                    common = row.name[: at + len(delimiter)]
                    page.prefixes.append(common)
                    page.order.append(common)
                    skip = common
                    if len(page.order) == limit:
                        page.next_token = encode_token(common, True)
                        return page
                    continue
            page.objects.append(row)
            page.order.append(row.name)
            if len(page.order) == limit:
                page.next_token = encode_token(row.name, False)
                return page
        if not truncated or not rows:
            return page
        cursor = rows[-1].name
        if skip and cursor.startswith(skip):
            cursor = skip + MAX_CHAR
