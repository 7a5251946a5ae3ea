"""Segment names and owner marks (storage/segments.py), and the reaper's reference rule."""

from __future__ import annotations

import pytest

from cumulo.objectserver.v1 import objectserver_pb2 as spb
from storage.names import validate_metadata
from storage.replication.reaper import referenced
from storage.segments import (
    OWNER_OBJECT_KEY,
    OWNER_PIECES_KEY,
    SegmentName,
    digest_of,
    group_prefix,
    owner_marks,
    owner_of,
)

VERSION = "1732712345.12345_0000"


@pytest.mark.parametrize(
    "name",
    ["a", "photos/2024/cat.jpg", "x" * 1024, "é" * 512, "€" * 341 + "a", "😀" * 256],
)
def test_owner_marks_round_trip_within_the_metadata_limits(name: str) -> None:
    marks = owner_marks("c" * 256, name)
    validate_metadata(marks)  # what every object server checks: <= 256 bytes a value, 4 KiB in all
    assert owner_of(marks, digest_of("c" * 256, name)) == ("c" * 256, name)


def test_owner_marks_that_are_incomplete_or_do_not_match_are_refused() -> None:
    marks = owner_marks("photos", "y" * 600)
    digest = digest_of("photos", "y" * 600)
    assert owner_of(marks, digest_of("photos", "other")) is None
    missing = {k: v for k, v in marks.items() if k != f"{OWNER_OBJECT_KEY}.1"}
    assert owner_of(missing, digest) is None
    assert owner_of({**marks, OWNER_PIECES_KEY: "2"}, digest) is None
    assert owner_of({**marks, OWNER_PIECES_KEY: "x"}, digest) is None
    assert owner_of({}, digest) is None


def test_segment_names_parse_back() -> None:
    name = f"{group_prefix('photos', 'cat.jpg', VERSION)}/00000007"
    parsed = SegmentName.parse(name)
    assert parsed is not None
    assert parsed.index == 7 and parsed.version == VERSION
    assert parsed.group == group_prefix("photos", "cat.jpg", VERSION)
    digest = digest_of("a", "b")
    for other in ("cat.jpg", f"{digest}/{VERSION}/7", f"{digest}/x/00000001"):
        assert SegmentName.parse(other) is None


def _head(timestamp: str, deleted: bool = False) -> spb.HeadObjectResponse:
    return spb.HeadObjectResponse(object=spb.ObjectMetadata(timestamp=timestamp), deleted=deleted)


def test_a_group_is_referenced_only_when_a_primary_holds_its_version() -> None:
    newer, older = "1732712999.00000_0000", "1732712000.00000_0000"
    assert referenced(VERSION, [_head(VERSION), _head(newer), None])
    assert referenced(VERSION, [None, None, _head(VERSION)])
    assert not referenced(VERSION, [_head(newer), _head(newer), _head(newer)])  # replaced
    assert not referenced(VERSION, [_head(newer, deleted=True), None, None])  # deleted
    assert not referenced(VERSION, [_head(older), _head(older), None])  # never written
    assert not referenced(VERSION, [None, None, None])
