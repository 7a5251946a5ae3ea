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


@pytest.mark.parametrize("op_id", [0, 1, 2**40])
def test_hand_made_session_responses_equal_the_generated_ones(op_id: int) -> None:
    header = pb.GetObjectHeader(object=pb.ObjectInfo(name="n", size=5), start=0, end=5)
    put = pb.PutObjectResponse(object=pb.ObjectInfo(name="p"))
    error = pb.SessionError(code=5, message="no such object")
    results = [
        pb.SessionResult(id=op_id, get=pb.GetSmallObjectResponse(header=header, data=b"hello")),
        pb.SessionResult(id=op_id + 1, put=put),
        pb.SessionResult(id=op_id + 2, error=error),
        pb.SessionResult(id=op_id + 3, head=pb.HeadObjectResponse()),  # empty answer
        pb.SessionResult(id=op_id + 4, delete=pb.DeleteObjectResponse(version="v")),
    ]
    raw = wire.session_response(
        [
            wire.session_result(
                op_id, "get", wire.get_small_parts(header.SerializeToString(), b"hello")
            ),
            wire.session_result(op_id + 1, "put", [put.SerializeToString()]),
            wire.session_result(op_id + 2, "error", [error.SerializeToString()]),
            wire.session_result(op_id + 3, "head", []),
            wire.session_result(
                op_id + 4, "delete", [pb.DeleteObjectResponse(version="v").SerializeToString()]
            ),
        ]
    )
    expected = pb.ObjectSessionResponse(results=results)
    assert raw == expected.SerializeToString()
    assert pb.ObjectSessionResponse.FromString(raw) == expected


def test_operation_sizes_are_each_operations_encoded_size() -> None:
    operations = [
        pb.SessionOperation(
            id=1, put=pb.PutSmallObjectRequest(header=pb.PutObjectHeader(name="a"), data=b"x" * n)
        )
        for n in (0, 1, 200, 70_000)
    ] + [pb.SessionOperation(id=9, get=pb.GetObjectRequest(name="g"))]
    raw = pb.ObjectSessionRequest(operations=operations).SerializeToString()
    assert wire.operation_sizes(raw) == [op.ByteSize() for op in operations]
    assert wire.operation_sizes(b"") == []
    # Fields it does not know are skipped (a newer client's, say): varint, fixed64,
    # fixed32 and length-delimited ones.
    unknown = b"\x10\x96\x01" + b"\x19" + bytes(8) + b"\x25" + bytes(4) + b"\x2a\x02hi"
    assert wire.operation_sizes(unknown + raw) == [op.ByteSize() for op in operations]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a\x05abc",  # a field longer than the message
        b"\x0a",  # a key without its length
        b"\x0a\xff",  # a length cut short
        b"\x0b",  # wire type 3 (groups): not in proto3
    ],
)
def test_operation_sizes_refuses_malformed_bytes(raw: bytes) -> None:
    with pytest.raises(ValueError):
        wire.operation_sizes(raw)
