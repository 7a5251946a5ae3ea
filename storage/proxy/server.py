"""The ``cumulo.object.v1.ObjectService`` servicer: thin glue over replicas, index and containers.

Each method validates its request (names and metadata through ``storage.names``,
the same checks the object servers apply), resolves the caller's account
(:func:`~storage.proxy.auth.account_of`), calls :class:`ReplicaIO`
(object replicas), :class:`ContainerDirectory` (container records) and
:class:`IndexClient` (listings), and maps the results to messages.  Errors are
``cumulo.errors`` mapped by the ApiInterceptor.

Ordering that gives the listing guarantee: an object write or delete is
acknowledged only after a quorum of its replicas AND a quorum of its index shard's
replicas have it, in that order (the index never names an object that was not
stored; a crash between the two leaves a stored object that is not listed yet, and
the client, which got no acknowledgement, retries).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from google.protobuf import timestamp_pb2
from grpc import aio

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from cumulo.object.v1 import object_pb2_grpc
from cumulo.objectserver.v1 import objectserver_pb2 as spb
from cumulo.types.v1 import types_pb2
from storage.container.index import Row
from storage.names import (
    validate_container,
    validate_content_type,
    validate_metadata,
    validate_object,
)
from storage.proxy.auth import account_of, current_caller
from storage.proxy.containers import ContainerDirectory, ContainerRecord
from storage.proxy.index import IndexClient, ListingPlan, ShardId, shard_of
from storage.proxy.large import (
    ETAG_KEY,
    RESERVED_CONTAINER_PREFIX,
    SEGMENTS_KEY,
    SHA256_KEY,
    LargeObjects,
    check_user_metadata,
    is_manifest,
    user_metadata,
)
from storage.proxy.listing import decode_token, encode_token, list_page
from storage.proxy.quota import QuotaGuard
from storage.proxy.replicas import SMALL_OBJECT, ReplicaIO
from storage.proxy.session import Operations, SizedRequest, SmallObject, run_session
from storage.timestamp import TICKS_PER_SECOND, Timestamp

SERVICE_NAME = "cumulo.object.v1.ObjectService"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_QUERY_BYTES = 1024
MAX_DATA_MESSAGE = 8 << 20


class _Clock:
    """Version timestamps that strictly increase within this proxy (10 us ticks)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        ticks = max(int(time.time() * TICKS_PER_SECOND), self._last + 1)
        self._last = ticks
        return Timestamp(ticks).internal


def _pb_time(text: str) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    if text:
        ticks = Timestamp.parse(text).ticks
        seconds, rest = divmod(ticks, TICKS_PER_SECOND)
        out.seconds = seconds
        out.nanos = rest * (1_000_000_000 // TICKS_PER_SECOND)
    return out


def object_info(container: str, meta: spb.ObjectMetadata) -> pb.ObjectInfo:
    """What clients see of a stored object (a large object's manifest shows the whole)."""
    if is_manifest(meta):
        return pb.ObjectInfo(
            container=container,
            name=meta.object,
            size=LargeObjects.size_of(meta),
            content_type=meta.content_type,
            etag=meta.metadata.get(ETAG_KEY, ""),
            sha256=meta.metadata.get(SHA256_KEY, ""),
            metadata=user_metadata(meta.metadata),
            modified_at=_pb_time(meta.timestamp),
            version=meta.timestamp,
            segments=int(meta.metadata.get(SEGMENTS_KEY, "0")),
        )
    return pb.ObjectInfo(
        container=container,
        name=meta.object,
        size=meta.size,
        content_type=meta.content_type,
        etag=meta.etag,
        sha256=meta.sha256,
        metadata=dict(meta.metadata),
        modified_at=_pb_time(meta.timestamp),
        version=meta.timestamp,
    )


def _container(name: str, field: str) -> str:
    """A user's container name (the ``.cumulo-`` prefix is the proxy's own)."""
    validate_container(name, field)
    if name.startswith(RESERVED_CONTAINER_PREFIX):
        raise errors.InvalidArgument(
            f"container names starting with {RESERVED_CONTAINER_PREFIX!r} are reserved",
            field=field,
            reason="RESERVED_NAME",
        )
    return name


def _user_metadata(metadata: Mapping[str, str], field: str = "metadata") -> dict[str, str]:
    checked = validate_metadata(metadata, field)
    check_user_metadata(checked, field)
    return checked


def container_message(record: ContainerRecord, stats: tuple[int, int]) -> pb.Container:
    return pb.Container(
        name=record.name,
        metadata=record.metadata,
        object_count=stats[0],
        bytes_used=stats[1],
        created_at=_pb_time(record.created),
        modified_at=_pb_time(record.version),
        index_shards=record.shards,
    )


def etag_matches(etag: str, condition: str) -> bool:
    """``condition``: "*" or comma-separated ETags (quotes allowed, as in HTTP)."""
    wanted = [c.strip().strip('"').lower() for c in condition.split(",")]
    return "*" in wanted or etag.lower() in wanted


def _query(value: str, field: str) -> str:
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_QUERY_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise errors.InvalidArgument(
            f"{field} must be at most {MAX_QUERY_BYTES} bytes without control characters",
            field=field,
        )
    return value


def _limit(limit: int, page: types_pb2.PageRequest) -> int:
    value = limit or page.page_size or DEFAULT_LIMIT
    if value < 0:
        raise errors.InvalidArgument("limit must not be negative", field="limit")
    return min(value, MAX_LIMIT)


async def _complete(context: aio.ServicerContext, last: bool, size: int | None) -> None:
    """Raise unless the upload stream ended because the client finished it.

    grpc.aio reports a cancelled client stream to the handler as a plain end of stream
    when the failed read is processed before the cancellation (the handler task is
    cancelled a moment later).  With ``last`` on the final message, or a size in the
    header (checked against the bytes received), the end is certain; otherwise the
    handler lets the loop process pending events and checks the call was not cancelled.
    """
    if last or size is not None:
        return
    for _ in range(3):
        await asyncio.sleep(0)
    if context.cancelled() or context.done():
        raise errors.Aborted(
            "the upload was cancelled; nothing was stored", reason="INCOMPLETE_UPLOAD"
        )


class ObjectProxyServicer(object_pb2_grpc.ObjectServiceServicer):
    """The public object API of one proxy; see the module docstring."""

    def __init__(
        self,
        replicas: ReplicaIO,
        index: IndexClient,
        containers: ContainerDirectory,
        large: LargeObjects,
        quota: QuotaGuard | None = None,
    ) -> None:
        self.replicas = replicas
        self.index = index
        self.containers = containers
        self.large = large
        self.quota = quota
        self.clock = _Clock()
        self.session_operations = Operations(
            put=self.put_small, get=self.get_small, head=self.head, delete=self.delete
        )

    async def _check_quota(self, account: str, adding: int) -> None:
        if self.quota is not None:
            caller = current_caller()
            await self.quota.check(account, caller.token, account == caller.project_id, adding)

    # -- accounts and containers ----------------------------------------------------------

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: aio.ServicerContext
    ) -> pb.GetAccountResponse:
        account = account_of(request.project_id)
        containers, objects, used = await self.containers.account_stats(account)
        return pb.GetAccountResponse(
            account=pb.Account(
                name=account,
                project_id=account,
                container_count=containers,
                object_count=objects,
                bytes_used=used,
            )
        )

    async def ListContainers(
        self, request: pb.ListContainersRequest, context: aio.ServicerContext
    ) -> pb.ListContainersResponse:
        account = account_of(request.project_id)
        prefix = _query(request.prefix, "prefix")
        marker = _query(request.marker, "marker")
        if request.page.page_token:
            marker, _ = decode_token(request.page.page_token)
        limit = _limit(request.limit, request.page)
        records, more = await self.containers.list(account, prefix, marker, limit)
        stats = await self.containers.stats(account, records)
        response = pb.ListContainersResponse(
            containers=[container_message(r, stats[r.name]) for r in records]
        )
        if more and records:
            response.page.next_page_token = encode_token(records[-1].name, False)
        return response

    async def CreateContainer(
        self, request: pb.CreateContainerRequest, context: aio.ServicerContext
    ) -> pb.CreateContainerResponse:
        account = account_of(request.project_id)
        name = _container(request.name, "name")
        metadata = _user_metadata(request.metadata)
        record = await self.containers.create(account, name, metadata, exist_ok=request.exist_ok)
        stats = (await self.containers.stats(account, [record]))[name]
        return pb.CreateContainerResponse(container=container_message(record, stats))

    async def GetContainer(
        self, request: pb.GetContainerRequest, context: aio.ServicerContext
    ) -> pb.GetContainerResponse:
        account = account_of(request.project_id)
        name = _container(request.name, "name")
        record = await self.containers.get(account, name, cached=False)
        stats = (await self.containers.stats(account, [record]))[name]
        return pb.GetContainerResponse(container=container_message(record, stats))

    async def UpdateContainerMetadata(
        self, request: pb.UpdateContainerMetadataRequest, context: aio.ServicerContext
    ) -> pb.UpdateContainerMetadataResponse:
        account = account_of(request.project_id)
        name = _container(request.name, "name")
        metadata = {k: v for k, v in request.metadata.items()}
        # Empty values mean "remove" in a merge, so only the non-empty ones are checked.
        _user_metadata({k: v for k, v in metadata.items() if v or request.replace})
        record = await self.containers.update_metadata(
            account, name, metadata, replace=request.replace
        )
        validate_metadata(record.metadata)
        stats = (await self.containers.stats(account, [record]))[name]
        return pb.UpdateContainerMetadataResponse(container=container_message(record, stats))

    async def DeleteContainer(
        self, request: pb.DeleteContainerRequest, context: aio.ServicerContext
    ) -> pb.DeleteContainerResponse:
        account = account_of(request.project_id)
        await self.containers.delete(account, _container(request.name, "name"))
        return pb.DeleteContainerResponse()

    # -- objects ----------------------------------------------------------------------------

    @staticmethod
    def _shard(account: str, record: ContainerRecord, name: str) -> ShardId:
        return ShardId(account, record.name, shard_of(name, record.shards))

    async def _listed(
        self,
        account: str,
        record: ContainerRecord,
        rows: list[Row],
        plan: ListingPlan | None = None,
    ) -> list[Row]:
        """List ``rows`` (a quorum of their shard's replicas); the live rows they replaced.
        ``plan``: the listing update the object writes carried (replicas they applied
        count; see storage/proxy/index.py)."""
        return await self.index.update(self._shard(account, record, rows[0].name), rows, plan)

    async def _store(
        self,
        account: str,
        record: ContainerRecord,
        name: str,
        first: list[bytes],
        rest: AsyncIterator[bytes] | None,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        size: int | None,
        expected_md5: str,
        expected_sha256: str,
        compute_sha256: bool,
    ) -> spb.ObjectMetadata:
        """Store an object (buffered ``first`` pieces, then ``rest``) and list it."""
        timestamp = self.clock.next()
        handled = ""  # the replaced large version whose segments are already being deleted
        plan: ListingPlan | None = None  # small objects: the writes carry the listing update
        if rest is None:
            data = b"".join(first) if len(first) != 1 else first[0]
            if size is not None and len(data) != size:
                raise errors.InvalidArgument(
                    f"the upload has {len(data)} bytes, not the {size} announced",
                    field="header.size",
                    reason="SIZE_MISMATCH",
                )
            if expected_sha256:
                digest = hashlib.sha256(data).hexdigest()
                if digest != expected_sha256.lower():
                    raise errors.InvalidArgument(
                        f"the object's SHA-256 is {digest}, not the expected {expected_sha256}",
                        field="header.expected_sha256",
                        reason="CHECKSUM_MISMATCH",
                    )
            plan = self.index.plan(self._shard(account, record, name))
            meta = await self.replicas.put_small(
                account,
                record.name,
                name,
                timestamp,
                data,
                content_type=content_type,
                metadata=metadata,
                compute_sha256=compute_sha256 or bool(expected_sha256),
                expected_md5=expected_md5,
                listing=plan,
            )
        else:
            meta, handled = await self._store_streamed(
                account,
                record,
                name,
                timestamp,
                first,
                rest,
                content_type=content_type,
                metadata=metadata,
                size=size,
                expected_md5=expected_md5,
                expected_sha256=expected_sha256,
                compute_sha256=compute_sha256,
            )
        if is_manifest(meta):  # listed with the large object's size and ETag
            row = Row(
                name,
                meta.timestamp,
                False,
                LargeObjects.size_of(meta),
                meta.metadata.get(ETAG_KEY, ""),
                meta.content_type,
            )
        else:
            row = Row(name, meta.timestamp, False, meta.size, meta.etag, meta.content_type)
        replaced = await self._listed(account, record, [row], plan)
        # The listing update names every version this one replaced, including one
        # written while a large upload ran (after its predecessor was read).
        replaced = [r for r in replaced if r.timestamp != handled]
        if replaced:
            self.large.replaced_rows(
                account, record.name, name, replaced, meta.timestamp, self.clock
            )
        return meta

    async def _store_streamed(
        self,
        account: str,
        record: ContainerRecord,
        name: str,
        timestamp: str,
        first: list[bytes],
        rest: AsyncIterator[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str],
        size: int | None,
        expected_md5: str,
        expected_sha256: str,
        compute_sha256: bool,
    ) -> tuple[spb.ObjectMetadata, str]:
        """Store an upload past 1 MiB: streamed to the replicas, or as a large object.

        The large object this one replaces (if any) is read first, and its segments
        are deleted once the new version is stored (LargeObjects.replaced).  Returns
        the stored metadata and that predecessor's version ("" if none).
        """
        # Read before the upload starts, so the new version cannot be read instead
        # (one small GET; uploads on this path are past 1 MiB).
        predecessor = await self.large.predecessor(account, record.name, name)
        tail = rest

        async def body() -> AsyncIterator[bytes]:
            for piece in first:
                yield piece
            async for piece in tail:
                yield piece

        if size is None or size > self.large.segment_size:
            meta = await self.large.store(
                account,
                record.name,
                name,
                timestamp,
                body(),
                self.clock,
                content_type=content_type,
                metadata=metadata,
                size=size,
                expected_md5=expected_md5,
                expected_sha256=expected_sha256,
                compute_sha256=compute_sha256,
            )
        else:
            meta = await self.replicas.put_stream(
                account,
                record.name,
                name,
                timestamp,
                body(),
                content_type=content_type,
                metadata=metadata,
                compute_sha256=compute_sha256,
                expected_size=size,
                expected_md5=expected_md5,
                expected_sha256=expected_sha256,
            )
        self.large.replaced(account, predecessor, meta.timestamp, self.clock)
        return meta, predecessor.version

    async def _put_target(
        self, header: pb.PutObjectHeader
    ) -> tuple[str, ContainerRecord, str, str, dict[str, str]]:
        """(account, container record, name, content type, metadata) of an upload's header,
        validated, with if_none_match="*" checked (PutObject and PutSmallObject)."""
        account = account_of(header.project_id)
        container = _container(header.container, "header.container")
        name = validate_object(header.name, "header.name")
        content_type = validate_content_type(header.content_type, "header.content_type")
        metadata = _user_metadata(header.metadata, "header.metadata")
        if header.if_none_match not in ("", "*"):
            raise errors.InvalidArgument(
                'if_none_match supports only "*"', field="header.if_none_match"
            )
        record = await self.containers.get(account, container)
        if header.if_none_match == "*":
            try:
                await self.replicas.head(account, container, name)
            except errors.NotFound:
                pass
            else:
                raise errors.AlreadyExists(
                    f"object {name!r} exists already (if_none_match='*')",
                    field="header.name",
                    reason="OBJECT_EXISTS",
                )
        return account, record, name, content_type, metadata

    async def _put(
        self,
        header: pb.PutObjectHeader,
        target: tuple[str, ContainerRecord, str, str, dict[str, str]],
        pieces: list[bytes],
        rest: AsyncIterator[bytes] | None,
        received: int,
    ) -> pb.PutObjectResponse:
        """Quota check, store (quorum write and listing), quota accounting, the answer."""
        account, record, name, content_type, metadata = target
        size = header.size if header.HasField("size") else None
        await self._check_quota(account, size if size is not None else received)
        meta = await self._store(
            account,
            record,
            name,
            pieces,
            rest,
            content_type=content_type,
            metadata=metadata,
            size=size,
            expected_md5=header.expected_md5,
            expected_sha256=header.expected_sha256,
            compute_sha256=header.compute_sha256,
        )
        info = object_info(record.name, meta)
        if self.quota is not None:
            self.quota.stored(account, info.size)
        return pb.PutObjectResponse(object=info)

    async def PutObject(
        self, request_iterator: AsyncIterator[pb.PutObjectRequest], context: aio.ServicerContext
    ) -> pb.PutObjectResponse:
        messages = request_iterator.__aiter__()
        try:
            first = await messages.__anext__()
        except StopAsyncIteration:
            raise errors.InvalidArgument(
                "the stream is empty; the first message must carry the header", field="header"
            ) from None
        if not first.HasField("header"):
            raise errors.InvalidArgument("the first message must carry the header", field="header")
        header = first.header
        target = await self._put_target(header)
        size = header.size if header.HasField("size") else None
        data = first.data  # read once: each read of a bytes field copies it
        pieces = [data] if data else []
        total = len(data)
        last = first.last
        ended = False
        while total <= SMALL_OBJECT:
            try:
                message = await messages.__anext__()
            except StopAsyncIteration:
                ended = True
                break
            if message.HasField("header"):
                raise errors.InvalidArgument("only the first message may carry a header")
            if last:
                raise errors.InvalidArgument("a message followed the one marked last")
            last = message.last
            data = message.data
            if data:
                pieces.append(data)
                total += len(data)
        if ended:
            await _complete(context, last, size)

        async def rest() -> AsyncIterator[bytes]:
            done = last
            async for message in messages:
                if message.HasField("header"):
                    raise errors.InvalidArgument("only the first message may carry a header")
                if done:
                    raise errors.InvalidArgument("a message followed the one marked last")
                done = message.last
                data = message.data
                if data:
                    yield data
            await _complete(context, done, size)

        return await self._put(
            header, target, pieces, None if ended and total <= SMALL_OBJECT else rest(), total
        )

    async def PutSmallObject(
        self, request: pb.PutSmallObjectRequest, context: aio.ServicerContext
    ) -> pb.PutObjectResponse:
        return await self.put_small(request)

    async def put_small(self, request: pb.PutSmallObjectRequest) -> pb.PutObjectResponse:
        """PutSmallObject (also a session's put)."""
        if not request.HasField("header"):
            raise errors.InvalidArgument("the request must carry the header", field="header")
        data = request.data  # read once: each read of a bytes field copies it
        if len(data) > SMALL_OBJECT:
            raise errors.InvalidArgument(
                f"PutSmallObject takes at most {SMALL_OBJECT} bytes, not {len(data)}",
                field="data",
                reason="OBJECT_TOO_LARGE",
                hint="upload objects past 1 MiB with the PutObject stream",
            )
        target = await self._put_target(request.header)
        pieces = [data] if data else []
        return await self._put(request.header, target, pieces, None, len(data))

    async def _read(
        self, request: pb.GetObjectRequest
    ) -> tuple[pb.GetObjectHeader, AsyncIterator[bytes] | None]:
        """The answer's header and the bytes to serve (None when not modified; closed then).

        Validation, range, if_match and if_none_match of GetObject and GetSmallObject.
        """
        account = account_of(request.project_id)
        container = _container(request.container, "container")
        name = validate_object(request.name, "name")
        await self.containers.get(account, container)
        start: int | None = None
        end: int | None = None
        if request.HasField("range"):
            start = request.range.start
            end = request.range.end if request.range.HasField("end") else None
            if end is not None and end <= start:
                raise errors.InvalidArgument("range.end must be after range.start", field="range")
        info, first_byte, end_byte, body = await self._open(account, container, name, start, end)
        try:
            if request.if_match and not etag_matches(info.etag, request.if_match):
                raise errors.Conflict(
                    f"the object's ETag {info.etag} matches none of if_match",
                    field="if_match",
                    reason="ETAG_MISMATCH",
                )
            out = pb.GetObjectHeader(object=info, start=first_byte, end=end_byte)
            if request.if_none_match and etag_matches(info.etag, request.if_none_match):
                out.not_modified = True
                out.end = out.start
                await body.aclose()  # type: ignore[attr-defined]
                return out, None
        except BaseException:
            await body.aclose()  # type: ignore[attr-defined]
            raise
        return out, body

    async def GetObject(
        self, request: pb.GetObjectRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.GetObjectResponse]:
        out, body = await self._read(request)
        if body is None:
            yield pb.GetObjectResponse(header=out)
            return
        try:
            first = b""
            async for piece in body:
                first = piece
                break
            yield pb.GetObjectResponse(header=out, data=first)
            async for piece in body:
                yield pb.GetObjectResponse(data=piece)
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    async def GetSmallObject(
        self, request: pb.GetObjectRequest, context: aio.ServicerContext
    ) -> bytes:
        # The serialized answer: the server's codec passes bytes through
        # (storage/proxy/main.py), so the data is copied once, not three times.
        return (await self.get_small(request)).wire()

    async def get_small(self, request: pb.GetObjectRequest) -> SmallObject:
        """GetSmallObject (also a session's get): the answer's header and bytes."""
        out, body = await self._read(request)
        if body is None:
            return SmallObject(out, b"")
        try:
            if out.object.segments or out.object.size > SMALL_OBJECT:
                raise errors.Conflict(
                    f"the object has {out.object.size} bytes; GetSmallObject serves objects "
                    f"of at most {SMALL_OBJECT}",
                    field="name",
                    reason="OBJECT_TOO_LARGE",
                    hint="read objects past 1 MiB with the GetObject stream",
                )
            pieces = [piece async for piece in body]
        finally:
            await body.aclose()  # type: ignore[attr-defined]
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return SmallObject(out, data)

    def ObjectSession(
        self,
        request_iterator: AsyncIterator[pb.ObjectSessionRequest | SizedRequest],
        context: aio.ServicerContext,
    ) -> AsyncIterator[bytes]:
        """Small-object operations pipelined over one stream (storage/proxy/session.py);
        the responses are serialized ``ObjectSessionResponse`` messages."""
        return run_session(request_iterator, self.session_operations)

    async def _open(
        self, account: str, container: str, name: str, start: int | None, end: int | None
    ) -> tuple[pb.ObjectInfo, int, int, AsyncIterator[bytes]]:
        """(info, first byte, end, bytes) of an object or a large object's range."""
        try:
            header, body = await self.replicas.get(account, container, name, start, end)
        except errors.OutOfRange:
            # The range may be past a manifest's own (small) body but inside the large object.
            meta, _ = await self.replicas.head(account, container, name)
            if not is_manifest(meta):
                raise
        else:
            meta = header.object
            if not is_manifest(meta):
                return object_info(container, meta), header.start, header.end, body
            await body.aclose()  # type: ignore[attr-defined]
        segments = await self.large.read_manifest(account, container, name)
        first, last, stream = await self.large.open(
            account, segments, LargeObjects.size_of(meta), start, end
        )
        return object_info(container, meta), first, last, stream

    async def HeadObject(
        self, request: pb.HeadObjectRequest, context: aio.ServicerContext
    ) -> pb.HeadObjectResponse:
        return await self.head(request)

    async def head(self, request: pb.HeadObjectRequest) -> pb.HeadObjectResponse:
        """HeadObject (also a session's head)."""
        account = account_of(request.project_id)
        container = _container(request.container, "container")
        name = validate_object(request.name, "name")
        await self.containers.get(account, container)
        meta, _ = await self.replicas.head(account, container, name)
        return pb.HeadObjectResponse(object=object_info(container, meta))

    async def DeleteObject(
        self, request: pb.DeleteObjectRequest, context: aio.ServicerContext
    ) -> pb.DeleteObjectResponse:
        return await self.delete(request)

    async def delete(self, request: pb.DeleteObjectRequest) -> pb.DeleteObjectResponse:
        """DeleteObject (also a session's delete)."""
        account = account_of(request.project_id)
        container = _container(request.container, "container")
        name = validate_object(request.name, "name")
        record = await self.containers.get(account, container)
        meta, _ = await self.replicas.head(account, container, name)  # NOT_FOUND when missing
        segments = (
            await self.large.read_manifest(account, container, name) if is_manifest(meta) else []
        )
        timestamp = self.clock.next()
        plan = self.index.plan(self._shard(account, record, name))  # the writes carry the row
        await self.replicas.delete(account, container, name, timestamp, listing=plan)
        await self._listed(account, record, [Row(name, timestamp, deleted=True)], plan)
        if segments:
            self.large.delete_segments(account, segments, self.clock)
        if self.quota is not None:
            self.quota.deleted(account, object_info(container, meta).size)
        return pb.DeleteObjectResponse(version=timestamp)

    async def CopyObject(
        self, request: pb.CopyObjectRequest, context: aio.ServicerContext
    ) -> pb.CopyObjectResponse:
        account = account_of(request.project_id)
        source_container = _container(request.source_container, "source_container")
        source_name = validate_object(request.source_name, "source_name")
        target_container = _container(request.destination_container, "destination_container")
        target_name = validate_object(request.destination_name, "destination_name")
        await self.containers.get(account, source_container)
        target = await self.containers.get(account, target_container)
        if request.replace_metadata:
            metadata = _user_metadata(request.metadata)
            content_type = validate_content_type(request.content_type)
        source, _, _, body = await self._open(account, source_container, source_name, None, None)
        try:
            if request.if_match and not etag_matches(source.etag, request.if_match):
                raise errors.Conflict(
                    f"the source's ETag {source.etag} matches none of if_match",
                    field="if_match",
                    reason="ETAG_MISMATCH",
                )
            if not request.replace_metadata:
                metadata = dict(source.metadata)
                content_type = source.content_type
            await self._check_quota(account, source.size)
            small = source.size <= SMALL_OBJECT
            first = [b"".join([piece async for piece in body])] if small else []
            meta = await self._store(
                account,
                target,
                target_name,
                first,
                None if small else body,
                content_type=content_type,
                metadata=metadata,
                size=source.size,
                # The copy must hash to the source's ETag: end-to-end proof of the bytes
                # (a large object's ETag is not an MD5 of its bytes; its size is checked).
                expected_md5="" if source.segments else source.etag,
                expected_sha256="",
                compute_sha256=bool(source.sha256),
            )
        finally:
            await body.aclose()  # type: ignore[attr-defined]
        copied = object_info(target_container, meta)
        if self.quota is not None:
            self.quota.stored(account, copied.size)
        return pb.CopyObjectResponse(object=copied)

    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: aio.ServicerContext
    ) -> pb.ListObjectsResponse:
        account = account_of(request.project_id)
        container = _container(request.container, "container")
        prefix = _query(request.prefix, "prefix")
        delimiter = _query(request.delimiter, "delimiter")
        marker = _query(request.marker, "marker")
        marker_is_prefix = False
        if request.page.page_token:
            marker, marker_is_prefix = decode_token(request.page.page_token)
        limit = _limit(request.limit, request.page)
        record = await self.containers.get(account, container)
        shards = record.shard_ids(account)

        async def fetch(cursor: str, count: int) -> Any:
            return await self.index.list_grouped(shards, prefix, cursor, count, delimiter)

        page = await list_page(
            fetch,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            limit=limit,
            marker_is_prefix=marker_is_prefix and bool(delimiter),
        )
        response = pb.ListObjectsResponse(
            objects=[
                pb.ObjectEntry(
                    name=r.name,
                    size=r.size,
                    etag=r.etag,
                    content_type=r.content_type,
                    modified_at=_pb_time(r.timestamp),
                )
                for r in page.objects
            ],
            common_prefixes=page.prefixes,
        )
        response.page.next_page_token = page.next_token
        return response
