"""Fixtures of the functional tier: a shared object-store cluster with a real controller.

``object_cloud`` (module scope, so the object-store tests share one start-up):
a controller on SQLite, three in-process object servers with two devices each, a
ring over them and a proxy that validates tokens with the controller; plus SDK
clients for the cloud admin and for users of two fresh projects (member, reader).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cumulo.client import Client
from storage.proxy.main import ProxySettings
from tests.helpers.identity import USER_PASSWORD, configure_identity, make_user
from tests.helpers.identity import admin_client as make_admin_client
from tests.helpers.objectstore import Cluster
from tests.helpers.servers import BackgroundLoop

SEGMENT_SIZE = 1536 * 1024


@dataclass
class ObjectCloud:
    loop: BackgroundLoop
    controller: object
    cluster: Cluster
    admin: Client
    project_a: str
    project_b: str

    def client(self, user: str, project: str) -> Client:
        return Client(
            self.controller.address,  # type: ignore[attr-defined]
            timeout=15,
            user=user,
            password=USER_PASSWORD,
            project=project,
            object_endpoint=self.cluster.address,
        )


@pytest.fixture(scope="module")
def object_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectCloud]:
    from controller.server import start_controller
    from cumulo.config import load_config

    root: Path = tmp_path_factory.mktemp("objcloud")
    loop = BackgroundLoop()
    config = load_config(environ={}, data_dir=root / "controller")
    config.controller.listen = "127.0.0.1:0"
    configure_identity(config)
    controller = loop.run(start_controller(config))
    # Small segments, so uploads of a few MiB exercise large objects (segments + manifest).
    settings = ProxySettings(node_timeout=5.0, segment_size=SEGMENT_SIZE)
    cluster = Cluster.start(
        loop, root / "storage", controller=controller.address, settings=settings
    )
    admin = make_admin_client(controller.address)
    admin._object_endpoint = cluster.address
    project_a = admin.identity.create_project("proj-a").meta.id
    project_b = admin.identity.create_project("proj-b").meta.id
    make_user(admin, "alice", project_a, "member")
    make_user(admin, "rita", project_a, "reader")
    make_user(admin, "bob", project_b, "member")
    cloud = ObjectCloud(loop, controller, cluster, admin, project_a, project_b)
    try:
        yield cloud
    finally:
        admin.close()
        cluster.stop()
        loop.run(controller.stop(grace=0.5))
        loop.close()
