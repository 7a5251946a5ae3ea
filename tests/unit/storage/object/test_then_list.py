"""Session PUTs with ``then_list``: the object server applies the listing row only once
the object is stored, only for the version it stored, and reports what happened."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cumulo import errors
from cumulo.containerserver.v1 import containerserver_pb2 as ipb
from cumulo.objectserver.v1 import objectserver_pb2 as pb
from storage.object.diskfile import DiskDevice
from storage.object.server import DeviceSlot, ListingApplier, ObjectServerServicer
from storage.timestamp import Timestamp

STAMP = Timestamp(1_732_712_345_00000).internal


def put_request(name: str, data: bytes, row_name: str, row_stamp: str = STAMP) -> Any:
    request = pb.SessionRequest(id=1)
    header = request.put.header
    header.location.device = "d1"
    header.location.partition = 3
    header.location.account = "AUTH_a"
    header.location.container = "c"
    header.location.object = name
    header.timestamp = STAMP
    header.then_list.shard.CopyFrom(ipb.ShardRef(device="d1", partition=9, account="AUTH_a"))
    header.then_list.row.CopyFrom(ipb.IndexRow(name=row_name, timestamp=row_stamp, size=3))
    request.put.chunk.data = data
    request.put.commit.expected_size = len(data)
    return request


def serve(tmp_path: Path, listings: ListingApplier | None, request: Any) -> Any:
    executor = ThreadPoolExecutor(2)
    servicer = ObjectServerServicer(
        {"d1": DeviceSlot(DiskDevice(tmp_path / "d1"), executor)}, listings=listings
    )
    try:
        return asyncio.run(servicer.session_operation(request)).put
    finally:
        executor.shutdown()


def test_the_row_is_applied_after_the_object_is_stored(tmp_path: Path) -> None:
    seen: list[Any] = []

    async def apply(update: Any) -> list[Any]:
        # The object is on disk before its row is listed.
        assert list((tmp_path / "d1").rglob("*.data")), "listed before it was stored"
        seen.append(update)
        return [ipb.IndexRow(name="o", timestamp="1.00000_0000", size=1)]

    answer = serve(tmp_path, apply, put_request("o", b"abc", "o"))
    assert answer.object.size == 3
    assert answer.listing.applied and [r.size for r in answer.listing.replaced] == [1]
    assert [(u.shard.partition, [r.name for r in u.rows]) for u in seen] == [(9, ["o"])]


@pytest.mark.parametrize(
    "row_name, row_stamp",
    [("other", STAMP), ("o", Timestamp(1_732_712_399_00000).internal), ("o", "garbage")],
)
def test_a_row_that_is_not_this_version_is_not_applied(
    tmp_path: Path, row_name: str, row_stamp: str
) -> None:
    async def apply(update: Any) -> list[Any]:
        raise AssertionError("must not be called")

    answer = serve(tmp_path, apply, put_request("o", b"abc", row_name, row_stamp))
    assert answer.object.size == 3  # the object itself is stored
    assert not answer.listing.applied and "does not describe the stored" in answer.listing.error


def test_a_failed_listing_is_reported_not_raised(tmp_path: Path) -> None:
    async def apply(update: Any) -> list[Any]:
        raise errors.NotFound("device 'd1' is not on this server")

    answer = serve(tmp_path, apply, put_request("o", b"abc", "o"))
    assert answer.object.size == 3
    assert not answer.listing.applied and "not on this server" in answer.listing.error


def test_a_node_without_an_index_says_so(tmp_path: Path) -> None:
    answer = serve(tmp_path, None, put_request("o", b"abc", "o"))
    assert not answer.listing.applied and "no listing index" in answer.listing.error


def test_without_then_list_the_answer_has_no_listing(tmp_path: Path) -> None:
    request = put_request("o", b"abc", "o")
    request.put.header.ClearField("then_list")
    answer = serve(tmp_path, None, request)
    assert answer.object.size == 3 and not answer.HasField("listing")


def delete_request(row: Any) -> Any:
    request = pb.SessionRequest(id=2)
    request.delete.location.device = "d1"
    request.delete.location.partition = 3
    request.delete.location.account = "AUTH_a"
    request.delete.location.container = "c"
    request.delete.location.object = "o"
    request.delete.timestamp = Timestamp(1_732_712_345_00005).internal
    request.delete.then_list.shard.CopyFrom(ipb.ShardRef(device="d1", partition=9, account="a"))
    request.delete.then_list.row.CopyFrom(row)
    return request


@pytest.mark.parametrize("deleted, applied", [(True, True), (False, False)])
def test_a_delete_lists_only_its_own_tombstone(
    tmp_path: Path, deleted: bool, applied: bool
) -> None:
    seen: list[Any] = []

    async def apply(update: Any) -> list[Any]:
        seen.append(update)
        return []

    executor = ThreadPoolExecutor(2)
    servicer = ObjectServerServicer(
        {"d1": DeviceSlot(DiskDevice(tmp_path / "d1"), executor)}, listings=apply
    )
    stamp = Timestamp(1_732_712_345_00005).internal
    row = ipb.IndexRow(name="o", timestamp=stamp, deleted=deleted)
    try:
        answer = asyncio.run(servicer.session_operation(delete_request(row))).delete
    finally:
        executor.shutdown()
    assert answer.timestamp == stamp  # the tombstone is stored either way
    assert answer.listing.applied is applied and (len(seen) == 1) is applied
