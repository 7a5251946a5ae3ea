"""Build a grpc.aio server the Cumulo way: health, reflection, interceptors, one port.

Every Cumulo server (controller, object proxy, object servers) is made here so
they all answer ``grpcurl -plaintext HOST:PORT list`` (``-cacert`` with TLS) and
the standard health check, all map errors the same way, and all serve TLS the
same way (:mod:`cumulo.rpc.tls`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cumulo import errors
from cumulo.rpc.flow import BOUNDED_FLOW_CONTROL
from cumulo.rpc.interceptors import ApiInterceptor
from cumulo.rpc.tls import PLAINTEXT, Tls, add_port

#: Large enough for 4 MiB object chunks plus framing.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Service:
    """One servicer to register: its generated ``add_*_to_server`` and full name."""

    name: str  # e.g. "cumulo.system.v1.SystemService"
    servicer: Any
    add_to_server: Callable[[Any, aio.Server], None]


@dataclass
class RunningServer:
    server: aio.Server
    port: int
    health: Any  # grpc_health.v1.health.aio.HealthServicer

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def split_host_port(listen: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` too); raise InvalidArgument if malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise errors.InvalidArgument(
            f"listen address {listen!r} is not HOST:PORT", hint="e.g. 127.0.0.1:7700"
        )
    return host, int(port)


async def start_server(
    listen: str,
    services: Sequence[Service],
    *,
    interceptors: Sequence[aio.ServerInterceptor] = (),
    tls: Tls = PLAINTEXT,
    quiet_prefixes: Sequence[str] = (),
) -> RunningServer:
    """Start a server on ``listen`` (port 0 picks a free one) and return it running.

    ``tls`` (plaintext by default) decides the port's security; a TLS setting this
    server cannot use (no certificate) raises InvalidArgument before binding.

    ``quiet_prefixes``: methods whose successful calls are logged at DEBUG (see
    :class:`ApiInterceptor`).

    ``interceptors`` run inside the :class:`ApiInterceptor`, so errors they raise
    are mapped like any other.  All services report SERVING once started.
    """
    host, port = split_host_port(listen)
    server = aio.server(
        interceptors=[ApiInterceptor(quiet_prefixes), *interceptors],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
            *BOUNDED_FLOW_CONTROL,
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [health.SERVICE_NAME, reflection.SERVICE_NAME]
    for service in services:
        service.add_to_server(service.servicer, server)
        names.append(service.name)
    reflection.enable_server_reflection(names, server)
    try:
        bound = add_port(server, f"{host}:{port}", tls)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise errors.Unavailable(
            f"cannot listen on {listen}", hint="is another process using that port? pick another"
        )
    await server.start()
    for service in services:
        await health_servicer.set(service.name, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=bound, health=health_servicer)
