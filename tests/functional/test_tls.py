"""TLS over real sockets: a controller, object servers and a proxy, all with TLS.

One module-scoped cloud (controller on SQLite, three object servers demanding client
certificates, a proxy validating tokens with the controller), every connection TLS;
clients with the cloud's CA, without it, with a stranger's CA, with and without a
client certificate.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cumulo import certs, errors
from cumulo.client import Client
from cumulo.config import TlsConfig, load_config
from cumulo.rpc.server import start_server
from cumulo.rpc.tls import PLAINTEXT, Tls, channel, load_tls
from storage.object.client import Location, ObjectServerClient
from tests.helpers.identity import ADMIN_PASSWORD, configure_identity
from tests.helpers.objectstore import CREDENTIAL, Cluster
from tests.helpers.servers import BackgroundLoop
from tests.helpers.tls import Pki, make_pki
from tests.helpers.tools import venv_tool


@dataclass
class TlsCloud:
    loop: BackgroundLoop
    pki: Pki
    controller: object
    cluster: Cluster

    @property
    def address(self) -> str:
        return self.controller.address  # type: ignore[attr-defined,no-any-return]

    def admin(self, **tls: object) -> Client:
        return Client(
            self.address,
            timeout=10,
            user="admin",
            password=ADMIN_PASSWORD,
            project="admin",
            object_endpoint=self.cluster.address,
            **tls,  # type: ignore[arg-type]
        )


@pytest.fixture(autouse=True)
def _no_tls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CA_FILE", "CERT_FILE", "KEY_FILE", "SERVER_NAME"):
        monkeypatch.delenv(f"CUMULO_TLS_{name}", raising=False)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCloud]:
    from controller.server import start_controller

    root = tmp_path_factory.mktemp("tlscloud")
    pki = make_pki(root / "pki")
    loop = BackgroundLoop()
    config = load_config(environ={}, data_dir=root / "controller")
    config.controller.listen = "127.0.0.1:0"
    config.tls = pki.config()
    configure_identity(config)
    controller = loop.run(start_controller(config))
    cluster = Cluster.start(loop, root / "storage", controller=controller.address, tls=pki.tls())
    try:
        yield TlsCloud(loop, pki, controller, cluster)
    finally:
        cluster.stop()
        loop.run(controller.stop(grace=0.5))
        loop.close()


def _health(address: str, tls: Tls) -> int:
    with channel(address, tls) as ch:
        answer = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return int(answer.status)


def test_sdk_with_the_ca_works(cloud: TlsCloud) -> None:
    with cloud.admin(ca_file=cloud.pki.ca.cert) as admin:
        assert admin.system.get_version().version
        assert admin.tls.enabled


def test_sdk_takes_the_ca_from_the_environment(
    cloud: TlsCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUMULO_TLS_CA_FILE", str(cloud.pki.ca.cert))
    with cloud.admin() as admin:
        assert admin.system.get_version().version


def test_sdk_without_the_ca_fails_with_advice(cloud: TlsCloud) -> None:
    with cloud.admin() as admin, pytest.raises(errors.Unavailable) as caught:
        admin.system.get_version()
    assert "CUMULO_TLS_CA_FILE" in caught.value.hint
    assert cloud.address in caught.value.message


def test_sdk_with_a_strangers_ca_fails_with_advice(cloud: TlsCloud) -> None:
    with (
        cloud.admin(ca_file=cloud.pki.stranger.cert) as admin,
        pytest.raises(errors.Unavailable) as caught,
    ):
        admin.system.get_version()
    assert "not signed by the CA" in caught.value.hint


def test_sdk_with_an_unreadable_ca_names_the_file(cloud: TlsCloud, tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidArgument, match=r"tls.ca_file: cannot read .*missing.pem"):
        cloud.admin(ca_file=tmp_path / "missing.pem")


def test_object_round_trip_through_tls_proxy_and_mutual_tls_nodes(cloud: TlsCloud) -> None:
    """SDK -> proxy (TLS), proxy -> controller (token check, TLS), proxy -> nodes (mTLS)."""
    with cloud.admin(ca_file=cloud.pki.ca.cert) as admin:
        admin.objects.create_container("tls")
        data = b"over TLS " * 1000
        assert admin.objects.put_object("tls", "greeting", data).size == len(data)
        assert admin.objects.read_object("tls", "greeting") == data
        listed = admin.objects.list_objects("tls")
        assert [o if isinstance(o, str) else o.name for o in listed] == ["greeting"]


def test_object_servers_refuse_clients_without_a_cloud_certificate(cloud: TlsCloud) -> None:
    node = f"127.0.0.1:{cloud.cluster.ports[0]}"
    assert _health(node, cloud.pki.tls()) == health_pb2.HealthCheckResponse.SERVING
    for tls in (cloud.pki.tls(with_cert=False), PLAINTEXT):
        with pytest.raises(grpc.RpcError) as caught:
            _health(node, tls)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    async def head_without_certificate() -> None:
        client = ObjectServerClient(node, CREDENTIAL, tls=cloud.pki.tls(with_cert=False))
        async with client:
            await client.head_object(Location(cloud.cluster.device_names[0][0], 0, "a", "c", "o"))

    # Even holding the storage credential: no certificate, no connection.
    with pytest.raises(errors.Unavailable):
        cloud.loop.run(head_without_certificate())


def test_controller_and_proxy_do_not_ask_users_for_certificates(cloud: TlsCloud) -> None:
    users = cloud.pki.tls(with_cert=False)
    for address in (cloud.address, cloud.cluster.address):
        assert _health(address, users) == health_pb2.HealthCheckResponse.SERVING


def test_certificate_without_the_dialled_name_and_server_name(
    cloud: TlsCloud, tmp_path: Path
) -> None:
    directory = cloud.pki.ca.cert.parent
    node = certs.issue(directory, f"named-{tmp_path.name}"[:60], dns=["node1.example"])
    served = load_tls(TlsConfig(cert_file=str(node.cert), key_file=str(node.key)))
    running = cloud.loop.run(start_server("127.0.0.1:0", [], tls=served))
    try:
        with (
            Client(running.address, ca_file=cloud.pki.ca.cert, timeout=5) as client,
            pytest.raises(errors.Unavailable) as caught,
        ):
            client.system.get_version()
        assert "does not name the address" in caught.value.hint
        named = load_tls(TlsConfig(ca_file=str(cloud.pki.ca.cert), server_name="node1.example"))
        assert _health(running.address, named) == health_pb2.HealthCheckResponse.SERVING
    finally:
        cloud.loop.run(running.server.stop(0))


def test_grpcurl_with_cacert(cloud: TlsCloud) -> None:
    def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv_tool("grpcurl"), *args], capture_output=True, text=True, timeout=30
        )

    listed = grpcurl("-cacert", str(cloud.pki.ca.cert), cloud.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert "cumulo.system.v1.SystemService" in listed.stdout.split()
    assert grpcurl("-plaintext", cloud.address, "list").returncode != 0
    node = f"127.0.0.1:{cloud.cluster.ports[0]}"
    assert grpcurl("-cacert", str(cloud.pki.ca.cert), node, "list").returncode != 0
    mutual = grpcurl(
        "-cacert",
        str(cloud.pki.ca.cert),
        "-cert",
        str(cloud.pki.node.cert),
        "-key",
        str(cloud.pki.node.key),
        node,
        "list",
    )
    assert mutual.returncode == 0, mutual.stderr
    assert "cumulo.objectserver.v1.ObjectServerService" in mutual.stdout.split()


def test_controller_start_names_the_missing_file(tmp_path: Path) -> None:
    from controller.server import start_controller

    config = load_config(environ={}, data_dir=tmp_path)
    config.controller.listen = "127.0.0.1:0"
    config.tls = TlsConfig(
        cert_file=str(tmp_path / "node.pem"),
        key_file=str(tmp_path / "node.key"),
        ca_file=str(tmp_path / "ca.pem"),
    )
    with pytest.raises(errors.InvalidArgument) as caught:
        asyncio.run(start_controller(config))
    assert str(caught.value) == (
        f"tls.ca_file: cannot read {tmp_path / 'ca.pem'}: No such file or directory"
    )
    assert not (tmp_path / "controller").exists()  # failed before opening the database
