"""The load runner's Cumulo backend against a fake ``cumulo.object.v1.ObjectService``.

The fake keeps objects in a dict and is served by a real grpc.aio server on
127.0.0.1 port 0, so the backend's streams, metadata, paging and error mapping are
exercised over the wire.  The real proxy has its own tests; this one is about the
load generator.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cumulo import errors
from cumulo.cli.main import main
from cumulo.loadtest.grpc_backend import CumuloObjectBackend
from cumulo.loadtest.runner import Runner
from cumulo.loadtest.sizes import FixedSize, parse_sizes
from cumulo.loadtest.workload import Mix, Op, PhaseSpec, Workload, parse_mix
from tests.helpers.objectservice import TOKEN, FakeObjectService, serve
from tests.helpers.servers import BackgroundLoop


def run(
    servicer: FakeObjectService, workload: Workload, token: str = TOKEN, api: str = "session"
) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        server, endpoint = await serve(servicer)
        backend = CumuloObjectBackend(endpoint, token, channels=2, api=api, sessions=3)
        try:
            return (await Runner(backend, workload).run()).to_dict()
        finally:
            # Stopped even when the run or the close fails: a gRPC server left
            # running keeps its threads, and pytest then hangs at exit.
            try:
                await backend.close()
            finally:
                await server.stop(None)

    return asyncio.run(main())


def phase(op: Op, count: int, concurrency: int = 4, sizes: Any = None) -> PhaseSpec:
    return PhaseSpec(
        Mix.single(op), count=count, concurrency=concurrency, sizes=sizes or FixedSize(4096)
    )


def test_every_phase_with_exact_counts() -> None:
    fake = FakeObjectService(page_cap=7)
    workload = Workload(
        (
            phase(Op.PUT, 30, sizes=parse_sizes("4KiB:2,2500KiB:1")),
            phase(Op.GET, 25, concurrency=8),
            phase(Op.HEAD, 12),
            phase(Op.LIST, 6, concurrency=1),
            phase(Op.DELETE, 10),
        ),
        container="bench",
        prefix="run/",
        list_limit=10,
        seed=5,
    )
    result = run(fake, workload)
    phases = {p["name"]: p for p in result["phases"]}
    assert [phases[n]["completed"] for n in ("put", "get", "head", "list", "delete")] == [
        30,
        25,
        12,
        6,
        10,
    ]
    assert all(p["errors"] == 0 for p in phases.values()), result
    stored = fake.containers["bench"]
    assert len(stored) == 20
    big = 2500 * 1024
    # A 2500 KiB object goes up as three 1 MiB-or-less messages; 4 KiB as one.
    assert set(fake.put_messages) <= {1, 3} and 3 in fake.put_messages
    assert phases["put"]["bytes"] == sum(1 if m == 1 else 0 for m in fake.put_messages) * 4096 + (
        sum(1 for m in fake.put_messages if m == 3) * big
    )
    # LIST pages: the server caps pages at 7, the runner follows next_page_token
    # through 30 names (7+7+7+7+2) and starts again.
    assert phases["list"]["items"] == 7 * 4 + 2 + 7
    assert result["backend"]["kind"] == "cumulo"


@pytest.mark.parametrize("api", ["session", "unary", "stream"])
def test_small_objects_take_the_api_they_are_told(api: str) -> None:
    fake = FakeObjectService()
    sizes = parse_sizes("4KiB:1,1MiB:1,2MiB:1")
    workload = Workload(
        (phase(Op.PUT, 30, sizes=sizes), phase(Op.GET, 30, concurrency=8)),
        container="bench",
        seed=3,
    )
    result = run(fake, workload, api=api)
    put, get = result["phases"]
    assert put["completed"] == 30 and get["completed"] == 30, result
    assert put["errors"] == 0 and get["errors"] == 0, result
    stored = fake.containers["bench"]
    small = sum(1 for data in stored.values() if len(data) <= 1 << 20)
    assert 0 < small < 30
    # Objects of at most 1 MiB take the API named (a PUT and its GETs each), bigger
    # ones the streams whatever it is.
    small_ops = {"session": fake.session_operations, "unary": fake.small_calls}
    assert small_ops.get(api, small + 1) > small
    assert fake.small_calls == 0 or api == "unary"
    assert fake.session_operations == 0 or api == "session"
    assert (fake.sessions > 0) is (api == "session")
    assert sum(1 for m in fake.put_messages if m > 1) == 30 - small  # the 2 MiB ones
    assert get["bytes"] > 0 and result["backend"]["small_objects_api"] == api


def test_count_is_exact_for_a_mix() -> None:
    fake = FakeObjectService()
    workload = Workload(
        (PhaseSpec(parse_mix("put=40,get=40,head=10,delete=10"), count=123, concurrency=16),),
        prefill=20,
        seed=9,
    )
    result = run(fake, workload)
    prefill, mix = result["phases"]
    assert prefill["completed"] == 20
    assert mix["completed"] + mix["errors"] + mix["skipped"] == 123
    assert mix["errors"] == 0
    puts = mix["by_op"]["put"]["ops"]
    deletes = mix["by_op"].get("delete", {"ops": 0})["ops"]
    assert len(fake.containers["bench"]) == 20 + puts - deletes


def test_errors_are_counted_not_fatal() -> None:
    fake = FakeObjectService(fail_put_every=3)
    workload = Workload((phase(Op.PUT, 30), phase(Op.GET, 10)), container="c")
    result = run(fake, workload)
    put, get = result["phases"]
    assert put["completed"] == 20 and put["errors"] == 10
    assert put["errors_by_kind"] == {"UNAVAILABLE": 10}
    assert get["completed"] == 10 and get["errors"] == 0  # only stored objects are read


def test_missing_objects_count_by_reason() -> None:
    fake = FakeObjectService()

    async def main() -> dict[str, Any]:
        server, endpoint = await serve(fake)
        backend = CumuloObjectBackend(endpoint, TOKEN)
        try:
            runner = Runner(backend, Workload((phase(Op.PUT, 5),), container="c"))
            await runner.run()
            fake.containers["c"].clear()  # gone behind the runner's back
            result = await runner.run_phase(phase(Op.GET, 8))
        finally:
            try:
                await backend.close()
            finally:
                await server.stop(None)
        return result.to_dict()

    get = asyncio.run(main())
    assert get["completed"] == 0 and get["errors"] == 8
    assert get["errors_by_kind"] == {"OBJECT_NOT_FOUND": 8}


def test_bad_token_is_unauthenticated() -> None:
    with pytest.raises(errors.Unauthenticated):
        run(FakeObjectService(), Workload((phase(Op.PUT, 1),)), token="wrong")


def test_cli_runs_against_an_endpoint(
    background_loop: BackgroundLoop,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeObjectService()
    server, endpoint = background_loop.run(serve(fake))
    try:
        argv = [
            "bench", "objects", "--endpoint", endpoint, "--token", TOKEN,
            "--phases", "put,get,head,list,delete", "--count", "12", "--concurrency", "3",
            "--size-range", "1KiB-3KiB", "--container", "cli", "--output",
            str(tmp_path / "out.json"), "--json",
        ]  # fmt: skip
        assert main(argv) == 0
        # The proxy from the environment, as for `cumulo object`.
        monkeypatch.setenv("CUMULO_OBJECT_ENDPOINT", endpoint)
        argv = ["bench", "objects", "--token", TOKEN, "--count", "2", "--container", "env"]
        assert main(argv) == 0
    finally:
        background_loop.run(server.stop(None))
    out = capsys.readouterr().out
    result = json.loads(out[: out.index("\n}\n") + 2])  # the first run's JSON; a table follows
    assert json.loads((tmp_path / "out.json").read_text())["phases"] == result["phases"]
    assert [p["completed"] for p in result["phases"]] == [12, 12, 12, 12, 12]
    assert result["backend"]["endpoint"] == endpoint
    assert len(fake.containers["cli"]) == 0
    assert len(fake.containers["env"]) == 2


def test_cli_without_a_proxy_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUMULO_OBJECT_ENDPOINT", raising=False)
    monkeypatch.setenv("CUMULO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["bench", "objects", "--token", TOKEN, "--count", "1"]) == 1
    err = capsys.readouterr().err
    assert "no object proxy to load: no local cloud is running" in err
    assert "--endpoint" in err
