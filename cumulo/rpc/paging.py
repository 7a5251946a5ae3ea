"""Page tokens and page sizes for every List RPC.

A page token is opaque to clients: URL-safe base64 of a small JSON object holding
a format version and the sort key of the last item returned.  Servers decode it
with :func:`decode_token`; anything that is not a token this server made is
``INVALID_ARGUMENT`` with a hint to start over, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cumulo import errors

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_TOKEN_VERSION = 1


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    """Return the page size to use: ``default`` for 0, capped at ``maximum``."""
    if requested < 0:
        raise errors.InvalidArgument(
            f"page_size must be 0 or more, got {requested}", field="page.page_size"
        )
    if requested == 0:
        return default
    return min(requested, maximum)


def encode_token(after: Any) -> str:
    """Return a page token that resumes after the item whose sort key is ``after``."""
    raw = json.dumps({"v": _TOKEN_VERSION, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> Any:
    """Return the sort key stored in ``token``, or ``None`` for the empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("v") != _TOKEN_VERSION or "after" not in data:
            raise ValueError("not a page token")
        return data["after"]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.InvalidArgument(
            "page_token is not a token this server issued",
            field="page.page_token",
            reason="INVALID_PAGE_TOKEN",
            hint="pass the previous response's next_page_token, or leave it empty to start over",
        ) from None
