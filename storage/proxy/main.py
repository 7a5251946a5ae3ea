"""``cumulo-object-proxy`` / ``python -m storage.proxy``: the public object API process.

The one wiring file of the proxy: it loads the ring (reloaded when the file
changes), the storage credential (to talk to object servers) and the controller's
address (to validate tokens), and serves ``cumulo.object.v1.ObjectService`` with
health and reflection behind :class:`~storage.proxy.auth.ProxyAuthInterceptor`.
It keeps no state of its own (every container, object and listing lives on the
storage nodes), so any number of proxies may serve one cluster.  A storage node
can also run a proxy in its own process (:func:`start_proxy` with ``local``; see
``storage/object/main.py``), which is how ``cumulo up`` serves the object API.
``--ready-file`` receives the bound port once serving, as for the other servers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import _native
from cumulo import errors
from cumulo.config import Config, load_config
from cumulo.logs import setup_logging
from cumulo.malloc import cap_malloc_arenas
from cumulo.object.v1 import object_pb2_grpc
from cumulo.rpc.codecs import Codec, CodecInterceptor
from cumulo.rpc.server import RunningServer, Service, start_server
from cumulo.rpc.tls import PLAINTEXT, Tls, load_server_tls, tls_mode
from storage.credential import load_credential
from storage.object.local import LocalNode
from storage.proxy.auth import (
    ControllerIntrospection,
    Introspect,
    ProxyAuthInterceptor,
    TokenCache,
)
from storage.proxy.containers import ContainerDirectory
from storage.proxy.index import IndexClient
from storage.proxy.large import LargeObjects
from storage.proxy.placement import NodePool
from storage.proxy.quota import QuotaGuard
from storage.proxy.replicas import ReplicaIO
from storage.proxy.server import SERVICE_NAME, ObjectProxyServicer
from storage.proxy.session import encode_response, parse_request
from storage.ring import Ring
from storage.ring.ringfile import RingFileError

log = logging.getLogger("cumulo.storage.proxy")


@dataclass
class ProxySettings:
    """What a proxy needs besides its ring and credential (see StorageConfig)."""

    token_cache_ttl: float = 5.0
    container_cache_ttl: float = 5.0
    index_shards: int = 8
    node_timeout: float = 10.0
    segment_size: int = 256 << 20
    #: The storage nodes' ``segment_reap_age``: large uploads must finish within half.
    segment_reap_age: float = 24 * 3600.0


def proxy_settings(config: Config) -> ProxySettings:
    """A proxy's settings from the ``storage.*`` configuration keys."""
    return ProxySettings(
        token_cache_ttl=config.storage.token_cache_ttl,
        container_cache_ttl=config.storage.container_cache_ttl,
        index_shards=config.storage.index_shards,
        node_timeout=config.storage.node_timeout,
        segment_size=config.storage.segment_size,
        segment_reap_age=config.storage.segment_reap_age,
    )


@dataclass
class ObjectProxy:
    """A running proxy."""

    server: RunningServer
    servicer: ObjectProxyServicer
    pool: NodePool
    introspection: ControllerIntrospection | None

    @property
    def address(self) -> str:
        return self.server.address

    async def stop(self, grace: float = 5.0) -> None:
        await self.server.server.stop(grace)
        await self.servicer.replicas.drain()
        await self.pool.close()
        if self.servicer.quota is not None:
            await self.servicer.quota.close()
        if self.introspection is not None:
            await self.introspection.close()


async def start_proxy(
    *,
    listen: str,
    ring: Ring,
    credential: str,
    controller: str = "",
    introspect: Introspect | None = None,
    settings: ProxySettings | None = None,
    tls: Tls = PLAINTEXT,
    local: LocalNode | None = None,
) -> ObjectProxy:
    """Serve the object API on ``listen`` (port 0 picks one).

    Tokens are validated with the controller at ``controller`` unless ``introspect``
    is given (tests).  ``tls`` (plaintext by default) secures the port and every
    channel the proxy opens: to the controller and to the object servers.
    ``local``: the storage node this proxy runs in, whose replicas and index shards
    it then reaches in-process (storage/object/local.py)."""
    settings = settings or ProxySettings()
    introspection = None
    if introspect is None:
        if not controller:
            raise errors.InvalidArgument(
                "the object proxy needs the controller's address to validate tokens",
                field="storage.proxy_controller",
            )
        introspection = ControllerIntrospection(controller, tls=tls)
        introspect = introspection
    pool = NodePool(credential, tls=tls, local=local)
    replicas = ReplicaIO(ring, pool, settings.node_timeout)
    index = IndexClient(ring, pool, settings.node_timeout)
    containers = ContainerDirectory(
        index, cache_ttl=settings.container_cache_ttl, shards=settings.index_shards
    )
    large = LargeObjects(replicas, settings.segment_size, settings.segment_reap_age)
    # Quotas are read from the controller with the caller's token (none without one).
    quota = QuotaGuard(
        controller, containers.account_stats, ttl=settings.container_cache_ttl, tls=tls
    )
    servicer = ObjectProxyServicer(replicas, index, containers, large, quota)
    service = Service(SERVICE_NAME, servicer, object_pb2_grpc.add_ObjectServiceServicer_to_server)
    auth = ProxyAuthInterceptor(TokenCache(introspect, settings.token_cache_ttl))
    server = await start_server(listen, [service], interceptors=[auth, WIRE_CODECS], tls=tls)
    return ObjectProxy(server=server, servicer=servicer, pool=pool, introspection=introspection)


#: The object API's hot methods read and write wire bytes the proxy handles itself
#: (storage/proxy/session.py): ``ObjectSession`` requests with each operation's
#: encoded size, its responses and ``GetSmallObject``'s as bytes already serialized.
WIRE_CODECS = CodecInterceptor(
    {
        f"/{SERVICE_NAME}/ObjectSession": Codec(parse_request, encode_response),
        f"/{SERVICE_NAME}/GetSmallObject": Codec(response_serializer=encode_response),
    }
)


async def serve(
    config: Config, listen: str, ring_path: Path, controller: str, ready_file: Path | None
) -> None:
    credential = load_credential(config.storage_credential_file())
    tls = load_server_tls(config.tls)
    try:
        ring = Ring(ring_path)
    except RingFileError as exc:
        raise errors.NotFound(
            f"cannot load the ring: {exc}",
            hint="build one with `cumulo ring create/add/rebalance` (cumulo up makes one)",
        ) from None
    proxy = await start_proxy(
        listen=listen,
        ring=ring,
        credential=credential,
        controller=controller,
        settings=proxy_settings(config),
        tls=tls,
    )
    log.info(
        "object proxy listening on %s (%s; ring %s version %d, %d replicas; controller %s; "
        "native backend %s)",
        f"{listen.rpartition(':')[0]}:{proxy.server.port}",
        tls_mode(tls),
        ring_path,
        ring.version,
        ring.replicas,
        controller,
        _native.BACKEND,
    )
    if ready_file is not None:
        partial = ready_file.with_name(ready_file.name + ".partial")
        partial.write_text(f"{proxy.server.port}\n")
        partial.replace(ready_file)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping object proxy")
    await proxy.stop()


def main(argv: list[str] | None = None) -> int:
    cap_malloc_arenas()
    parser = argparse.ArgumentParser(
        prog="cumulo-object-proxy", description="Run a Cumulo object proxy (cumulo.object.v1)."
    )
    parser.add_argument("--config", type=Path, help="TOML config file (default: $CUMULO_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    parser.add_argument("--listen", help="HOST:PORT to serve on (storage.proxy_listen)")
    parser.add_argument("--ring", type=Path, help="ring file (storage.ring_file)")
    parser.add_argument("--credential-file", type=Path, help="the cluster's storage credential")
    parser.add_argument(
        "--controller", help="controller HOST:PORT for token validation (storage.proxy_controller)"
    )
    parser.add_argument("--ready-file", type=Path, help="write the bound port here once serving")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config, data_dir=options.data_dir)
        if options.credential_file:
            config.storage.credential_file = str(options.credential_file)
        setup_logging(config.logging.level, "object-proxy")
        listen = options.listen or config.storage.proxy_listen
        ring_path = options.ring or config.storage_ring_file()
        controller = (
            options.controller or config.storage.proxy_controller or config.controller.listen
        )
        asyncio.run(serve(config, listen, ring_path, controller, options.ready_file))
    except errors.CumuloError as exc:
        print(f"cumulo-object-proxy: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
