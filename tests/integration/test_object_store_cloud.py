"""The object store of `cumulo up`: CLI round trip, and a storage node killed under a PUT load.

Every test runs against both places the all-in-one can serve the object API from
(``storage.allinone_proxy``): a proxy process, and every storage node."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo import errors
from cumulo.client import Client
from tests.helpers.ports import STORAGE_ON_FREE_PORTS, free_port
from tests.helpers.tools import cumulo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["process", "nodes"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], dict]]:
    root = tmp_path_factory.mktemp(f"objcloud-{request.param}")
    env = dict(os.environ)
    env.pop("CUMULO_ENDPOINT", None)
    env.pop("CUMULO_OBJECT_ENDPOINT", None)
    env.update(STORAGE_ON_FREE_PORTS)
    env.update(
        CUMULO_DATA_DIR=str(root / "data"),
        CUMULO_CONTROLLER_LISTEN=f"127.0.0.1:{free_port()}",
        XDG_CONFIG_HOME=str(root / "config"),
        CUMULO_STORAGE_ALLINONE_PROXY=request.param,
    )
    up = cumulo(env, "--json", "up", "--detach", timeout=180)
    assert up.returncode == 0, up.stderr
    started = json.loads(up.stdout)
    try:
        yield env, started
    finally:
        cumulo(env, "down")


def test_up_starts_three_storage_nodes_and_the_object_api(cloud) -> None:  # type: ignore[no-untyped-def]
    env, started = cloud
    endpoints = started["endpoints"]
    assert {"storage-node1", "storage-node2", "storage-node3", "object-proxy"} <= set(endpoints)
    api = endpoints["object-proxy"].split(",")
    assert not set(api) & {endpoints[f"storage-node{n}"] for n in (1, 2, 3)}
    processes = _pids(Path(env["CUMULO_DATA_DIR"]))
    assert {"node1", "node2", "node3"} <= set(processes)
    if env["CUMULO_STORAGE_ALLINONE_PROXY"] == "nodes":
        # One API port per node, and no proxy process.
        assert len(set(api)) == 3 and "proxy" not in processes
    else:
        assert len(api) == 1 and "proxy" in processes
    data = Path(env["CUMULO_DATA_DIR"])
    assert (data / "storage" / "object.ring").exists()
    assert (data / "storage" / "object.builder").exists()
    human = cumulo(env, "container", "list")
    assert human.returncode == 0, human.stderr


def test_cli_round_trip(cloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = cloud
    assert cumulo(env, "container", "create", "photos", "--meta", "owner=me").returncode == 0
    payload = os.urandom(6 << 20)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    put = cumulo(env, "object", "put", "photos", "dir/big.bin", str(source), "--progress")
    assert put.returncode == 0, put.stderr
    assert "100%" in put.stderr
    assert cumulo(env, "object", "put", "photos", "small.txt", str(source)).returncode == 0
    target = tmp_path / "back.bin"
    get = cumulo(env, "object", "get", "photos", "dir/big.bin", "-o", str(target))
    assert get.returncode == 0, get.stderr
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
    command = [sys.executable, "-m", "cumulo.cli.main", "object", "get", "photos"]
    part = subprocess.run(
        [*command, "dir/big.bin", "-o", "-", "--range", "10-20"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert part.returncode == 0 and part.stdout == payload[10:20]
    listed = json.loads(cumulo(env, "--json", "object", "list", "photos").stdout)
    assert [e["name"] for e in listed] == ["dir/big.bin", "small.txt"]
    rolled = json.loads(
        cumulo(env, "--json", "object", "list", "photos", "--delimiter", "/").stdout
    )
    assert rolled == [{"prefix": "dir/"}, rolled[1]] and rolled[1]["name"] == "small.txt"
    shown = json.loads(cumulo(env, "--json", "container", "show", "photos").stdout)
    assert int(shown["object_count"]) == 2 and shown["metadata"] == {"owner": "me"}
    head = json.loads(cumulo(env, "--json", "object", "head", "photos", "small.txt").stdout)
    assert head["etag"] == hashlib.md5(payload).hexdigest()
    assert (
        cumulo(env, "object", "copy", "photos", "small.txt", "photos", "copy.txt").returncode == 0
    )
    assert cumulo(env, "object", "delete", "photos", "small.txt").returncode == 0
    missing = cumulo(env, "object", "head", "photos", "small.txt")
    assert missing.returncode == 1 and "not found" in missing.stderr
    refused = cumulo(env, "container", "delete", "photos")
    assert refused.returncode == 1 and "still holds" in refused.stderr
    changed = json.loads(
        cumulo(env, "--json", "container", "set", "photos", "owner=", "tier=gold").stdout
    )
    assert changed["metadata"] == {"tier": "gold"}
    account = json.loads(cumulo(env, "--json", "container", "account").stdout)
    assert int(account["container_count"]) >= 1 and int(account["object_count"]) >= 2
    listed = cumulo(env, "container", "list")
    assert "photos" in listed.stdout and "SHARDS" in listed.stdout
    assert cumulo(env, "container", "create", "empty").returncode == 0
    assert cumulo(env, "container", "delete", "empty").returncode == 0
    bad = cumulo(env, "object", "put", "photos", "a/../b", str(source))
    assert bad.returncode == 1 and "error" in bad.stderr
    # The operator's view of the local nodes, found (nodes, credential) without flags.
    replicated = json.loads(cumulo(env, "--json", "storage", "replicate").stdout)
    assert [n["node"] for n in replicated["nodes"]] == [f"storage-node{n}" for n in (1, 2, 3)]
    assert all(p.get("errors", "0") in (0, "0") for n in replicated["nodes"] for p in n["passes"])
    status = cumulo(env, "storage", "status")
    assert status.returncode == 0 and "storage-node3" in status.stdout, status.stderr


def _node_pid(devices_root: Path) -> int:
    """The pid of the storage node serving ``devices_root`` (unique to this test's data dir)."""
    wanted = str(devices_root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"storage.object" in argv and wanted.encode() in argv:
            return int(entry.name)
    raise AssertionError(f"no storage node serves {wanted}")


def test_cli_many_objects_at_once(cloud, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = cloud
    assert cumulo(env, "container", "create", "many").returncode == 0
    source = tmp_path / "src"
    bodies = {}
    for n in range(40):
        path = source / f"d{n % 3}" / f"f{n:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        bodies[f"up/src/d{n % 3}/f{n:02d}.txt"] = os.urandom(n * 97)
        path.write_bytes(bodies[f"up/src/d{n % 3}/f{n:02d}.txt"])
    big = source / "big.bin"  # past what a session carries: streamed instead
    big.write_bytes(os.urandom((1 << 20) + 5))
    bodies["up/src/big.bin"] = big.read_bytes()
    # Names are the paths as given, here relative to tmp_path.
    put = cumulo(
        env, "--json", "object", "put-many", "many", "src", "--prefix", "up/", cwd=str(tmp_path)
    )
    assert put.returncode == 0, put.stderr
    report = json.loads(put.stdout)
    assert {item["name"] for item in report["done"]} == set(bodies) and not report["failed"]
    listed = cumulo(env, "--json", "object", "list", "many")
    assert {o["name"] for o in json.loads(listed.stdout)} == set(bodies)
    out = tmp_path / "out"
    names = sorted(bodies)
    get = cumulo(env, "object", "get-many", "many", *names, "nope", "-o", str(out))
    assert get.returncode == 1  # one name failed; the others were written
    assert "nope" in get.stderr and f"wrote {len(names)} objects" in get.stdout
    for name, data in bodies.items():
        assert (out / name).read_bytes() == data, name
    assert not list(out.rglob("*.partial"))
    missing = cumulo(env, "object", "put-many", "many", str(tmp_path / "absent"))
    assert missing.returncode == 1 and "no file or directory" in missing.stderr


def test_killing_a_storage_node_under_put_load_loses_no_acknowledged_object(cloud) -> None:  # type: ignore[no-untyped-def]
    env, started = cloud
    data = Path(env["CUMULO_DATA_DIR"])
    profile_client = _client(env, started)
    profile_client.objects.create_container("load", exist_ok=True)
    acknowledged: dict[str, bytes] = {}
    failed: dict[str, bytes] = {}
    failures: list[str] = []
    killed = threading.Event()

    def load() -> None:
        with _client(env, started) as client:
            for i in range(200):
                name = f"obj-{i:04d}"
                body = os.urandom(100 + i * 37)
                try:
                    client.objects.put_object("load", name, body)
                except errors.CumuloError as exc:
                    failures.append(f"{name}: {exc}")
                    failed[name] = body
                    continue
                acknowledged[name] = body
                if i == 60:
                    killed.wait(30)

    worker = threading.Thread(target=load)
    worker.start()
    while len(acknowledged) < 60 and worker.is_alive():
        time.sleep(0.01)
    node_root = data / "storage" / "node2"
    os.kill(_node_pid(node_root), signal.SIGKILL)
    killed.set()
    worker.join(120)
    assert not worker.is_alive()
    assert len(acknowledged) >= 190, failures  # a few in flight at the kill may fail
    _check_all(profile_client, acknowledged)

    # Bring the node back with the arguments the supervisor used.
    address = started["endpoints"]["storage-node2"]
    ready = data / "run" / "storage-node2.port"
    ready.unlink(missing_ok=True)
    restarted = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storage.object",
            "--data-dir",
            str(data),
            "--credential-file",
            str(data / "storage" / "credential"),
            "--devices-root",
            str(node_root),
            "--device",
            "d1",
            "--device",
            "d2",
            "--listen",
            address,
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        time.sleep(2.5)  # the proxy's reconnect backoff and error suppression
        _check_all(profile_client, acknowledged)
        listed = [str(getattr(e, "name", e)) for e in profile_client.objects.list_objects("load")]
        assert listed == sorted(listed) and set(acknowledged) <= set(listed)
        # A PUT that failed at the kill has an undetermined outcome, as in Swift: its
        # proxy may have died after the object servers stored and listed it. It may be
        # listed, but only whole: the listing never names an object that is not there.
        undetermined = set(listed) - set(acknowledged)
        assert undetermined <= set(failed), (undetermined, failures)
        for name in undetermined:
            assert profile_client.objects.read_object("load", name) == failed[name], name
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(15)
        profile_client.close()


def _client(env: dict[str, str], started: dict) -> Client:  # type: ignore[type-arg]
    password = (Path(env["CUMULO_DATA_DIR"]) / "controller" / "admin-password").read_text().strip()
    return Client(
        started["endpoints"]["controller"],
        user="admin",
        password=password,
        project="admin",
        object_endpoint=started["endpoints"]["object-proxy"],
        timeout=30,
    )


def _check_all(client: Client, acknowledged: dict[str, bytes]) -> None:
    for name, body in acknowledged.items():
        assert client.objects.read_object("load", name) == body, name


def _peak_rss_mib(pid: int) -> float:
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _pids(data: Path) -> dict[str, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(data).encode() not in b" ".join(argv):
            continue
        if b"storage.proxy" in argv:
            found["proxy"] = int(entry.name)
        elif b"storage.object" in argv:
            root = next(a for i, a in enumerate(argv) if i and argv[i - 1] == b"--devices-root")
            found[Path(root.decode()).name] = int(entry.name)
    return found


def test_a_large_object_streams_with_flat_memory(cloud) -> None:  # type: ignore[no-untyped-def]
    """Upload and download 300 MiB (two segments at the default 256 MiB): the proxy's
    and every node's peak RSS (nodes that serve the object API are proxies too) stays
    far below 200 MB.  ``CUMULO_TEST_LARGE_MIB=2048`` runs the
    2 GiB case of the issue (about two minutes here; see docs/object-store.md)."""
    env, started = cloud
    data = Path(env["CUMULO_DATA_DIR"])
    size = int(os.environ.get("CUMULO_TEST_LARGE_MIB", "300")) << 20
    block = os.urandom(1 << 20)
    with _client(env, started) as client:
        client.objects.create_container("huge", exist_ok=True)
        info = client.objects.put_object(
            "huge", "blob", (block for _ in range(size >> 20)), size=size
        )
        assert info.size == size and info.segments == -(-size // (256 << 20))
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        for chunk in client.objects.get_object("huge", "blob").chunks:
            digest.update(chunk)
            received += len(chunk)
        assert received == size
        expected = hashlib.md5(usedforsecurity=False)
        for _ in range(size >> 20):
            expected.update(block)
        assert digest.hexdigest() == expected.hexdigest()
    peaks = {role: _peak_rss_mib(pid) for role, pid in _pids(data).items()}
    print("peak RSS MiB", {k: round(v, 1) for k, v in peaks.items()})
    # Node 2 was killed and restarted by the test before, and is gone now.
    assert {"node1", "node3"} <= set(peaks), peaks
    if env["CUMULO_STORAGE_ALLINONE_PROXY"] == "process":
        assert "proxy" in peaks, peaks
    assert max(peaks.values()) < 200, peaks
