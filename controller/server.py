"""The controller's one wiring file: database, domain services, servicers, server.

Everything the controller runs is constructed here and nowhere else, so reading
this file tells what a controller process is made of.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import _native
from controller.agents.liveness import LivenessMonitor
from controller.agents.registry import NodeRegistry
from controller.agents.service import NodeService
from controller.agents.stream import AgentHub, StreamSettings
from controller.api.agents import SERVICE_NAME as AGENT_SERVICE
from controller.api.agents import AgentServicer
from controller.api.auth import AuthInterceptor
from controller.api.identity import SERVICE_NAME as IDENTITY_SERVICE
from controller.api.identity import IdentityServicer
from controller.api.nodes import SERVICE_NAME as NODE_SERVICE
from controller.api.nodes import NodeServicer
from controller.api.quota import SERVICE_NAME as QUOTA_SERVICE
from controller.api.quota import QuotaServicer
from controller.api.system import SERVICE_NAME as SYSTEM_SERVICE
from controller.api.system import SystemServicer
from controller.db import Database, redact_url
from controller.db.migrations import migrate
from controller.identity.caller import Caller
from controller.identity.directory import DirectoryService
from controller.identity.service import BootstrapReport, IdentityService
from controller.policy import POLICY
from controller.quota.object_usage import ObjectUsageSampler, register_object_counters
from controller.quota.service import QuotaService
from controller.system.service import SystemService
from cumulo import errors
from cumulo.agent.v1 import agent_pb2_grpc
from cumulo.config import Config, load_config
from cumulo.identity.v1 import identity_pb2_grpc
from cumulo.local import OBJECT_PROXY_ENDPOINT, find_local_cloud
from cumulo.logs import setup_logging
from cumulo.node.v1 import node_pb2_grpc
from cumulo.quota.v1 import quota_pb2_grpc
from cumulo.rpc.server import RunningServer, Service, start_server
from cumulo.rpc.tls import load_server_tls, tls_mode
from cumulo.system.v1 import system_pb2_grpc

log = logging.getLogger("cumulo.controller")

#: Versioned API packages the controller serves.
API_PACKAGES = [
    "cumulo.agent.v1",
    "cumulo.identity.v1",
    "cumulo.node.v1",
    "cumulo.quota.v1",
    "cumulo.system.v1",
]


@dataclass
class Controller:
    """A running controller: its database, domain services and gRPC server."""

    config: Config
    database: Database
    system: SystemService
    nodes: NodeService
    hub: AgentHub
    liveness: LivenessMonitor
    identity: IdentityService
    directory: DirectoryService
    quota: QuotaService
    bootstrap: BootstrapReport
    server: RunningServer
    object_usage: ObjectUsageSampler

    @property
    def address(self) -> str:
        return self.server.address

    async def stop(self, grace: float = 5.0) -> None:
        await self.object_usage.stop()
        await self.liveness.stop()
        # Ending the agent streams first lets the server stop without waiting out
        # the grace period on streams that never end by themselves.
        await self.hub.stop()
        await self.server.server.stop(grace)
        await asyncio.to_thread(self.system.mark_stopped)
        self.database.dispose()


async def start_controller(config: Config) -> Controller:
    """Open and migrate the database, then serve every controller service.

    Raises :class:`cumulo.errors.CumuloError` with an actionable message when the
    database cannot be opened or the address cannot be bound.
    """
    if config.controller.require_native:
        _native.require_compiled()
    tls = load_server_tls(config.tls)  # bad files fail here, before the database opens
    database = Database(config.database_url())
    try:
        applied = await asyncio.to_thread(migrate, database.engine)
    except Exception as exc:
        database.dispose()
        raise errors.Unavailable(
            f"cannot open the database at {redact_url(database.url)}: {exc}",
            hint="check controller.database_url and that the database server is running",
        ) from exc
    if applied:
        log.info("applied schema migrations %s", applied)
    system = SystemService(
        database=database,
        data_dir=str(config.data_dir),
        listen=config.controller.listen,
        api_packages=API_PACKAGES,
    )
    quota = QuotaService(database, config.quota.as_dict())
    register_object_counters(quota)
    identity = IdentityService(database, config.identity)
    directory = DirectoryService(
        database,
        quota,
        password_hash_log_n=config.identity.password_hash_log_n,
        known_methods=POLICY,
    )
    try:
        bootstrap = await asyncio.to_thread(identity.bootstrap, config.data_dir)
    except Exception:
        database.dispose()
        raise
    if bootstrap.password_file is not None:
        log.warning(
            "created user 'admin' on project 'admin'; its password is in %s",
            bootstrap.password_file,
        )
    await asyncio.to_thread(system.register_instance)
    settings = config.controller
    registry = NodeRegistry(database)
    if settings.local_agent_credential_file:
        await asyncio.to_thread(
            registry.ensure_local_credential,
            config.agent.node_name or socket.gethostname(),
            Path(settings.local_agent_credential_file).expanduser(),
        )
    hub = AgentHub(
        registry,
        StreamSettings(
            heartbeat_timeout=settings.heartbeat_timeout,
            progress_interval=settings.progress_notify_interval,
            flush_interval=min(settings.last_seen_flush_interval, settings.heartbeat_timeout / 3),
            register_timeout=settings.register_timeout,
        ),
        instance=system.instance_id,
    )
    nodes = NodeService(registry, hub)
    liveness = LivenessMonitor(
        registry, settings.heartbeat_timeout, settings.liveness_check_interval
    )
    services = [
        Service(
            SYSTEM_SERVICE,
            SystemServicer(system),
            system_pb2_grpc.add_SystemServiceServicer_to_server,
        ),
        Service(NODE_SERVICE, NodeServicer(nodes), node_pb2_grpc.add_NodeServiceServicer_to_server),
        Service(
            AGENT_SERVICE, AgentServicer(hub), agent_pb2_grpc.add_AgentServiceServicer_to_server
        ),
        Service(
            IDENTITY_SERVICE,
            IdentityServicer(identity, directory),
            identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        ),
        Service(
            QUOTA_SERVICE,
            QuotaServicer(quota),
            quota_pb2_grpc.add_QuotaServiceServicer_to_server,
        ),
    ]

    async def authenticate(token: str) -> Caller:
        return await asyncio.to_thread(identity.authenticate, token)

    try:
        server = await start_server(
            config.controller.listen,
            services,
            interceptors=[AuthInterceptor(authenticate)],
            tls=tls,
        )
    except errors.Unavailable as exc:
        await asyncio.to_thread(system.mark_stopped)
        database.dispose()
        raise errors.Unavailable(
            exc.message,
            hint="another process may use that port; set CUMULO_CONTROLLER_LISTEN=HOST:PORT "
            "or controller.listen in the config",
        ) from exc
    object_usage = ObjectUsageSampler(
        database,
        quota,
        identity,
        bootstrap.admin_user_id,
        partial(_object_proxy, config),
        settings.object_usage_interval,
        tls=tls,
    )
    hub.start()
    liveness.start()
    object_usage.start()
    log.info(
        "controller %s listening on %s (%s, database %s, native backend %s)",
        system.instance_id,
        server.address if config.controller.listen.endswith(":0") else config.controller.listen,
        tls_mode(tls),
        database.kind,
        _native.BACKEND,
    )
    return Controller(
        config=config,
        database=database,
        system=system,
        nodes=nodes,
        hub=hub,
        liveness=liveness,
        identity=identity,
        directory=directory,
        quota=quota,
        bootstrap=bootstrap,
        server=server,
        object_usage=object_usage,
    )


def _object_proxy(config: Config) -> str:
    """The object proxy to sample usage from: configured, else the local cloud's."""
    if config.controller.object_usage_proxy:
        return config.controller.object_usage_proxy
    cloud = find_local_cloud(config.data_dir)
    return cloud.endpoints.get(OBJECT_PROXY_ENDPOINT, "") if cloud else ""


async def serve(config: Config, ready_file: Path | None = None) -> None:
    """Run a controller until SIGINT/SIGTERM; write the bound port to ``ready_file``."""
    controller = await start_controller(config)
    if ready_file is not None:
        ready_file.write_text(f"{controller.server.port}\n")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping controller")
    await controller.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cumulo-controller", description="Run a Cumulo controller."
    )
    parser.add_argument("--config", type=Path, help="TOML config file (default: $CUMULO_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    parser.add_argument("--listen", help="HOST:PORT to serve on (overrides the config)")
    parser.add_argument("--ready-file", type=Path, help="write the bound port here once serving")
    parser.add_argument(
        "--local-agent-credential-file",
        type=Path,
        help="enroll the local node once and write its credential here (used by `cumulo up`)",
    )
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config, data_dir=options.data_dir)
        if options.listen:
            config.controller.listen = options.listen
        if options.local_agent_credential_file:
            config.controller.local_agent_credential_file = str(options.local_agent_credential_file)
        setup_logging(config.logging.level, "controller")
        asyncio.run(serve(config, options.ready_file))
    except errors.CumuloError as exc:
        print(f"cumulo-controller: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
