"""The load generator's hand-made PutSmallObjectRequest bytes equal the generated class's."""

from __future__ import annotations

import os

import pytest

from cumulo.loadtest import wire
from cumulo.object.v1 import object_pb2 as pb


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 300_000, 1 << 20])
def test_a_hand_made_request_parses_as_the_message(size: int) -> None:
    header = pb.PutObjectHeader(
        container="bench", name=f"größe/{size}", size=size, project_id="p-1"
    )
    data = os.urandom(size)
    raw = wire.put_small_request(header.SerializeToString(), memoryview(data))
    expected = pb.PutSmallObjectRequest(header=header, data=data)
    assert pb.PutSmallObjectRequest.FromString(raw) == expected
    assert raw == expected.SerializeToString()  # byte for byte, not only equivalent


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16_384, 2**32, 2**63 - 1])
def test_varints_match_protobuf(value: int) -> None:
    # PutObjectHeader.size is field 3, a varint: its encoding follows the key byte.
    encoded = pb.PutObjectHeader(size=value).SerializeToString()
    assert wire.varint(value) == (encoded[1:] if value else b"\x00")
    with pytest.raises(ValueError):
        wire.varint(-1)
