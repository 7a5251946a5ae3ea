"""`cumulo storage status|replicate|audit` and the SDK's StorageNodeAdmin on real object servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo import errors
from cumulo.cli.main import main
from cumulo.services.storage_nodes import StorageNodeAdmin
from tests.helpers.replication import CREDENTIAL, ReplicaCluster
from tests.helpers.servers import BackgroundLoop


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ReplicaCluster]:
    loop = BackgroundLoop()
    started = ReplicaCluster.start(loop, tmp_path / "cluster")
    yield started
    started.stop()
    loop.close()


@pytest.fixture
def credential_file(tmp_path: Path) -> Path:
    path = tmp_path / "credential"
    path.write_text(CREDENTIAL + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def no_local_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUMULO_DATA_DIR", str(tmp_path / "no-local-cloud"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def nodes(cluster: ReplicaCluster) -> list[str]:
    args = []
    for port in cluster.ports:
        args += ["--node", f"127.0.0.1:{port}"]
    return args


def test_sdk_status_replicate_audit(cluster: ReplicaCluster) -> None:
    address = f"127.0.0.1:{cluster.ports[0]}"
    with StorageNodeAdmin(address, CREDENTIAL) as node:
        before = node.status()
        assert sorted(d.device for d in before.devices) == cluster.device_names[0]
        assert not any(d.HasField("last_replication") for d in before.devices)
        passes = node.replicate().passes
        assert sorted(p.device for p in passes) == cluster.device_names[0]
        assert all(p.errors == 0 for p in passes)
        after = node.status()
        assert all(d.HasField("last_replication") for d in after.devices)
        assert len(node.audit([cluster.device_names[0][0]]).passes) == 1
        with pytest.raises(errors.NotFound):
            node.replicate(["no-such-device"])
    stranger = StorageNodeAdmin(address, "wrong-credential-0123456789")
    with stranger, pytest.raises((errors.Unauthenticated, errors.PermissionDenied)):
        stranger.status()


def test_cli_replicate_then_status(
    cluster: ReplicaCluster, credential_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--credential-file", str(credential_file), *nodes(cluster)]
    assert main(["storage", "replicate", *common]) == 0
    out = capsys.readouterr().out
    assert "replicating 127.0.0.1:" in out and "PARTITIONS" in out
    assert main(["--json", "storage", "status", *common]) == 0
    shown = json.loads(capsys.readouterr().out)
    devices = [d for node in shown["nodes"] for d in node["devices"]]
    assert sorted(d["device"] for d in devices) == sorted(
        d for names in cluster.device_names for d in names
    )
    assert all("last_replication" in d for d in devices)
    assert main(["storage", "audit", *common]) == 0
    assert "QUARANTINED" in capsys.readouterr().out


def test_cli_without_nodes_or_credential_says_what_to_do(
    cluster: ReplicaCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["storage", "status"]) != 0
    assert "--node" in capsys.readouterr().err
    assert main(["storage", "status", *nodes(cluster)]) != 0
    assert "--credential-file" in capsys.readouterr().err
    missing = tmp_path / "missing"
    assert main(["storage", "status", "--credential-file", str(missing), *nodes(cluster)]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_cli_reap_runs_each_nodes_pass(
    cluster: ReplicaCluster, credential_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--credential-file", str(credential_file), *nodes(cluster)]
    assert main(["storage", "reap", *common]) == 0
    out = capsys.readouterr().out
    assert "reaping segments on 127.0.0.1:" in out and "BYTES FREED" in out
    assert main(["--json", "storage", "reap", *common]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["nodes"]) == 3
    assert all("started_at" in node for node in shown["nodes"])
    assert main(["--json", "storage", "status", *common]) == 0
    assert all("last_segment_reap" in node for node in json.loads(capsys.readouterr().out)["nodes"])
