"""SDK client of ``cumulo.object.v1.ObjectService`` (served by the object proxy).

The object API lives on the proxy's endpoint, not the controller's: the
:class:`~cumulo.client.Client` opens a second channel to the proxy (see
``Client.object_endpoint``) and sends the same token on it.

Uploads stream from bytes, a file path, a binary file object or any iterable of
byte strings in chunks (1 MiB by default), so memory does not grow with the
object, except that bytes in memory of at most 1 MiB go up in one unary
``PutSmallObject`` call (less CPU than a stream on both ends); downloads are
iterators of chunks or go straight to a file::

    client.objects.create_container("photos")
    client.objects.put_object("photos", "cat.jpg", "/tmp/cat.jpg", content_type="image/jpeg")
    data = client.objects.read_object("photos", "cat.jpg", range=(0, 1024))
    for entry in client.objects.list_objects("photos", prefix="2024/", delimiter="/"):
        print(entry if isinstance(entry, str) else entry.name)

Many small objects at once go through one pipelined ``ObjectSession`` stream
(:meth:`ObjectsClient.put_many`, :meth:`ObjectsClient.get_many`): gRPC's cost is
paid per batch of operations, not per object.  Asyncio code shares a session among
tasks with :class:`cumulo.services.object_session.AsyncObjectSession`.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import grpc

from cumulo import errors
from cumulo.object.v1 import object_pb2 as pb
from cumulo.object.v1 import object_pb2_grpc
from cumulo.services.object_batches import (
    DEFAULT_WINDOW,
    Operation,
    Outcome,
    pipeline,
    result_error,
)
from cumulo.services.object_wire import put_small_parts
from cumulo.types.v1 import types_pb2

if TYPE_CHECKING:
    from cumulo.client import Client

#: Bytes per upload message (the proxy and object servers are fastest at 1 MiB).
CHUNK_SIZE = 1 << 20

#: The most ``PutSmallObject`` / ``GetSmallObject`` carry (the proxy's limit).
SMALL_OBJECT_LIMIT = 1 << 20

#: ``progress(done, total)``; total is None when unknown.
Progress = Callable[[int, int | None], None]
Body = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes] | Iterable[bytes]


@dataclass
class Download:
    """An object being read: its metadata and served range, and an iterator of its bytes."""

    header: pb.GetObjectHeader
    chunks: Iterator[bytes]

    @property
    def info(self) -> pb.ObjectInfo:
        return self.header.object

    def read(self) -> bytes:
        return b"".join(self.chunks)


def _chunks_of(body: Body, chunk_size: int) -> tuple[Iterator[bytes], int | None, Any]:
    """(pieces, size if known, file to close)."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body)
        size = len(view)
        return (
            (bytes(view[i : i + chunk_size]) for i in range(0, size, chunk_size)),
            size,
            None,
        )
    if isinstance(body, str | os.PathLike):
        handle = open(body, "rb")  # noqa: SIM115 - closed by the caller
        size = os.fstat(handle.fileno()).st_size
        return iter(lambda: handle.read(chunk_size), b""), size, handle
    if hasattr(body, "read"):
        reader: IO[bytes] = body  # type: ignore[assignment]
        return iter(lambda: reader.read(chunk_size), b""), None, None
    return iter(body), None, None  # type: ignore[arg-type]


class ObjectsClient:
    """Containers and objects of the caller's project (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stub: object_pb2_grpc.ObjectServiceStub | None = None

    @property
    def stub(self) -> object_pb2_grpc.ObjectServiceStub:
        if self._stub is None:
            self._stub = object_pb2_grpc.ObjectServiceStub(self._client.object_channel)
        return self._stub

    def _call(self, method_name: str, request: Any) -> Any:
        try:
            return self._client.call(getattr(self.stub, method_name), request)
        except errors.Unavailable as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: errors.CumuloError) -> errors.CumuloError:
        """Name the object proxy, not the controller, when the proxy cannot be reached."""
        if isinstance(exc, errors.Unavailable) and exc.message.startswith("cannot reach Cumulo"):
            return errors.Unavailable(
                f"cannot reach the object proxy at {self._client.object_endpoint}",
                hint="is the cloud up (`cumulo up`)? or pass --object-endpoint HOST:PORT "
                "(or set $CUMULO_OBJECT_ENDPOINT)",
            )
        return exc

    def _metadata(self) -> list[tuple[str, str]]:
        return self._client._call_metadata(True)

    # -- account and containers ------------------------------------------------------

    def get_account(self, project_id: str = "") -> pb.Account:
        return self._call("GetAccount", pb.GetAccountRequest(project_id=project_id)).account

    def create_container(
        self,
        name: str,
        metadata: Mapping[str, str] | None = None,
        *,
        exist_ok: bool = False,
        project_id: str = "",
    ) -> pb.Container:
        request = pb.CreateContainerRequest(
            name=name, metadata=dict(metadata or {}), exist_ok=exist_ok, project_id=project_id
        )
        return self._call("CreateContainer", request).container

    def get_container(self, name: str, project_id: str = "") -> pb.Container:
        request = pb.GetContainerRequest(name=name, project_id=project_id)
        return self._call("GetContainer", request).container

    def update_container_metadata(
        self, name: str, metadata: Mapping[str, str], *, replace: bool = False
    ) -> pb.Container:
        request = pb.UpdateContainerMetadataRequest(
            name=name, metadata=dict(metadata), replace=replace
        )
        return self._call("UpdateContainerMetadata", request).container

    def delete_container(self, name: str, project_id: str = "") -> None:
        self._call("DeleteContainer", pb.DeleteContainerRequest(name=name, project_id=project_id))

    def list_containers(
        self, *, prefix: str = "", marker: str = "", limit: int = 0, page_size: int = 1000
    ) -> Iterator[pb.Container]:
        """Every container (at most ``limit`` if set), fetching pages as needed."""
        token = ""
        returned = 0
        while True:
            size = page_size if not limit else min(page_size, limit - returned)
            request = pb.ListContainersRequest(
                prefix=prefix,
                marker=marker,
                limit=size,
                page=types_pb2.PageRequest(page_token=token),
            )
            response = self._call("ListContainers", request)
            for container in response.containers:
                yield container
                returned += 1
            token = response.page.next_page_token
            if not token or (limit and returned >= limit):
                return

    # -- objects ------------------------------------------------------------------

    def put_object(
        self,
        container: str,
        name: str,
        body: Body,
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        size: int | None = None,
        md5: str = "",
        sha256: str = "",
        compute_sha256: bool = False,
        if_none_match: str = "",
        chunk_size: int = CHUNK_SIZE,
        progress: Progress | None = None,
        project_id: str = "",
    ) -> pb.ObjectInfo:
        """Upload ``body`` (bytes, a path, a binary file or an iterable of bytes).

        Bytes in memory of at most 1 MiB go in one unary PutSmallObject call; anything
        else (bigger, a file, an iterable) is a PutObject stream.
        """
        header = pb.PutObjectHeader(
            container=container,
            name=name,
            content_type=content_type,
            metadata=dict(metadata or {}),
            expected_md5=md5,
            expected_sha256=sha256,
            compute_sha256=compute_sha256,
            if_none_match=if_none_match,
            project_id=project_id,
        )
        if isinstance(body, bytes | bytearray | memoryview) and len(body) <= SMALL_OBJECT_LIMIT:
            if size is not None:
                header.size = size
            request = pb.PutSmallObjectRequest(header=header, data=bytes(body))
            info = self._call("PutSmallObject", request).object
            if progress is not None:
                progress(len(body), len(body))
            return info  # type: ignore[no-any-return]
        pieces, known, handle = _chunks_of(body, chunk_size)
        total = size if size is not None else known
        if total is not None:
            header.size = total

        def requests() -> Iterator[pb.PutObjectRequest]:
            # One message of lookahead, so the final one carries `last` (a cancelled
            # upload can never be mistaken for a complete one).
            done = 0
            pending = pb.PutObjectRequest(header=header)
            has_data = False
            for piece in pieces:
                if has_data:
                    yield pending
                    pending = pb.PutObjectRequest()
                pending.data = piece
                has_data = True
                done += len(piece)
                if progress is not None:
                    progress(done, total)
            pending.last = True
            yield pending

        try:
            response = self._client.call_stream(self.stub.PutObject, requests())
        except errors.Unavailable as exc:
            raise self._unreachable(exc) from None
        finally:
            if handle is not None:
                handle.close()
        return response.object  # type: ignore[no-any-return]

    def put_many(
        self,
        container: str,
        items: Iterable[tuple[str, bytes | bytearray | memoryview]],
        *,
        content_type: str = "",
        metadata: Mapping[str, str] | None = None,
        window: int = DEFAULT_WINDOW,
        progress: Progress | None = None,
        project_id: str = "",
    ) -> list[Outcome[pb.ObjectInfo]]:
        """Store many objects of at most 1 MiB each, pipelined over one ObjectSession.

        ``items`` yields ``(name, bytes)``; it is read as the window allows, so it may be
        a generator reading files.  Returns one :class:`Outcome` per item (``value``:
        the stored ``ObjectInfo``), in the order they finished.  A failed item carries
        its error (an item over 1 MiB is refused here, ``OBJECT_TOO_LARGE``) and the
        others go on.  ``progress(done, None)`` counts finished items.  A failure of the
        stream itself (proxy unreachable, token refused) is raised.
        """
        outcomes: list[Outcome[pb.ObjectInfo]] = []

        def finished(outcome: Outcome[pb.ObjectInfo]) -> None:
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes), None)

        # Filled by gRPC's sending thread, which runs operations(); drained here only.
        refused: collections.deque[Outcome[pb.ObjectInfo]] = collections.deque()

        def operations() -> Iterator[Operation[str]]:
            for name, data in items:
                size = memoryview(data).nbytes
                if size > SMALL_OBJECT_LIMIT:
                    error = errors.InvalidArgument(
                        f"{name!r} has {size} bytes; put_many stores objects of at most "
                        f"{SMALL_OBJECT_LIMIT}",
                        field="data",
                        reason="OBJECT_TOO_LARGE",
                        hint="upload it with put_object (a PutObject stream)",
                    )
                    refused.append(Outcome(name, error=error))  # reported by the caller's thread
                    continue
                header = pb.PutObjectHeader(
                    container=container,
                    name=name,
                    size=size,
                    content_type=content_type,
                    metadata=dict(metadata or {}),
                    project_id=project_id,
                )
                yield Operation(name, "put", put_small_parts(header.SerializeToString(), data))

        for name, result in self._pipeline(operations(), window):
            while refused:
                finished(refused.popleft())
            error = result_error(result)
            finished(Outcome(name, None if error else result.put.object, error))
        while refused:
            finished(refused.popleft())
        return outcomes

    def get_many(
        self,
        container: str,
        names: Iterable[str],
        *,
        window: int = DEFAULT_WINDOW,
        project_id: str = "",
    ) -> Iterator[Outcome[pb.GetSmallObjectResponse]]:
        """Read many objects of at most 1 MiB each, pipelined over one ObjectSession.

        Yields one :class:`Outcome` per name as results arrive (in the order they
        finished, not the order asked): ``value`` is the ``GetSmallObjectResponse``
        (``.data``, ``.header.object``); a failed one carries its error (``NotFound``,
        ``OBJECT_TOO_LARGE`` for a bigger object: use :meth:`get_object`).
        """

        def operations() -> Iterator[Operation[str]]:
            for name in names:
                request = pb.GetObjectRequest(container=container, name=name, project_id=project_id)
                yield Operation(name, "get", [request.SerializeToString()])

        for name, result in self._pipeline(operations(), window):
            error = result_error(result)
            yield Outcome(name, None if error else result.get, error)

    def _pipeline(
        self, operations: Iterator[Operation[str]], window: int
    ) -> Iterator[tuple[str, pb.SessionResult]]:
        try:
            yield from pipeline(
                self._client.object_channel, self._metadata(), operations, window=window
            )
        except grpc.RpcError as exc:
            raise self._unreachable(self._client.translate(exc)) from None

    def get_object(
        self,
        container: str,
        name: str,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str = "",
        if_none_match: str = "",
        project_id: str = "",
    ) -> Download:
        """Start reading; ``range=(start, end)`` is [start, end), end None = to the end."""
        request = pb.GetObjectRequest(
            container=container,
            name=name,
            if_match=if_match,
            if_none_match=if_none_match,
            project_id=project_id,
        )
        if range is not None:
            request.range.start = range[0]
            if range[1] is not None:
                request.range.end = range[1]
        call = self.stub.GetObject(request, metadata=self._metadata())
        client = self._client
        try:
            first = next(call)
        except grpc.RpcError as exc:
            raise self._unreachable(client.translate(exc)) from None

        def chunks() -> Iterator[bytes]:
            try:
                if first.data:
                    yield first.data
                for message in call:
                    yield message.data
            except grpc.RpcError as exc:
                raise client.translate(exc) from None
            finally:
                call.cancel()

        return Download(first.header, chunks())

    def get_small_object(
        self,
        container: str,
        name: str,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str = "",
        if_none_match: str = "",
        project_id: str = "",
    ) -> pb.GetSmallObjectResponse:
        """An object of at most 1 MiB (or a range of it) in one unary call: header and data.

        A bigger or large (segmented) object is :class:`~cumulo.errors.Conflict` with reason
        ``OBJECT_TOO_LARGE`` (use :meth:`get_object`).
        """
        request = pb.GetObjectRequest(
            container=container,
            name=name,
            if_match=if_match,
            if_none_match=if_none_match,
            project_id=project_id,
        )
        if range is not None:
            request.range.start = range[0]
            if range[1] is not None:
                request.range.end = range[1]
        return self._call("GetSmallObject", request)  # type: ignore[no-any-return]

    def read_object(
        self,
        container: str,
        name: str,
        *,
        range: tuple[int, int | None] | None = None,
        size_hint: int | None = None,
    ) -> bytes:
        """The object's bytes in memory (small objects).

        With ``size_hint`` (the size the caller expects) at most 1 MiB, one unary
        GetSmallObject call; should the object turn out bigger (OBJECT_TOO_LARGE), it is
        read again with the GetObject stream.  Without a hint, always the stream: a
        first unary attempt would cost large objects an extra round trip.
        """
        if size_hint is not None and size_hint <= SMALL_OBJECT_LIMIT:
            try:
                return bytes(self.get_small_object(container, name, range=range).data)
            except errors.Conflict as exc:
                if exc.reason != "OBJECT_TOO_LARGE":
                    raise
        return self.get_object(container, name, range=range).read()

    def download_object(
        self,
        container: str,
        name: str,
        path: str | os.PathLike[str],
        *,
        range: tuple[int, int | None] | None = None,
        progress: Progress | None = None,
    ) -> pb.ObjectInfo:
        """Write the object (or range) to ``path`` (via a temporary file, renamed at the end)."""
        download = self.get_object(container, name, range=range)
        total = download.header.end - download.header.start
        partial = f"{os.fspath(path)}.partial"
        done = 0
        try:
            with open(partial, "wb") as handle:
                for chunk in download.chunks:
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        return download.info

    def head_object(self, container: str, name: str, project_id: str = "") -> pb.ObjectInfo:
        request = pb.HeadObjectRequest(container=container, name=name, project_id=project_id)
        return self._call("HeadObject", request).object

    def delete_object(self, container: str, name: str, project_id: str = "") -> str:
        """Delete; returns the tombstone's version."""
        request = pb.DeleteObjectRequest(container=container, name=name, project_id=project_id)
        return str(self._call("DeleteObject", request).version)

    def copy_object(
        self,
        source_container: str,
        source_name: str,
        destination_container: str,
        destination_name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        if_match: str = "",
    ) -> pb.ObjectInfo:
        """Copy server-side; ``metadata``/``content_type`` replace the source's when given."""
        replace = metadata is not None or content_type is not None
        request = pb.CopyObjectRequest(
            source_container=source_container,
            source_name=source_name,
            destination_container=destination_container,
            destination_name=destination_name,
            replace_metadata=replace,
            metadata=dict(metadata or {}),
            content_type=content_type or "",
            if_match=if_match,
        )
        return self._call("CopyObject", request).object

    def list_objects_page(
        self,
        container: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        limit: int = 0,
        page_token: str = "",
    ) -> pb.ListObjectsResponse:
        """One page as the API returns it."""
        request = pb.ListObjectsRequest(
            container=container,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            limit=limit,
            page=types_pb2.PageRequest(page_token=page_token),
        )
        return self._call("ListObjects", request)

    def list_objects(
        self,
        container: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        limit: int = 0,
        page_size: int = 1000,
    ) -> Iterator[pb.ObjectEntry | str]:
        """Objects (and, with a delimiter, common prefixes as ``str``) in name order."""
        token = ""
        returned = 0
        while True:
            size = page_size if not limit else min(page_size, limit - returned)
            page = self.list_objects_page(
                container,
                prefix=prefix,
                delimiter=delimiter,
                marker=marker,
                limit=size,
                page_token=token,
            )
            entries: list[tuple[str, pb.ObjectEntry | str]] = [(o.name, o) for o in page.objects]
            entries += [(p, p) for p in page.common_prefixes]
            entries.sort(key=lambda item: item[0])
            for _, entry in entries:
                yield entry
                returned += 1
            token = page.page.next_page_token
            if not token or (limit and returned >= limit):
                return
