"""Name and metadata validation: what is refused, and that refusals name the field and limit."""

from __future__ import annotations

import pytest

from cumulo import errors
from storage import names


@pytest.mark.parametrize(
    "name",
    ["a", "photos", "ünïcødé", "with space", "dots.are.fine", "..x", "x..", "a" * 256],
)
def test_acceptable_container_names(name: str) -> None:
    assert names.validate_container(name) == name


@pytest.mark.parametrize(
    "obj",
    ["a", "dir/sub/file.txt", "/leading", "trailing/", "a//b", "...", ".hidden", "x" * 1024],
)
def test_acceptable_object_names(obj: str) -> None:
    assert names.validate_object(obj) == obj


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ("", "INVALID_NAME"),
        ("..", "INVALID_NAME"),
        ("a/../b", "INVALID_NAME"),
        ("a/..", "INVALID_NAME"),
        ("./a", "INVALID_NAME"),
        ("a\x00b", "INVALID_NAME"),
        ("line\nbreak", "INVALID_NAME"),
        ("tab\there", "INVALID_NAME"),
        ("del\x7f", "INVALID_NAME"),
        ("c1\x85", "INVALID_NAME"),
        ("x" * 1025, "NAME_TOO_LONG"),
        ("é" * 513, "NAME_TOO_LONG"),  # 1026 bytes in UTF-8, 513 characters
        ("\ud800", "INVALID_NAME"),  # lone surrogate: not encodable as UTF-8
    ],
)
def test_refused_object_names(obj: str, reason: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        names.validate_object(obj)
    assert caught.value.field == "object"
    assert caught.value.reason == reason


def test_bytes_must_be_utf8() -> None:
    assert names.validate_object(b"caf\xc3\xa9") == "café"
    with pytest.raises(errors.InvalidArgument, match="UTF-8"):
        names.validate_object(b"\xff\xfe")


@pytest.mark.parametrize("validate", [names.validate_account, names.validate_container])
def test_account_and_container_refuse_slash_and_length(validate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidArgument, match="'/'"):
        validate("a/b")
    with pytest.raises(errors.InvalidArgument, match="limit is 256 bytes"):
        validate("a" * 257)
    with pytest.raises(errors.InvalidArgument, match="empty"):
        validate("")


def test_validate_path_names_the_bad_part() -> None:
    assert names.validate_path("acc", "con", "o/b") == ("acc", "con", "o/b")
    with pytest.raises(errors.InvalidArgument) as caught:
        names.validate_path("acc", "c\x00", "o")
    assert caught.value.field == "container"
    assert "U+0000" in caught.value.message


def test_metadata_within_limits_is_returned() -> None:
    metadata = {f"key-{i}": "v" * 35 for i in range(90)}
    assert names.validate_metadata(metadata) == metadata


@pytest.mark.parametrize(
    ("metadata", "needle"),
    [
        ({f"k{i}": "" for i in range(91)}, "limit is 90"),
        ({"k" * 129: "v"}, "1-128 bytes"),
        ({"": "v"}, "1-128 bytes"),
        ({"bad key": "v"}, "letters, digits"),
        ({"k": "v" * 257}, "limit is 256 bytes per value"),
        ({"k": "a\nb"}, "control character"),
        ({f"k{i:03d}": "v" * 250 for i in range(17)}, "limit is 4096 bytes"),
    ],
)
def test_metadata_over_a_limit_is_refused(metadata: dict[str, str], needle: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=needle) as caught:
        names.validate_metadata(metadata)
    assert caught.value.field.startswith("metadata")


def test_content_type() -> None:
    assert names.validate_content_type("text/plain; charset=utf-8")
    assert names.validate_content_type("") == ""
    with pytest.raises(errors.InvalidArgument):
        names.validate_content_type("x" * 257)
    with pytest.raises(errors.InvalidArgument):
        names.validate_content_type("text/plain\r\nX-Evil: 1")
