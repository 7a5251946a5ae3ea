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
* delimiter push-down: the nodes return each group only up to their first live row in
  it, so one call covers many groups however many objects each holds.  Replicas may
  disagree (a node that missed a delete still has the row live), so the merged rows of
  a group are exact only up to its *frontier* - the smallest row at which some node
  stopped early: every node reported all it has up to there.  A group is listed when a
  merged row up to its frontier is live; a row past the frontier, or a group dead up to
  its frontier, makes the next fetch start at the frontier (progress: the frontier is a
  row of this answer, after the cursor);
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
from typing import Any

from cumulo import errors
from storage.container.index import Row

#: Sorts after every character a name may contain, so "p" + MAX_CHAR skips everything under "p".
MAX_CHAR = chr(0x10FFFF)

#: ``fetch(marker, n) -> (rows, truncated)`` or ``(rows, truncated, frontier)`` (see
#: IndexClient.list_grouped): merged index rows after ``marker``.
Fetch = Callable[[str, int], Awaitable[tuple[Any, ...]]]


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
        answer = await fetch(cursor, batch)
        rows, truncated = answer[0], answer[1]
        frontier: dict[str, str] = answer[2] if len(answer) > 2 else {}  # type: ignore[misc]
        refetch: str | None = None
        pending = ""  # a group met in this batch, not listed yet
        for row in rows:
            if skip and row.name.startswith(skip):
                continue
            skip = ""
            if pending and not row.name.startswith(pending):
                if pending in frontier:  # dead up to its frontier; beyond it, ask again
                    refetch = frontier[pending]
                    break
                pending = ""
            common = ""
            if delimiter:
                at = row.name.find(delimiter, len(prefix))
                if at >= 0:
                    common = row.name[: at + len(delimiter)]
                    if common in frontier and row.name > frontier[common]:
                        refetch = frontier[common]
                        break
            if row.deleted:
                pending = common
                continue
            if common:
                page.prefixes.append(common)
                page.order.append(common)
                skip = common
                pending = ""
                if len(page.order) == limit:
                    page.next_token = encode_token(common, True)
                    return page
                continue
            page.objects.append(row)
            page.order.append(row.name)
            if len(page.order) == limit:
                page.next_token = encode_token(row.name, False)
                return page
        else:
            if pending and pending in frontier:
                # Continue at the frontier - unless this answer was cut before it (then the
                # rows between are still to come, from the last row on).
                refetch = frontier[pending]
                if truncated and rows and rows[-1].name < refetch:
                    refetch = rows[-1].name
        if refetch is not None:
            cursor = refetch
            continue
        if not truncated or not rows:
            return page
        cursor = rows[-1].name
        if skip and cursor.startswith(skip):
            cursor = skip + MAX_CHAR
