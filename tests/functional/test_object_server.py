"""A real object server in-process on 127.0.0.1 port 0, spoken to over real gRPC."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import subprocess
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cumulo import errors
from cumulo.objectserver.v1 import objectserver_pb2 as pb
from cumulo.rpc.status import error_from_rpc
from storage.object.client import Location, ObjectServerClient, ObjectServerSession
from storage.object.diskfile import DiskDevice, name_hash
from storage.object.main import ObjectServer, open_devices, start_object_server
from storage.object.store import ObjectName, xxh3_of
from storage.timestamp import Timestamp
from tests.helpers.servers import BackgroundLoop
from tests.helpers.tools import venv_tool

T = TypeVar("T")
CREDENTIAL = "test-credential-0123456789abcdef"
CHUNK = 64 * 1024
LOC = Location("d1", 7, "AUTH_test", "photos", "cat.jpg")


@dataclass
class Node:
    loop: BackgroundLoop
    server: ObjectServer
    client: ObjectServerClient
    device: DiskDevice

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine)

    def client_with(self, credential: str) -> ObjectServerClient:
        return ObjectServerClient(self.server.address, credential)


@pytest.fixture
def node(tmp_path: Path, background_loop: BackgroundLoop) -> Iterator[Node]:
    devices = open_devices(
        tmp_path / "node", ["d1"], chunk_size=CHUNK, threads_per_device=4, create=True
    )
    server = background_loop.run(
        start_object_server(listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL)
    )

    async def connect() -> ObjectServerClient:
        return ObjectServerClient(server.address, CREDENTIAL)

    client = background_loop.run(connect())
    device = devices["d1"].device
    assert isinstance(device, DiskDevice)
    yield Node(background_loop, server, client, device)
    background_loop.run(client.close())
    background_loop.run(server.stop(grace=0.5))


def ts(n: int = 0) -> str:
    return Timestamp(1_732_712_345_00000 + n).internal


def test_put_get_head_delete_round_trip(node: Node) -> None:
    data = random.Random(1).randbytes(3 * CHUNK + 17)
    stored = node.run(
        node.client.put_object(
            LOC,
            ts(1),
            data,
            content_type="image/jpeg",
            metadata={"color": "grey"},
            compute_sha256=True,
            expected_size=len(data),
            expected_md5=hashlib.md5(data).hexdigest(),
        )
    )
    assert stored.etag == hashlib.md5(data).hexdigest()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (stored.size, stored.timestamp, stored.chunk_size) == (len(data), ts(1), CHUNK)
    assert stored.created_at.seconds == 1_732_712_345
    assert node.run(node.client.read_object(LOC)) == data

    head = node.run(node.client.head_object(LOC, include_chunk_digests=True))
    assert dict(head.object.metadata) == {"color": "grey"}
    assert head.object.content_type == "image/jpeg"
    assert list(head.object.chunk_xxh3) == [
        xxh3_of(data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]

    entries = node.run(node.client.list_partition("d1", 7))
    assert [(e.object, e.timestamp, e.deleted) for e in entries] == [("cat.jpg", ts(1), False)]
    (stats,) = node.run(node.client.get_device_stats())
    assert (stats.device, stats.partitions, stats.pending_writes) == ("d1", 1, 0)

    deleted = node.run(node.client.delete_object(LOC, ts(2)))
    assert (deleted.previous_timestamp, deleted.existed) == (ts(1), True)
    with pytest.raises(errors.NotFound) as caught:
        node.run(node.client.read_object(LOC))
    assert caught.value.reason == "OBJECT_DELETED"
    tombstone = node.run(node.client.head_object(LOC, include_deleted=True))
    assert tombstone.deleted and tombstone.object.timestamp == ts(2)


def test_chunks_carry_their_digest_and_ranges_are_exact(node: Node) -> None:
    data = random.Random(2).randbytes(2 * CHUNK + 5)
    node.run(node.client.put_object(LOC, ts(1), data))

    async def get(start: int | None, end: int | None) -> tuple[pb.GetObjectHeader, list[Any]]:
        request = pb.GetObjectRequest(location=LOC.message())
        if start is not None:
            request.range.start = start
            if end is not None:
                request.range.end = end
        messages = [
            m async for m in node.client.stub.GetObject(request, metadata=node.client.metadata)
        ]
        assert all(not m.HasField("header") for m in messages[1:])
        return messages[0].header, [m.chunk for m in messages if m.HasField("chunk")]

    header, chunks = node.run(get(None, None))
    assert (header.start, header.end) == (0, len(data))
    assert all(c.HasField("xxh3") and c.xxh3 == xxh3_of(c.data) for c in chunks)
    header, chunks = node.run(get(CHUNK - 3, CHUNK + 4))
    assert (header.start, header.end) == (CHUNK - 3, CHUNK + 4)
    assert b"".join(c.data for c in chunks) == data[CHUNK - 3 : CHUNK + 4]
    assert not any(c.HasField("xxh3") for c in chunks)
    assert node.run(node.client.read_object(LOC, 10, 10**9)) == data[10:]
    with pytest.raises(errors.OutOfRange):
        node.run(node.client.read_object(LOC, len(data)))
    with pytest.raises(errors.InvalidArgument):
        node.run(node.client.read_object(LOC, 5, 5))


def test_missing_or_wrong_credential_is_unauthenticated(node: Node) -> None:
    for credential in ("", "not-the-cluster-credential"):

        async def attempt(credential: str = credential) -> None:
            async with node.client_with(credential) as client:
                await client.head_object(LOC)

        with pytest.raises(errors.Unauthenticated) as caught:
            node.run(attempt())
        assert caught.value.reason == "STORAGE_CREDENTIAL_REQUIRED"

    async def stream_calls_too() -> None:
        async with node.client_with("wrong-credential-xxxxxxxx") as client:
            await client.put_object(LOC, ts(1), b"x")

    with pytest.raises(errors.Unauthenticated):
        node.run(stream_calls_too())
    with pytest.raises(errors.NotFound):
        node.run(node.client.head_object(LOC))  # nothing was stored

    async def health() -> int:
        async with grpc.aio.insecure_channel(node.server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            response = await stub.Check(health_pb2.HealthCheckRequest(service=""))
            return int(response.status)

    assert node.run(health()) == health_pb2.HealthCheckResponse.SERVING


def test_a_stream_without_its_commit_stores_nothing(node: Node) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        node.run(node.client.put_object(LOC, ts(1), b"y" * (3 * CHUNK), commit=False))
    assert caught.value.reason == "INCOMPLETE_UPLOAD"
    with pytest.raises(errors.NotFound):
        node.run(node.client.head_object(LOC))
    assert os.listdir(node.device.tmp_dir) == []


def test_a_cancelled_upload_stores_nothing(node: Node) -> None:
    sent = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"z" * CHUNK
        sent.set()
        await asyncio.sleep(30)
        yield b"never"

    async def upload_then_cancel() -> None:
        task = asyncio.ensure_future(node.client.put_object(LOC, ts(1), slow_body()))
        await sent.wait()
        deadline = time.monotonic() + 5
        while not os.listdir(node.device.tmp_dir) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert os.listdir(node.device.tmp_dir), "the upload never reached the disk"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    node.run(upload_then_cancel())
    deadline = time.monotonic() + 5
    while os.listdir(node.device.tmp_dir) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.listdir(node.device.tmp_dir) == []
    with pytest.raises(errors.NotFound):
        node.run(node.client.head_object(LOC))


def test_wrong_sender_checksums_are_refused_and_nothing_is_stored(node: Node) -> None:
    async def put_raw(messages: list[pb.PutObjectRequest]) -> pb.PutObjectResponse:
        try:
            return await node.client.stub.PutObject(iter(messages), metadata=node.client.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    header = pb.PutObjectRequest(header=pb.PutObjectHeader(location=LOC.message(), timestamp=ts(1)))
    data = b"payload" * 1000
    bad_chunk = pb.PutObjectRequest(chunk=pb.ObjectChunk(data=data, xxh3=xxh3_of(data) ^ 1))
    commit = pb.PutObjectRequest(commit=pb.PutObjectCommit())
    with pytest.raises(errors.InvalidArgument) as caught:
        node.run(put_raw([header, bad_chunk, commit]))
    assert (caught.value.field, caught.value.reason) == ("chunk.xxh3", "CHECKSUM_MISMATCH")

    good_chunk = pb.PutObjectRequest(chunk=pb.ObjectChunk(data=data))
    bad_md5 = pb.PutObjectRequest(commit=pb.PutObjectCommit(expected_md5="0" * 32))
    with pytest.raises(errors.InvalidArgument, match="MD5"):
        node.run(put_raw([header, good_chunk, bad_md5]))
    with pytest.raises(errors.InvalidArgument, match="announced"):
        node.run(node.client.put_object(LOC, ts(1), data, expected_size=len(data) + 1))
    with pytest.raises(errors.InvalidArgument, match="first PutObject message"):
        node.run(put_raw([good_chunk, commit]))
    with pytest.raises(errors.NotFound):
        node.run(node.client.head_object(LOC))
    assert os.listdir(node.device.tmp_dir) == []


@pytest.mark.parametrize(
    ("location", "field"),
    [
        (Location("d1", 7, "AUTH_test", "photos", "../../etc/passwd"), "object"),
        (Location("d1", 7, "AUTH_test", "photos", "nul\x00byte"), "object"),
        (Location("d1", 7, "AUTH_test", "photos", "x" * 1025), "object"),
        (Location("d1", 7, "AUTH_test", "", "o"), "container"),
        (Location("d1", 7, "AUTH/x", "c", "o"), "account"),
        (Location("d9", 7, "AUTH_test", "c", "o"), "location.device"),
        (Location("../d1", 7, "AUTH_test", "c", "o"), "location.device"),
    ],
)
def test_bad_names_and_devices_are_refused(node: Node, location: Location, field: str) -> None:
    with pytest.raises((errors.InvalidArgument, errors.NotFound)) as caught:
        node.run(node.client.put_object(location, ts(1), b"data"))
    assert caught.value.field == field
    if field != "location.device":
        assert isinstance(caught.value, errors.InvalidArgument)


def test_bad_metadata_and_timestamps_are_refused(node: Node) -> None:
    with pytest.raises(errors.InvalidArgument, match="limit is 90"):
        node.run(
            node.client.put_object(LOC, ts(1), b"d", metadata={f"k{i}": "v" for i in range(91)})
        )
    with pytest.raises(errors.InvalidArgument) as caught:
        node.run(node.client.put_object(LOC, "yesterday", b"d"))
    assert caught.value.field == "header.timestamp"


def test_an_older_write_is_refused_with_the_existing_version(node: Node) -> None:
    node.run(node.client.put_object(LOC, ts(5), b"new"))
    with pytest.raises(errors.Conflict) as caught:
        node.run(node.client.put_object(LOC, ts(4), b"old"))
    assert caught.value.reason == "NEWER_VERSION_EXISTS"
    assert ts(5) in caught.value.message
    with pytest.raises(errors.Conflict):
        node.run(node.client.delete_object(LOC, ts(5)))
    assert node.run(node.client.read_object(LOC)) == b"new"


def test_a_damaged_replica_is_data_loss_and_quarantined(node: Node) -> None:
    data = random.Random(3).randbytes(2 * CHUNK)
    node.run(node.client.put_object(LOC, ts(1), data))
    hashed = name_hash(f"/{LOC.account}/{LOC.container}/{LOC.object}")
    folder = Path(node.device.objects_dir, str(LOC.partition), hashed[-3:], hashed)
    (path,) = folder.glob("*.data")
    raw = bytearray(path.read_bytes())
    raw[CHUNK + 10] ^= 0x40
    path.write_bytes(bytes(raw))

    async def read_all() -> bytes:
        _header, body = await node.client.get_object(LOC)
        received = b""
        try:
            async for piece in body:
                received += piece
        finally:
            assert received == data[:CHUNK]  # the good first chunk only
        return received

    with pytest.raises(errors.DataCorruption):
        node.run(read_all())
    with pytest.raises(errors.NotFound):
        node.run(node.client.head_object(LOC))
    (stats,) = node.run(node.client.get_device_stats("d1"))
    assert stats.quarantined == 1


def _rss_peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def test_a_64_mib_object_streams_in_bounded_memory(node: Node) -> None:
    size = 64 << 20
    block = random.Random(4).randbytes(1 << 20)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    async def put_then_read() -> tuple[str, int, str]:
        stored = await node.client.put_object(LOC, ts(1), body(), chunk_size=1 << 20)
        md5 = hashlib.md5(usedforsecurity=False)
        count = 0
        _header, pieces = await node.client.get_object(LOC)
        async for piece in pieces:
            md5.update(piece)
            count += len(piece)
        return stored.etag, count, md5.hexdigest()

    # Reset the peak-RSS mark (Linux >= 4.0), then measure the peak across both transfers.
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _rss_peak_kib()
    etag, count, md5 = node.run(put_then_read())
    growth_mib = (_rss_peak_kib() - before) / 1024
    expected = hashlib.md5(block * (size // len(block))).hexdigest()
    assert (etag, count, md5) == (expected, size, expected)
    # Client and server share this process; a whole object in memory would be >= 64 MiB.
    assert growth_mib < 48, f"peak RSS grew by {growth_mib:.1f} MiB for a 64 MiB object"


def test_a_small_object_is_one_message_each_way(node: Node) -> None:
    data = b"tiny object"

    async def scenario() -> tuple[pb.PutObjectResponse, list[pb.GetObjectResponse]]:
        single = pb.PutObjectRequest(
            header=pb.PutObjectHeader(location=LOC.message(), timestamp=ts(1)),
            chunk=pb.ObjectChunk(data=data, xxh3=xxh3_of(data)),
            commit=pb.PutObjectCommit(expected_size=len(data)),
        )
        stub, metadata = node.client.stub, node.client.metadata
        stored = await stub.PutObject(iter([single]), metadata=metadata)
        call = stub.GetObject(pb.GetObjectRequest(location=LOC.message()), metadata=metadata)
        return stored, [m async for m in call]

    stored, messages = node.run(scenario())
    assert stored.object.size == len(data)
    assert len(messages) == 1
    assert messages[0].header.end == len(data) and messages[0].chunk.data == data


def test_an_empty_object_has_a_header_and_no_chunk(node: Node) -> None:
    node.run(node.client.put_object(LOC, ts(1), b""))

    async def messages() -> list[pb.GetObjectResponse]:
        request = pb.GetObjectRequest(location=LOC.message())
        return [m async for m in node.client.stub.GetObject(request, metadata=node.client.metadata)]

    (only,) = node.run(messages())
    assert only.HasField("header") and not only.HasField("chunk")
    assert only.header.object.etag == hashlib.md5(b"").hexdigest()


def test_a_second_header_is_refused(node: Node) -> None:
    header = pb.PutObjectHeader(location=LOC.message(), timestamp=ts(1))
    messages = [
        pb.PutObjectRequest(header=header, chunk=pb.ObjectChunk(data=b"a")),
        pb.PutObjectRequest(header=header, commit=pb.PutObjectCommit()),
    ]

    async def put() -> None:
        try:
            await node.client.stub.PutObject(iter(messages), metadata=node.client.metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    with pytest.raises(errors.InvalidArgument, match="only the first"):
        node.run(put())
    assert os.listdir(node.device.tmp_dir) == []


def test_more_bytes_than_announced_are_refused_early(node: Node) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b"e" * CHUNK

    with pytest.raises((errors.InvalidArgument, errors.InternalError)) as caught:
        node.run(node.client.put_object(LOC, ts(1), endless(), expected_size=CHUNK))
    if isinstance(caught.value, errors.InternalError):
        # grpcio race: when the server ends a call while the client is still writing,
        # the client sometimes reports "Internal error from Core" instead of the status.
        assert "Internal error from Core" in caught.value.message
    else:
        assert "more than the announced" in caught.value.message
    assert sent < 1000
    assert os.listdir(node.device.tmp_dir) == []


def _grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("grpcurl"), "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


def test_grpcurl_lists_and_describes_without_the_credential(node: Node) -> None:
    address = node.server.address
    listed = _grpcurl(address, "list")
    assert listed.returncode == 0, listed.stderr
    assert "cumulo.objectserver.v1.ObjectServerService" in listed.stdout.split()
    described = _grpcurl(address, "describe", "cumulo.objectserver.v1.PutObjectHeader")
    assert "expected_size" in described.stdout
    method = "cumulo.objectserver.v1.ObjectServerService/GetDeviceStats"
    refused = _grpcurl(address, method)
    assert "Unauthenticated" in refused.stderr
    stats = _grpcurl("-H", f"x-cumulo-storage-credential: {CREDENTIAL}", address, method)
    assert stats.returncode == 0, stats.stderr
    assert '"device": "d1"' in stats.stdout


def test_a_session_serves_many_small_requests_at_once(node: Node) -> None:
    async def scenario() -> None:
        async with node.client.session() as session:
            locations = [Location("d1", i % 5, "AUTH_s", "c", f"o{i}") for i in range(40)]
            bodies = [random.Random(i).randbytes(i * 100) for i in range(40)]
            stored = await asyncio.gather(
                *(
                    session.put_object(loc, ts(1), body)
                    for loc, body in zip(locations, bodies, strict=True)
                )
            )
            assert [s.etag for s in stored] == [hashlib.md5(b).hexdigest() for b in bodies]
            read = await asyncio.gather(*(session.read_object(loc) for loc in locations))
            assert read == bodies
            assert await session.read_object(locations[39], 10, 20) == bodies[39][10:20]
            head = await session.head_object(locations[3])
            assert head.object.size == 300
            deleted = await session.delete_object(locations[3], ts(2))
            assert deleted.existed
            tombstone = await session.head_object(locations[3], include_deleted=True)
            assert tombstone.deleted
        # The single RPCs see what the session wrote.
        assert await node.client.read_object(locations[7]) == bodies[7]

    node.run(scenario())


def test_session_errors_are_per_request_and_the_session_goes_on(node: Node) -> None:
    async def scenario() -> None:
        async with node.client.session() as session:
            await session.put_object(LOC, ts(5), b"current")
            with pytest.raises(errors.NotFound) as missing:
                await session.head_object(Location("d1", 7, "AUTH_test", "photos", "nope"))
            assert missing.value.reason == "OBJECT_NOT_FOUND"
            with pytest.raises(errors.Conflict) as older:
                await session.put_object(LOC, ts(4), b"stale")
            assert older.value.reason == "NEWER_VERSION_EXISTS"
            with pytest.raises(errors.InvalidArgument) as bad:
                await session.put_object(Location("d1", 7, "a", "c", "x/../y"), ts(1), b"")
            assert bad.value.field == "object"
            with pytest.raises(errors.OutOfRange):
                await session.read_object(LOC, 100)
            big = Location("d1", 7, "AUTH_test", "photos", "big")
            with pytest.raises(errors.InvalidArgument, match="at most"):
                await session.put_object(big, ts(1), b"b" * ((1 << 20) + 1))
            await node.client.put_object(big, ts(1), b"b" * ((1 << 20) + 1))
            with pytest.raises(errors.Conflict) as too_big:
                await session.read_object(big)
            assert too_big.value.reason == "USE_GET_OBJECT"
            assert await session.read_object(big, 0, 5) == b"bbbbb"
            assert await session.read_object(LOC) == b"current"

    node.run(scenario())
    assert os.listdir(node.device.tmp_dir) == []


def test_a_session_needs_the_credential(node: Node) -> None:
    async def scenario() -> None:
        async with node.client_with("wrong-credential-xxxxxxxx") as client:
            session = client.session()
            with pytest.raises(errors.Unauthenticated):
                await session.head_object(LOC)
            await session.close()

    node.run(scenario())


def test_the_servicer_runs_on_the_memory_twin(background_loop: BackgroundLoop) -> None:
    """The twin exists so the layers above can run without disks: prove the servicer does."""
    from concurrent.futures import ThreadPoolExecutor

    from storage.object.memory import MemoryDevice
    from storage.object.server import DeviceSlot

    memory = MemoryDevice("d1", chunk_size=CHUNK)
    devices = {"d1": DeviceSlot(memory, ThreadPoolExecutor(2))}
    server = background_loop.run(
        start_object_server(listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL)
    )
    data = random.Random(9).randbytes(2 * CHUNK + 1)

    async def scenario() -> None:
        async with ObjectServerClient(server.address, CREDENTIAL) as client:
            await client.put_object(LOC, ts(1), data)
            assert await client.read_object(LOC) == data
            async with client.session() as session:
                assert await session.read_object(LOC, 0, 3) == data[:3]
            memory.corrupt(LOC.partition, ObjectName(LOC.account, LOC.container, LOC.object))
            with pytest.raises(errors.DataCorruption):
                await client.read_object(LOC)
            # More entries than one ListPartition message holds (LIST_PAGE = 1000).
            for i in range(1001):
                with memory.create_writer(9, ObjectName("a", "c", f"o{i}"), Timestamp(10)) as w:
                    w.commit()
            entries = await client.list_partition("d1", 9)
            assert len({e.object for e in entries}) == 1001
            session = client.session()
            await session.close()
            with pytest.raises(errors.Unavailable, match="ended"):
                await session.head_object(LOC)

    try:
        background_loop.run(scenario())
    finally:
        background_loop.run(server.stop(grace=0.5))


def _open_object_files(device: DiskDevice) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(device.objects_dir):
            count += 1
    return count


def test_a_read_abandoned_midway_closes_its_file(node: Node) -> None:
    node.run(node.client.put_object(LOC, ts(1), b"r" * (8 * CHUNK)))

    async def read_one_message_then_cancel() -> None:
        call = node.client.stub.GetObject(
            pb.GetObjectRequest(location=LOC.message()), metadata=node.client.metadata
        )
        first = await call.read()
        assert first.header.object.size == 8 * CHUNK
        call.cancel()

    node.run(read_one_message_then_cancel())
    deadline = time.monotonic() + 5
    while _open_object_files(node.device) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _open_object_files(node.device) == 0


def test_a_hung_disk_stalls_only_its_own_requests(background_loop: BackgroundLoop) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from storage.object.memory import MemoryDevice
    from storage.object.server import DeviceSlot

    class HungDevice(MemoryDevice):
        def head(self, partition: int, name: ObjectName) -> Any:
            time.sleep(0.8)  # blocking, as a read from a dying disk would be
            return super().head(partition, name)

    devices = {
        "slow": DeviceSlot(HungDevice("slow"), ThreadPoolExecutor(2)),
        "fast": DeviceSlot(MemoryDevice("fast"), ThreadPoolExecutor(2)),
    }
    server = background_loop.run(
        start_object_server(listen="127.0.0.1:0", devices=devices, credential=CREDENTIAL)
    )
    slow = Location("slow", 1, "a", "c", "o")
    fast = Location("fast", 1, "a", "c", "o")

    async def scenario() -> float:
        async with ObjectServerClient(server.address, CREDENTIAL) as client:
            await client.put_object(slow, ts(1), b"s")
            await client.put_object(fast, ts(1), b"f")
            stuck = [asyncio.ensure_future(client.head_object(slow)) for _ in range(2)]
            await asyncio.sleep(0.1)
            started = time.monotonic()
            assert (await client.head_object(fast)).object.size == 1
            elapsed = time.monotonic() - started
            await asyncio.gather(*stuck)
            return elapsed

    try:
        assert background_loop.run(scenario()) < 0.5
    finally:
        background_loop.run(server.stop(grace=0.5))


def test_a_timestamp_only_head_answers_the_version_from_memory_or_disk(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy's quorum check on reads: which version is current, nothing more."""

    from storage.object.server import ObjectServerServicer

    served: list[str] = []  # checks that took the normal way (a task, memory or disk)
    normal = ObjectServerServicer._head_version

    async def counted(self: ObjectServerServicer, *args: Any) -> pb.HeadObjectResponse:
        served.append("task")
        return await normal(self, *args)

    monkeypatch.setattr(ObjectServerServicer, "_head_version", counted)
    node.run(node.client.put_object(LOC, ts(1), b"hello", content_type="text/plain"))

    async def head(**options: bool) -> pb.HeadObjectResponse:
        async with ObjectServerSession(node.client) as session:
            return await session.head_object(LOC, timestamp_only=True, **options)

    remembered = node.run(head())
    assert (remembered.object.timestamp, remembered.deleted) == (ts(1), False)
    assert (remembered.object.object, remembered.object.size) == ("cat.jpg", 0)  # not read
    assert remembered.object.content_type == ""
    assert served == []  # remembered: answered in the session's reading loop
    node.device._recent.clear()  # as after a restart: the same answer, from the disk
    assert node.run(head()).object.timestamp == ts(1)
    assert served == ["task"]

    node.run(node.client.delete_object(LOC, ts(2)))
    gone = node.run(head(include_deleted=True))
    assert (gone.object.timestamp, gone.deleted) == (ts(2), True)
    with pytest.raises(errors.NotFound) as caught:
        node.run(head())
    assert caught.value.reason == "OBJECT_DELETED"
    missing = Location("d1", 7, "AUTH_test", "photos", "never.jpg")

    async def head_missing() -> pb.HeadObjectResponse:
        async with ObjectServerSession(node.client) as session:
            return await session.head_object(missing, include_deleted=True, timestamp_only=True)

    with pytest.raises(errors.NotFound):
        node.run(head_missing())


def test_a_session_get_of_a_fresh_small_object_needs_no_disk_thread(node: Node) -> None:
    """Small objects installed lately are read on the event loop (open_cached); the
    rest, and anything outside the page cache, on a disk thread - same answers."""
    slot = node.server.devices["d1"]
    on_threads: list[str] = []
    submit = slot.submit

    def counted(fn: Any, *args: Any) -> Any:
        on_threads.append(getattr(fn, "__name__", "?"))
        return submit(fn, *args)

    slot.submit = counted  # type: ignore[method-assign]
    body = os.urandom(50_000)
    node.run(node.client.put_object(LOC, ts(1), body))
    big = Location("d1", 7, "AUTH_test", "photos", "big.bin")
    node.run(node.client.put_object(big, ts(1), b"b" * (2 * CHUNK)))

    async def get(location: Location, *range_: int) -> pb.GetObjectResponse:
        async with ObjectServerSession(node.client) as session:
            return await session.get_object(location, *range_)

    on_threads.clear()
    fresh = node.run(get(LOC))
    assert fresh.chunk.data == body and fresh.header.object.timestamp == ts(1)
    assert node.run(get(LOC, 5, 40_000)).chunk.data == body[5:40_000]
    assert on_threads == []
    assert node.run(get(big)).chunk.data == b"b" * (2 * CHUNK)  # over 64 KiB
    assert on_threads == ["read_on_thread"]
    on_threads.clear()
    assert node.run(node.client.head_object(big)).object.size == 2 * CHUNK  # footer only
    assert on_threads == []

    node.device._recent.clear()  # as after a restart: read on a thread, same bytes
    on_threads.clear()
    assert node.run(get(LOC)).chunk.data == body
    assert on_threads == ["read_on_thread"]
    assert node.run(node.client.head_object(LOC)).object.size == len(body)
    assert on_threads == ["read_on_thread", "head"]

    node.run(node.client.delete_object(LOC, ts(2)))
    on_threads.clear()
    with pytest.raises(errors.NotFound) as caught:
        node.run(get(LOC))
    assert caught.value.reason == "OBJECT_DELETED"
    gone = node.run(node.client.head_object(LOC, include_deleted=True))
    assert (gone.deleted, gone.object.timestamp) == (True, ts(2))
    assert on_threads == []  # a remembered tombstone: no I/O at all
