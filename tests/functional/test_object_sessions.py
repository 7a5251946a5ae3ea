"""ObjectSession end to end: the SDK's AsyncObjectSession against the real proxy, three
object servers and the controller (token checks per operation, listings, errors)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import pytest

from cumulo import errors
from cumulo.client import Client
from cumulo.object.v1 import object_pb2 as pb
from cumulo.rpc.tls import PLAINTEXT, aio_channel
from cumulo.services.object_session import AsyncObjectSession
from tests.functional.conftest import SEGMENT_SIZE, ObjectCloud

MIB = 1 << 20
T = TypeVar("T")


def _name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def alice(object_cloud: ObjectCloud):  # type: ignore[no-untyped-def]
    with object_cloud.client("alice", "proj-a") as client:
        yield client


def in_session(
    cloud: ObjectCloud, token: str, work: Callable[[AsyncObjectSession], Awaitable[T]]
) -> T:
    """Run ``work`` with a session to the cluster's proxy, in a loop of its own."""

    async def main() -> T:
        channel = aio_channel(cloud.cluster.address, PLAINTEXT)
        try:
            async with AsyncObjectSession(channel, token) as session:
                return await work(session)
        finally:
            await channel.close()

    return asyncio.run(main())


def entries(client: Client, container: str) -> list[pb.ObjectEntry]:
    return [e for e in client.objects.list_objects(container) if not isinstance(e, str)]


def token_of(client: Client) -> str:
    return client.auth.current(client)  # type: ignore[union-attr,no-any-return]


def test_round_trip_listing_and_delete(object_cloud: ObjectCloud, alice: Client) -> None:
    container = _name()
    alice.objects.create_container(container)
    rng = random.Random(5)
    bodies = {f"o-{size}": rng.randbytes(size) for size in (0, 1, 4096, MIB)}

    async def work(session: AsyncObjectSession) -> dict[str, Any]:
        infos = await asyncio.gather(
            *(
                session.put(container, name, data, content_type="x/y", metadata={"k": "v"})
                for name, data in bodies.items()
            )
        )
        got = await asyncio.gather(*(session.get(container, name) for name in bodies))
        ranged = await session.get(container, "o-4096", range=(10, 20))
        head = await session.head(container, "o-1")
        return {"infos": infos, "got": got, "ranged": ranged, "head": head}

    out = in_session(object_cloud, token_of(alice), work)
    for info, (name, data) in zip(out["infos"], bodies.items(), strict=True):
        assert info.name == name and info.size == len(data)
        assert info.etag == hashlib.md5(data).hexdigest()
    for response, data in zip(out["got"], bodies.values(), strict=True):
        assert response.data == data and response.header.object.metadata["k"] == "v"
    assert out["ranged"].data == bodies["o-4096"][10:20]
    assert (out["ranged"].header.start, out["ranged"].header.end) == (10, 20)
    assert out["head"].size == 1 and out["head"].content_type == "x/y"
    # Acknowledged means listed, and readable with the unary call and the stream.
    listed = {e.name: e.size for e in entries(alice, container)}
    assert listed == {name: len(data) for name, data in bodies.items()}
    assert alice.objects.read_object(container, "o-4096") == bodies["o-4096"]

    async def delete(session: AsyncObjectSession) -> Any:
        await session.delete(container, "o-1")
        return await asyncio.gather(
            session.get(container, "o-1"), session.get(container, "o-0"), return_exceptions=True
        )

    gone, kept = in_session(object_cloud, token_of(alice), delete)
    assert isinstance(gone, errors.NotFound) and gone.reason == "OBJECT_NOT_FOUND"
    assert kept.data == b""
    assert "o-1" not in {e.name for e in entries(alice, container)}


def test_failures_are_per_operation_with_the_unary_calls_errors(
    object_cloud: ObjectCloud, alice: Client
) -> None:
    container = _name()
    alice.objects.create_container(container)
    large = random.Random(3).randbytes(SEGMENT_SIZE + 10)
    alice.objects.put_object(container, "segmented", large)

    async def work(session: AsyncObjectSession) -> Any:
        return await asyncio.gather(
            session.put(container, "bad/../name", b"x"),
            session.put("no-such-container", "o", b"x"),
            session.put(container, "md5", b"abc", expected_md5="0" * 32),
            session.get(container, "segmented"),
            session.get(container, "o", if_match="nope"),
            session.put(container, "o", b"fine"),
            return_exceptions=True,
        )

    bad_name, no_container, bad_md5, too_large, _, fine = in_session(
        object_cloud, token_of(alice), work
    )
    assert isinstance(bad_name, errors.InvalidArgument) and bad_name.field == "header.name"
    assert isinstance(no_container, errors.NotFound)
    assert isinstance(bad_md5, errors.InvalidArgument) and bad_md5.reason == "CHECKSUM_MISMATCH"
    assert isinstance(too_large, errors.Conflict) and too_large.reason == "OBJECT_TOO_LARGE"
    assert too_large.hint and too_large.request_id
    assert fine.size == 4
    assert "md5" not in {e.name for e in entries(alice, container)}

    # The SDK refuses a put over 1 MiB before sending it.
    async def too_big(session: AsyncObjectSession) -> None:
        await session.put(container, "big", b"x" * (MIB + 1))

    with pytest.raises(errors.InvalidArgument, match="at most"):
        in_session(object_cloud, token_of(alice), too_big)


def test_each_operation_is_authorised_like_its_unary_call(
    object_cloud: ObjectCloud, alice: Client
) -> None:
    container = _name()
    alice.objects.create_container(container)
    alice.objects.put_object(container, "shared", b"shared")

    async def work(session: AsyncObjectSession) -> Any:
        return await asyncio.gather(
            session.get(container, "shared"),
            session.put(container, "mine", b"x"),
            session.delete(container, "shared"),
            return_exceptions=True,
        )

    with object_cloud.client("rita", "proj-a") as rita:
        read, written, deleted = in_session(object_cloud, token_of(rita), work)
    assert read.data == b"shared"
    assert isinstance(written, errors.PermissionDenied)
    assert isinstance(deleted, errors.PermissionDenied)
    # Another project's member sees nothing of project A.
    with object_cloud.client("bob", "proj-b") as bob:
        stranger = in_session(object_cloud, token_of(bob), work)
    assert all(isinstance(result, errors.NotFound) for result in stranger), stranger
    assert alice.objects.read_object(container, "shared") == b"shared"


def test_without_a_valid_token_the_stream_fails_and_so_does_every_operation(
    object_cloud: ObjectCloud,
) -> None:
    async def work(session: AsyncObjectSession) -> list[Any]:
        first = await asyncio.gather(
            session.get("c", "a"), session.get("c", "b"), return_exceptions=True
        )
        later = await asyncio.gather(session.get("c", "c"), return_exceptions=True)
        return [*first, *later]

    results = in_session(object_cloud, "not-a-token", work)
    assert len(results) == 3
    assert all(isinstance(result, errors.Unauthenticated) for result in results), results


def test_many_operations_at_once_past_the_proxys_budget(
    object_cloud: ObjectCloud, alice: Client
) -> None:
    container = _name()
    alice.objects.create_container(container)
    count = 400  # more than the 128 a session may have in progress

    async def work(session: AsyncObjectSession) -> tuple[list[Any], list[Any], int]:
        infos = await asyncio.gather(
            *(session.put(container, f"n{i:04d}", str(i).encode()) for i in range(count))
        )
        got = await asyncio.gather(*(session.get(container, f"n{i:04d}") for i in range(count)))
        return infos, got, session.in_progress

    infos, got, left = in_session(object_cloud, token_of(alice), work)
    assert [info.name for info in infos] == [f"n{i:04d}" for i in range(count)]
    assert [response.data for response in got] == [str(i).encode() for i in range(count)]
    assert left == 0
    assert alice.objects.get_container(container).object_count == count


def _raw_session(cloud: ObjectCloud, token: str, messages: list[bytes]) -> grpc.RpcError | None:
    """Send raw request messages; the error the stream ends with, if any."""
    with grpc.insecure_channel(cloud.cluster.address) as channel:
        call = channel.stream_stream("/cumulo.object.v1.ObjectService/ObjectSession")
        try:
            for _ in call(iter(messages), metadata=[("authorization", f"Bearer {token}")]):
                pass
        except grpc.RpcError as exc:
            return exc
    return None


def test_a_malformed_request_ends_the_stream_with_invalid_argument(
    object_cloud: ObjectCloud, alice: Client
) -> None:
    token = token_of(alice)
    empty = pb.ObjectSessionRequest(operations=[pb.SessionOperation(id=3)]).SerializeToString()
    failed = _raw_session(object_cloud, token, [empty])
    assert failed is not None and failed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "names no operation" in (failed.details() or "")
    garbage = _raw_session(object_cloud, token, [b"\xff\xff\xff"])
    assert garbage is not None and garbage.code() == grpc.StatusCode.INVALID_ARGUMENT
    # An empty request stream is a session that did nothing.
    assert _raw_session(object_cloud, token, []) is None


def test_sdk_put_many_and_get_many(alice: Client) -> None:
    container = _name()
    alice.objects.create_container(container)
    rng = random.Random(8)
    bodies = {f"m/{i:03d}": rng.randbytes(rng.randrange(0, 9000)) for i in range(300)}
    items = [*bodies.items(), ("too-big", b"x" * (MIB + 1))]
    seen: list[int] = []
    outcomes = alice.objects.put_many(
        container, iter(items), content_type="t/x", window=16, progress=lambda n, _: seen.append(n)
    )
    assert len(outcomes) == 301
    refused = [o for o in outcomes if not o.ok]
    assert [o.key for o in refused] == ["too-big"]
    assert isinstance(refused[0].error, errors.InvalidArgument)
    assert {o.key: o.value.size for o in outcomes if o.ok} == {  # type: ignore[union-attr]
        name: len(data) for name, data in bodies.items()
    }
    assert seen == list(range(1, 302))  # every item, the refused one too
    assert alice.objects.get_container(container).object_count == 300

    got = {o.key: o for o in alice.objects.get_many(container, [*bodies, "m/none"], window=8)}
    assert set(got) == {*bodies, "m/none"}
    assert isinstance(got["m/none"].error, errors.NotFound)
    for name, data in bodies.items():
        assert got[name].ok and got[name].value.data == data  # type: ignore[union-attr]
        assert got[name].value.header.object.content_type == "t/x"  # type: ignore[union-attr]


def test_sdk_batches_into_a_missing_container_fail_per_object(alice: Client) -> None:
    outcomes = alice.objects.put_many("no-such-container", [("a", b"1"), ("b", b"2")])
    assert len(outcomes) == 2
    assert all(isinstance(o.error, errors.NotFound) for o in outcomes), outcomes


def test_sdk_batch_against_an_unreachable_proxy_raises_unavailable(
    object_cloud: ObjectCloud,
) -> None:
    from tests.helpers.ports import free_port

    with Client(
        object_cloud.controller.address,  # type: ignore[attr-defined]
        timeout=5,
        user="alice",
        password="x",
        object_endpoint=f"127.0.0.1:{free_port()}",
    ) as client:
        client.auth = None  # type: ignore[assignment]
        with pytest.raises(errors.Unavailable, match="object proxy"):
            client.objects.put_many("c", [("a", b"1")])


def test_grpcurl_drives_a_session_with_json_messages(
    object_cloud: ObjectCloud, alice: Client
) -> None:
    import base64
    import json
    import subprocess

    from tests.helpers.tools import venv_tool

    container = _name()
    alice.objects.create_container(container)
    alice.objects.put_object(container, "there", b"hello")
    data = base64.b64encode(b"hi").decode()  # bytes fields are base64 in JSON
    put = {"header": {"container": container, "name": "new"}, "data": data}
    messages = [
        {"operations": [{"id": "1", "put": put}]},
        {
            "operations": [
                {"id": "2", "head": {"container": container, "name": "there"}},
                {"id": "3", "get": {"container": container, "name": "missing"}},
            ]
        },
    ]
    done = subprocess.run(
        [
            venv_tool("grpcurl"),
            "-plaintext",
            "-H",
            f"authorization: Bearer {token_of(alice)}",
            "-d",
            "@",
            object_cloud.cluster.address,
            "cumulo.object.v1.ObjectService/ObjectSession",
        ],
        input="\n".join(json.dumps(message) for message in messages),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    decoder = json.JSONDecoder()
    text, results = done.stdout.strip(), {}
    while text:
        message, end = decoder.raw_decode(text)
        text = text[end:].strip()
        results.update({r["id"]: r for r in message["results"]})
    assert results["1"]["put"]["object"]["size"] == "2"
    assert results["2"]["head"]["object"]["size"] == "5"
    assert results["3"]["error"]["detail"]["reason"] == "OBJECT_NOT_FOUND"
    assert alice.objects.read_object(container, "new") == b"hi"
