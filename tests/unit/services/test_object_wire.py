"""Hand-made object API wire bytes (object_wire.py) equal the generated classes'."""

from __future__ import annotations

import os

import pytest

from cumulo.object.v1 import object_pb2 as pb
from cumulo.services import object_wire as wire


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


@pytest.mark.parametrize("op_id", [0, 1, 300, 2**40])
def test_hand_made_session_requests_equal_the_generated_ones(op_id: int) -> None:
    put = pb.PutSmallObjectRequest(
        header=pb.PutObjectHeader(container="c", name="n", size=3), data=b"abc"
    )
    get = pb.GetObjectRequest(container="c", name="n")
    head = pb.HeadObjectRequest(container="c", name="n")
    delete = pb.DeleteObjectRequest(container="c", name="n", project_id="p")
    operations = [
        pb.SessionOperation(id=op_id, put=put),
        pb.SessionOperation(id=op_id + 1, get=get),
        pb.SessionOperation(id=op_id + 2, head=head),
        pb.SessionOperation(id=op_id + 3, delete=delete),
        pb.SessionOperation(id=op_id + 4, get=pb.GetObjectRequest()),  # empty request
    ]
    raw = wire.session_request(
        [
            wire.session_operation(
                op_id, "put", wire.put_small_parts(put.header.SerializeToString(), b"abc")
            ),
            wire.session_operation(op_id + 1, "get", [get.SerializeToString()]),
            wire.session_operation(op_id + 2, "head", [head.SerializeToString()]),
            wire.session_operation(op_id + 3, "delete", [delete.SerializeToString()]),
            wire.session_operation(op_id + 4, "get", []),
        ]
    )
    expected = pb.ObjectSessionRequest(operations=operations)
    assert raw == expected.SerializeToString()
    assert pb.ObjectSessionRequest.FromString(raw) == expected
