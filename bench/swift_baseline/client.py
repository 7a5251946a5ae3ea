"""A small asyncio HTTP/1.1 client and the Swift :class:`ObjectBackend` built on it.

Benchmark tooling, not part of the SDK: it lets the same load runner that drives
Cumulo's gRPC API drive OpenStack Swift's HTTP API (``/v1/AUTH_<account>/...`` with an
``X-Auth-Token`` from tempauth), so the comparison differs only in the system under
test.

The HTTP client keeps one keep-alive connection per concurrent request (a pool that
grows to ``max_connections``), writes each request in one go, and parses only what
Swift sends: a status line, headers, then a body framed by ``Content-Length`` or
chunked encoding.  No third-party HTTP stack, so its cost per operation stays small
and is measured by the runner (``client_cpu_ms_per_op``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cumulo.loadtest.backend import ListPage, OpError

#: Bytes read per ``read`` when a body is discarded rather than kept.
READ_SIZE = 1024 * 1024


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Body bytes received (equals len(body) unless the body was discarded).
    length: int


class HttpError(OpError):
    """A response with an unexpected status; ``kind`` is ``HTTP_<status>``."""

    def __init__(self, status: int, method: str, path: str) -> None:
        super().__init__(f"HTTP_{status}", f"{method} {path} answered {status}")
        self.status = status


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HttpClient:
    """HTTP/1.1 to one ``host:port`` over a pool of keep-alive connections."""

    def __init__(
        self, host: str, port: int, *, max_connections: int = 64, buffer_size: int = 1024 * 1024
    ) -> None:
        self.host = host
        self.port = port
        self.max_connections = max_connections
        #: StreamReader buffer: big enough that a 1 MiB body arrives in few wake-ups.
        self.buffer_size = buffer_size
        self._idle: list[_Connection] = []
        self._open = 0
        self._available = asyncio.Condition()
        self.connections_made = 0

    async def _acquire(self) -> _Connection:
        async with self._available:
            while not self._idle and self._open >= self.max_connections:
                await self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=self.buffer_size
            )
        except BaseException:
            await self._release(None)
            raise
        self.connections_made += 1
        return _Connection(reader, writer)

    async def _release(self, connection: _Connection | None) -> None:
        async with self._available:
            if connection is None:
                self._open -= 1
            else:
                self._idle.append(connection)
            self._available.notify()

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | memoryview = b"",
        *,
        keep_body: bool = True,
    ) -> Response:
        """Send one request and read the whole response (discarding the body unless
        ``keep_body``).  A broken connection is dropped, never reused."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        connection = await self._acquire()
        try:
            connection.writer.write(head)
            if body:
                connection.writer.write(body)
            response, reusable = await self._read_response(connection.reader, method, keep_body)
        except BaseException:
            connection.close()
            await self._release(None)
            raise
        if reusable:
            await self._release(connection)
        else:
            connection.close()
            await self._release(None)
        return response

    async def _read_response(
        self, reader: asyncio.StreamReader, method: str, keep_body: bool
    ) -> tuple[Response, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            if status >= 200 or status == 101:
                break  # 1xx interim responses carry no body: read the real one
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        reusable = headers.get("connection", "").lower() != "close"
        chunks: list[bytes] = []
        length = 0
        if method == "HEAD" or status in (204, 304):
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await _skip_trailers(reader)
                    break
                data = await reader.readexactly(size + 2)
                length += size
                if keep_body:
                    chunks.append(data[:-2])
        elif "content-length" in headers:
            remaining = int(headers["content-length"])
            length = remaining
            if keep_body:
                chunks.append(await reader.readexactly(remaining))
            else:
                while remaining:
                    data = await reader.read(min(remaining, READ_SIZE))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    remaining -= len(data)
        else:
            data = await reader.read()
            length = len(data)
            chunks.append(data)
            reusable = False
        return Response(status, headers, b"".join(chunks), length), reusable

    async def close(self) -> None:
        async with self._available:
            for connection in self._idle:
                connection.close()
            self._open -= len(self._idle)
            self._idle.clear()


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass


def _expect(response: Response, method: str, path: str, *ok: int) -> Response:
    if response.status not in ok:
        raise HttpError(response.status, method, path)
    return response


class SwiftBackend:
    """OpenStack Swift's object API through tempauth, as an ``ObjectBackend``.

    ``auth_url`` is tempauth's v1 endpoint (``http://127.0.0.1:8080/auth/v1.0``); the
    storage URL and token come from its answer.  ``connections`` bounds the keep-alive
    pool; give at least the runner's concurrency so no request waits for a connection.
    """

    def __init__(self, auth_url: str, user: str, key: str, *, connections: int = 64) -> None:
        parts = urlsplit(auth_url)
        self.auth_url = auth_url
        self.auth_path = parts.path or "/auth/v1.0"
        self.user = user
        self.key = key
        self.http = HttpClient(
            parts.hostname or "127.0.0.1", parts.port or 80, max_connections=connections
        )
        self.token = ""
        self.account_path = ""

    async def authenticate(self) -> None:
        response = await self.http.request(
            "GET", self.auth_path, {"X-Auth-User": self.user, "X-Auth-Key": self.key}
        )
        _expect(response, "GET", self.auth_path, 200)
        self.token = response.headers["x-auth-token"]
        self.account_path = urlsplit(response.headers["x-storage-url"]).path

    def _path(self, container: str, name: str = "") -> str:
        path = f"{self.account_path}/{quote(container, safe='')}"
        return f"{path}/{quote(name)}" if name else path

    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    async def prepare(self, container: str) -> None:
        if not self.token:
            await self.authenticate()
        path = self._path(container)
        _expect(await self.http.request("PUT", path, self._headers()), "PUT", path, 201, 202)

    async def put_object(self, container: str, name: str, data: memoryview) -> None:
        path = self._path(container, name)
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/octet-stream"}
        _expect(await self.http.request("PUT", path, headers, data), "PUT", path, 201)

    async def get_object(self, container: str, name: str) -> int:
        path = self._path(container, name)
        response = await self.http.request("GET", path, self._headers(), keep_body=False)
        return _expect(response, "GET", path, 200).length

    async def head_object(self, container: str, name: str) -> int:
        path = self._path(container, name)
        response = _expect(
            await self.http.request("HEAD", path, self._headers()), "HEAD", path, 200
        )
        return int(response.headers.get("content-length", "0"))

    async def delete_object(self, container: str, name: str) -> None:
        path = self._path(container, name)
        _expect(await self.http.request("DELETE", path, self._headers()), "DELETE", path, 204)

    async def list_objects(
        self, container: str, *, prefix: str, marker: str, limit: int
    ) -> ListPage:
        query = f"format=json&limit={limit}&prefix={quote(prefix)}&marker={quote(marker)}"
        path = f"{self._path(container)}?{query}"
        response = _expect(
            await self.http.request("GET", path, self._headers()), "GET", path, 200, 204
        )
        entries = json.loads(response.body) if response.body else []
        names = [entry["name"] for entry in entries]
        return ListPage(names, len(names) >= limit)

    async def close(self) -> None:
        await self.http.close()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "swift",
            "auth_url": self.auth_url,
            "account_path": self.account_path,
            "max_connections": self.http.max_connections,
            "connections_made": self.http.connections_made,
        }
