"""Page tokens and sizes."""

from __future__ import annotations

import pytest

from cumulo import errors
from cumulo.rpc import paging


@pytest.mark.parametrize("key", ["abc", 42, ["a", 3], {"name": "x/y", "id": 7}])
def test_token_round_trips(key: object) -> None:
    assert paging.decode_token(paging.encode_token(key)) == key


def test_empty_token_means_first_page() -> None:
    assert paging.decode_token("") is None


@pytest.mark.parametrize("token", ["garbage!", "e30", "eyJ2IjoyLCJhZnRlciI6MX0", "////"])
def test_foreign_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        paging.decode_token(token)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert "next_page_token" in caught.value.hint


def test_page_size_defaults_caps_and_refuses_negative() -> None:
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(5) == 5
    assert paging.page_size(10**6) == paging.MAX_PAGE_SIZE
    with pytest.raises(errors.InvalidArgument, match="0 or more"):
        paging.page_size(-1)
