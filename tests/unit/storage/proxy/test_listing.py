"""Listing pages over merged index rows: tombstones, delimiter, paging tokens."""

from __future__ import annotations

import asyncio

import pytest

from cumulo import errors
from storage.container.index import Row
from storage.proxy.listing import decode_token, list_page


def fetcher(rows: list[Row], prefix: str):  # type: ignore[no-untyped-def]
    """What IndexClient.list answers: rows after the marker, starting with the prefix."""
    calls: list[tuple[str, int]] = []

    async def fetch(marker: str, count: int) -> tuple[list[Row], bool]:
        calls.append((marker, count))
        after = [r for r in rows if r.name > marker and r.name.startswith(prefix)]
        return after[:count], len(after) > count

    return fetch, calls


def page(rows: list[Row], **kwargs):  # type: ignore[no-untyped-def]
    fetch, calls = fetcher(rows, kwargs.get("prefix", ""))
    options = {"prefix": "", "delimiter": "", "marker": "", "limit": 1000, **kwargs}
    return asyncio.run(list_page(fetch, **options)), calls


def live(*names: str) -> list[Row]:
    return [Row(n, "1732712345.00000_0000") for n in names]


def test_tombstones_are_skipped_and_never_make_a_prefix() -> None:
    rows = sorted(
        [*live("a/1", "b", "c/1"), Row("d/1", "1732712345.00001_0000", deleted=True)],
        key=lambda r: r.name,
    )
    result, _ = page(rows, delimiter="/")
    assert result.order == ["a/", "b", "c/"]
    result, _ = page(rows)
    assert [r.name for r in result.objects] == ["a/1", "b", "c/1"]


def test_delimiter_under_a_prefix_and_skipping_whole_prefixes() -> None:
    rows = live(*[f"p/x/{i:03d}" for i in range(500)], "p/y", "p/z/1", "q")
    result, calls = page(rows, prefix="p/", delimiter="/", limit=10)
    assert result.order == ["p/x/", "p/y", "p/z/"]
    assert not result.next_token
    # The 500 names under p/x/ were skipped by fetching after the whole prefix.
    assert calls[1][0] == "p/x/\U0010ffff"


def test_page_tokens_continue_after_objects_and_after_prefixes() -> None:
    rows = live("a/1", "a/2", "b", "c/1", "c/2", "d")
    first, _ = page(rows, delimiter="/", limit=2)
    assert first.order == ["a/", "b"]
    marker, is_prefix = decode_token(first.next_token)
    assert (marker, is_prefix) == ("b", False)
    second, _ = page(rows, delimiter="/", limit=1, marker=marker)
    assert second.order == ["c/"]
    marker, is_prefix = decode_token(second.next_token)
    third, _ = page(rows, delimiter="/", limit=5, marker=marker, marker_is_prefix=is_prefix)
    assert third.order == ["d"] and not third.next_token


def test_a_forged_token_is_invalid_argument() -> None:
    with pytest.raises(errors.InvalidArgument):
        decode_token("!!!")
