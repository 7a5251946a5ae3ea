"""The Swift HTTP backend (bench/swift_baseline/client.py) against a tiny Swift-like HTTP server.

No Swift needed: the server below speaks just enough of Swift's API (tempauth's
/auth/v1.0, object PUT/GET/HEAD/DELETE, JSON container listings) over keep-alive
HTTP/1.1, with switches for a chunked listing, failures and closing connections.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bench.swift_baseline.client import HttpClient, HttpError, SwiftBackend
from cumulo.loadtest.runner import Runner
from cumulo.loadtest.sizes import FixedSize
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload

TOKEN = "AUTH_tk0123"


class FakeSwift(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.objects: dict[str, bytes] = {}
        self.containers: set[str] = set()
        self.lock = threading.Lock()
        self.fail_every = 0
        self.requests = 0
        self.chunked_listings = False
        self.close_every = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeSwift

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        with self.server.lock:
            self.server.requests += 1
            count = self.server.requests
        if self.server.close_every and count % self.server.close_every == 0:
            self.send_header("Connection", "close")
            self.close_connection = True
        if self.server.chunked_listings and "format=json" in self.path:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                piece = body[i : i + 7]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.command != "HEAD" or "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> tuple[str, str] | None:
        if self.headers.get("X-Auth-Token") != TOKEN:
            self._send(401, b"Unauthorized")
            return None
        parts = urlsplit(self.path).path.split("/", 4)
        if len(parts) < 4 or parts[1] != "v1" or parts[2] != "AUTH_test":
            self._send(404)
            return None
        return unquote(parts[3]), unquote(parts[4]) if len(parts) > 4 else ""

    def do_GET(self) -> None:
        if self.path.startswith("/auth/v1.0"):
            if self.headers.get("X-Auth-User") == "test:tester":
                port = self.server.server_address[1]
                self._send(
                    200,
                    headers={
                        "X-Auth-Token": TOKEN,
                        "X-Storage-Url": f"http://127.0.0.1:{port}/v1/AUTH_test",
                    },
                )
            else:
                self._send(401)
            return
        route = self._route()
        if route is None:
            return
        container, name = route
        if not name:
            query = parse_qs(urlsplit(self.path).query)
            limit = int(query.get("limit", ["10000"])[0])
            prefix = query.get("prefix", [""])[0]
            marker = query.get("marker", [""])[0]
            names = sorted(
                n.split("/", 1)[1]
                for n in self.server.objects
                if n.startswith(container + "/") and n.split("/", 1)[1].startswith(prefix)
            )
            page = [{"name": n} for n in names if n > marker][:limit]
            self._send(200, json.dumps(page).encode(), {"Content-Type": "application/json"})
            return
        data = self.server.objects.get(f"{container}/{name}")
        if data is None:
            self._send(404, b"Not Found")
        else:
            self._send(200, data)

    def do_HEAD(self) -> None:
        route = self._route()
        if route is None:
            return
        data = self.server.objects.get("/".join(route))
        if data is None:
            self._send(404)
        else:
            self._send(200, headers={"Content-Length": str(len(data))})

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        route = self._route()
        if route is None:
            return
        container, name = route
        if not name:
            self.server.containers.add(container)
            self._send(201)
            return
        with self.server.lock:
            fail = self.server.fail_every and len(self.server.objects) % self.server.fail_every == 0
            if fail:
                self.server.objects[f"{container}/__failed_{len(self.server.objects)}"] = b""
        if fail:
            self._send(503, b"Service Unavailable")
            return
        self.server.objects[f"{container}/{name}"] = body
        self._send(201)

    def do_DELETE(self) -> None:
        route = self._route()
        if route is None:
            return
        if self.server.objects.pop("/".join(route), None) is None:
            self._send(404)
        else:
            self._send(204)


@pytest.fixture
def fake_swift() -> Iterator[FakeSwift]:
    server = FakeSwift()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def backend_for(server: FakeSwift, connections: int = 8) -> SwiftBackend:
    port = server.server_address[1]
    return SwiftBackend(
        f"http://127.0.0.1:{port}/auth/v1.0", "test:tester", "testing", connections=connections
    )


def run_workload(server: FakeSwift, workload: Workload, connections: int = 8) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        backend = backend_for(server, connections)
        try:
            result = await Runner(backend, workload).run()
        finally:
            await backend.close()
        return result.to_dict()

    return asyncio.run(main())


def phase(op: Op, count: int, concurrency: int = 4, size: int = 3000) -> PhaseSpec:
    return PhaseSpec(Mix.single(op), count=count, concurrency=concurrency, sizes=FixedSize(size))


def test_every_phase_over_keep_alive(fake_swift: FakeSwift) -> None:
    workload = Workload(
        (
            phase(Op.PUT, 40),
            phase(Op.GET, 30),
            phase(Op.HEAD, 10),
            phase(Op.LIST, 5, concurrency=1),
            phase(Op.DELETE, 15),
        ),
        container="bench",
        prefix="run/",
        list_limit=12,
    )
    result = run_workload(fake_swift, workload)
    phases = {p["name"]: p for p in result["phases"]}
    assert [phases[n]["completed"] for n in ("put", "get", "head", "list", "delete")] == [
        40,
        30,
        10,
        5,
        15,
    ]
    assert all(p["errors"] == 0 for p in phases.values())
    assert phases["get"]["bytes"] == 30 * 3000
    assert phases["list"]["items"] == 12 + 12 + 12 + 4 + 12  # wraps after the last page
    assert len(fake_swift.objects) == 25
    assert "bench" in fake_swift.containers
    # keep-alive: no more connections than concurrent requests
    assert result["backend"]["connections_made"] <= 8
    assert result["backend"]["account_path"] == "/v1/AUTH_test"


def test_chunked_listing_and_closed_connections(fake_swift: FakeSwift) -> None:
    fake_swift.chunked_listings = True
    fake_swift.close_every = 3
    workload = Workload(
        (phase(Op.PUT, 20), phase(Op.LIST, 3, concurrency=1), phase(Op.GET, 20)),
        prefix="p/",
        list_limit=50,
    )
    result = run_workload(fake_swift, workload)
    put, listing, get = result["phases"]
    assert listing["items"] == 60 and listing["errors"] == 0
    assert put["errors"] == get["errors"] == 0
    assert result["backend"]["connections_made"] > 8  # servers' closes were honoured


def test_http_errors_are_counted_by_status(fake_swift: FakeSwift) -> None:
    fake_swift.fail_every = 5
    result = run_workload(fake_swift, Workload((phase(Op.PUT, 30, concurrency=1),), prefix="e/"))
    (put,) = result["phases"]
    assert put["completed"] + put["errors"] == 30
    assert put["errors"] > 0
    assert set(put["errors_by_kind"]) == {"HTTP_503"}


def test_missing_object_is_http_404(fake_swift: FakeSwift) -> None:
    async def main() -> None:
        backend = backend_for(fake_swift)
        await backend.prepare("c")
        with pytest.raises(HttpError) as caught:
            await backend.get_object("c", "nope")
        assert caught.value.kind == "HTTP_404"
        await backend.put_object("c", "a b/ü", memoryview(b"xyz"))
        assert await backend.head_object("c", "a b/ü") == 3
        assert await backend.get_object("c", "a b/ü") == 3
        await backend.close()

    asyncio.run(main())


def test_http_client_bounds_connections(fake_swift: FakeSwift) -> None:
    async def main() -> int:
        client = HttpClient("127.0.0.1", fake_swift.server_address[1], max_connections=2)
        responses = await asyncio.gather(
            *(client.request("GET", "/auth/v1.0", {"X-Auth-User": "x"}) for _ in range(10))
        )
        assert {r.status for r in responses} == {401}
        await client.close()
        return client.connections_made

    assert asyncio.run(main()) <= 2
