"""The public object API served by a storage node itself (``storage.node_proxy_listen``).

Every storage node may also be a proxy: the same stateless ``cumulo.object.v1``
service as ``cumulo-object-proxy``, in the node's process and event loop, on a
port of its own.  What it gains is the hop: its replicas and index shards on the
node's own devices are called in-process (:mod:`storage.object.local`), and
clients spread over the nodes (an endpoint ``HOST:PORT,HOST:PORT,...`` is one
round-robin channel, :func:`cumulo.rpc.tls.channel_target`), so no single proxy
process carries every request.  ``cumulo up`` runs its object API this way.

The node proxy starts once the ring file exists (``cumulo up`` builds the ring
after the nodes are up, from their bound ports) and once the ring names this
node; until then the node serves its internal API only.  Its port is public: it
asks for tokens, never for client certificates, even when the node's internal
port demands them (mutual TLS between storage processes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from cumulo.rpc.tls import Tls
from storage.container.server import ContainerServerServicer
from storage.object.local import LocalNode
from storage.object.server import ObjectServerServicer
from storage.proxy.auth import Introspect
from storage.proxy.main import ObjectProxy, ProxySettings, start_proxy
from storage.replication.ringview import normal_ip
from storage.ring import Ring
from storage.ring.ringfile import RingFileError

log = logging.getLogger("cumulo.storage.object.proxy")

#: How often a node waiting for its ring looks for the file.
RING_POLL_SECONDS = 0.2


@dataclass
class NodeProxySettings:
    """Where and how a storage node serves the object API."""

    listen: str
    ring_file: Path
    controller: str
    settings: ProxySettings
    #: This node's IP in the ring (``storage.ring_ip``, else its listen host).
    ring_ip: str
    ready_file: Path | None = None
    #: Token validation other than the controller's (tests).
    introspect: Introspect | None = None


def local_address(ring: Ring, ring_ip: str, port: int) -> str | None:
    """The ring's ``HOST:PORT`` of the server at ``ring_ip``:``port``, or None."""
    ip = normal_ip(ring_ip)
    for device in ring.devices:
        if device is not None and device.port == port and normal_ip(device.ip) == ip:
            return device.server
    return None


async def _load_ring(path: Path) -> Ring:
    waited = False
    while True:
        try:
            return Ring(path)
        except RingFileError as exc:
            if not waited:
                log.info("the node's object API waits for the ring at %s (%s)", path, exc)
                waited = True
        await asyncio.sleep(RING_POLL_SECONDS)


async def start_node_proxy(
    node: NodeProxySettings,
    *,
    port: int,
    objects: ObjectServerServicer,
    index: ContainerServerServicer,
    credential: str,
    tls: Tls,
) -> ObjectProxy:
    """Serve the object API for the node whose object server listens on ``port``,
    once its ring exists; write the bound port to ``node.ready_file``."""
    ring = await _load_ring(node.ring_file)
    address = local_address(ring, node.ring_ip, port)
    if address is None:
        log.warning(
            "the ring has no device of this node (%s port %d): its object API reaches "
            "every replica over the network",
            node.ring_ip,
            port,
        )
    proxy = await start_proxy(
        listen=node.listen,
        ring=ring,
        credential=credential,
        controller=node.controller,
        introspect=node.introspect,
        settings=node.settings,
        tls=dataclasses.replace(tls, client_auth=False),
        local=LocalNode.of(address, objects, index) if address else None,
    )
    log.info(
        "object API listening on %s:%d (in-process replicas: %s)",
        node.listen.rpartition(":")[0],
        proxy.server.port,
        address or "none",
    )
    if node.ready_file is not None:
        partial = node.ready_file.with_name(node.ready_file.name + ".partial")
        partial.write_text(f"{proxy.server.port}\n")
        partial.replace(node.ready_file)
    return proxy
