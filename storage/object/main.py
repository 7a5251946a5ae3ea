"""``cumulo-object-server`` / ``python -m storage.object``: one storage node's object server.

The one wiring file of the process: it opens the node's devices (each a directory
under the devices root), claims each with a lock so no second server writes to
it, removes temporary files an earlier crash left, gives each device its own
thread pool, and serves ``cumulo.objectserver.v1`` (objects, and the replicator
and auditor of docs/replication.md) with health and reflection, behind the
storage-credential check.  ``--ready-file`` receives the bound port
once serving (as for the controller), so a supervisor can use port 0.  With
``--proxy-listen`` (``storage.node_proxy_listen``) the node also serves the public
object API on a second port (storage/object/node_proxy.py), whose bound port goes
to ``--proxy-ready-file`` once the ring exists.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _native
from cumulo import errors
from cumulo.config import Config, load_config
from cumulo.containerserver.v1 import containerserver_pb2, containerserver_pb2_grpc
from cumulo.logs import setup_logging
from cumulo.malloc import cap_malloc_arenas
from cumulo.objectserver.v1 import objectserver_pb2_grpc, replication_pb2_grpc
from cumulo.rpc.server import RunningServer, Service, start_server
from cumulo.rpc.tls import PLAINTEXT, Tls, load_server_tls, tls_mode
from storage.container.server import SERVICE_NAME as INDEX_SERVICE_NAME
from storage.container.server import ContainerServerServicer, IndexDevice, row_message
from storage.credential import create_credential, load_credential
from storage.object.auth import StorageCredentialInterceptor
from storage.object.diskfile import DiskDevice
from storage.object.node_proxy import NodeProxySettings, start_node_proxy
from storage.object.server import SERVICE_NAME, DeviceSlot, ObjectServerServicer
from storage.object.store import check_chunk_size
from storage.proxy.main import ObjectProxy, proxy_settings
from storage.replication import server as replication_server
from storage.replication.daemons import Daemons, ReplicationSettings

log = logging.getLogger("cumulo.storage.object")

_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class ObjectServer:
    """A running object server: its devices and its gRPC server."""

    devices: dict[str, DeviceSlot]
    server: RunningServer
    index: ContainerServerServicer | None = None
    #: The replicator and auditor (None when started without replication settings).
    daemons: Daemons | None = None
    #: Starts, then is, the node's public object API (None without ``node_proxy``).
    proxy_task: asyncio.Task[ObjectProxy] | None = None

    @property
    def address(self) -> str:
        return self.server.address

    async def proxy(self) -> ObjectProxy:
        """The node's object API, once it serves (it waits for the ring)."""
        if self.proxy_task is None:
            raise errors.NotFound("this object server runs no object API (node_proxy_listen)")
        return await asyncio.shield(self.proxy_task)

    async def stop(self, grace: float = 5.0) -> None:
        if self.proxy_task is not None:
            # First: the proxy's requests in flight finish on the node's devices.
            if self.proxy_task.done() and not self.proxy_task.cancelled():
                if self.proxy_task.exception() is None:
                    await self.proxy_task.result().stop(grace)
            else:
                self.proxy_task.cancel()
        if self.daemons is not None:
            await self.daemons.stop()
        await self.server.server.stop(grace)
        if self.index is not None:
            self.index.close()
        for slot in self.devices.values():
            slot.executor.shutdown(wait=True)
            if isinstance(slot.device, DiskDevice):
                slot.device.unlock()


def open_devices(
    root: Path,
    names: Sequence[str] = (),
    *,
    chunk_size: int,
    threads_per_device: int,
    create: bool = False,
    group_commit: bool = True,
    direct_io: bool = True,
    inline_reads: bool = True,
) -> dict[str, DeviceSlot]:
    """Open, lock and clean every device under ``root`` (or only ``names``).

    ``create`` makes missing device directories (all-in-one and tests); on a
    real node a missing device is an unmounted disk and is refused instead, so
    objects never land on the root file system.
    """
    chunk_size = check_chunk_size(chunk_size, chunk_size)
    if create:
        for name in names:
            (root / name).mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise errors.NotFound(
            f"devices root {root} does not exist",
            hint="create it and one directory per device in it (e.g. d1), or set "
            "storage.devices_root",
        )
    wanted = list(names) or sorted(p.name for p in root.iterdir() if p.is_dir())
    if not wanted:
        raise errors.NotFound(
            f"no devices under {root}", hint=f"create one, e.g. `mkdir {root / 'd1'}`"
        )
    slots: dict[str, DeviceSlot] = {}
    try:
        for name in wanted:
            if not _DEVICE_NAME.match(name):
                raise errors.InvalidArgument(
                    f"device name {name!r} is not 1-64 letters, digits, '.', '_' or '-'",
                    field="storage.devices",
                )
            path = root / name
            if not path.is_dir():
                raise errors.NotFound(f"device {path} does not exist", hint="is the disk mounted?")
            device = DiskDevice(
                path,
                chunk_size=chunk_size,
                group_commit=group_commit,
                direct_io=direct_io,
                inline_reads=inline_reads,
            )
            device.lock()
            slots[name] = DeviceSlot(
                device, ThreadPoolExecutor(threads_per_device, thread_name_prefix=f"dev-{name}")
            )
            removed = device.cleanup_temp()
            if removed:
                log.info("device %s: removed %d interrupted write(s)", name, removed)
    except BaseException:
        for slot in slots.values():
            slot.executor.shutdown()
            if isinstance(slot.device, DiskDevice):
                slot.device.unlock()
        raise
    return slots


async def start_object_server(
    *,
    listen: str,
    devices: dict[str, DeviceSlot],
    credential: str,
    replication: ReplicationSettings | None = None,
    tls: Tls = PLAINTEXT,
    node_proxy: NodeProxySettings | None = None,
) -> ObjectServer:
    """Serve ``devices`` on ``listen`` (port 0 picks one) behind the storage credential,
    over ``tls`` (plaintext by default; ``client_auth`` adds mutual TLS).
    With ``node_proxy`` the node also serves the public object API once its ring
    exists (storage/object/node_proxy.py; :meth:`ObjectServer.proxy`).

    The node's container index shards (``storage/container/``) are served by the same
    process on the same devices, for devices that live on disk.  With ``replication``
    the process also serves ``ReplicationService`` and runs the replicator and
    auditor that setting enables (docs/replication.md)."""
    index = ContainerServerServicer(
        {
            name: IndexDevice(slot.device.path, slot.executor)
            for name, slot in devices.items()
            if isinstance(slot.device, DiskDevice)
        }
    )

    async def apply_listing(update: containerserver_pb2.ShardUpdate) -> list[Any]:
        return [row_message(row) for row in await index.apply_update(update)]

    objects = ObjectServerServicer(devices, listings=apply_listing)
    services = [
        Service(
            SERVICE_NAME,
            objects,
            objectserver_pb2_grpc.add_ObjectServerServiceServicer_to_server,
        ),
        Service(
            INDEX_SERVICE_NAME,
            index,
            containerserver_pb2_grpc.add_ContainerServerServiceServicer_to_server,
        ),
    ]
    daemons = None
    if replication is not None:
        daemons = Daemons(
            devices,
            replication,
            credential,
            listen.rpartition(":")[0],
            index_shards=index.shards,
            tls=tls,
        )
        services.append(
            Service(
                replication_server.SERVICE_NAME,
                replication_server.ReplicationServicer(daemons),
                replication_pb2_grpc.add_ReplicationServiceServicer_to_server,
            )
        )
    server = await start_server(
        listen,
        services,
        interceptors=[StorageCredentialInterceptor(credential)],
        tls=tls,
        # Every caller is a proxy or a peer's replicator: successful calls by the
        # thousand are not worth an INFO line each (failures still are).
        quiet_prefixes=[f"/{service.name}/" for service in services],
    )
    if daemons is not None:
        daemons.bind(server.port)
        daemons.start()
    proxy_task = None
    if node_proxy is not None:
        proxy_task = asyncio.create_task(
            start_node_proxy(
                node_proxy,
                port=server.port,
                objects=objects,
                index=index,
                credential=credential,
                tls=tls,
            ),
            name="node-proxy",
        )
        proxy_task.add_done_callback(_report_proxy_failure)
    return ObjectServer(
        devices=devices, server=server, index=index, daemons=daemons, proxy_task=proxy_task
    )


def _report_proxy_failure(task: asyncio.Task[ObjectProxy]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the node's object API did not start: %s", task.exception())


def replication_settings(config: Config) -> ReplicationSettings:
    """The daemons' settings from the ``storage.*`` configuration keys."""
    storage = config.storage
    return ReplicationSettings(
        ring_file=config.storage_ring_file(),
        ring_ip=storage.ring_ip,
        replication_enabled=storage.replication_enabled,
        replication_interval=storage.replication_interval,
        replication_concurrency=storage.replication_concurrency,
        reclaim_age=storage.reclaim_age,
        node_timeout=storage.node_timeout,
        audit_enabled=storage.audit_enabled,
        audit_interval=storage.audit_interval,
        audit_bytes_per_second=storage.audit_bytes_per_second,
        audit_files_per_second=storage.audit_files_per_second,
        segment_reap_enabled=storage.segment_reap_enabled,
        segment_reap_interval=storage.segment_reap_interval,
        segment_reap_files_per_second=storage.segment_reap_files_per_second,
        segment_reap_age=storage.segment_reap_age,
    )


def node_proxy_settings(
    config: Config, listen: str, ready_file: Path | None
) -> NodeProxySettings | None:
    """The node's object API settings (None when ``storage.node_proxy_listen`` is empty)."""
    storage = config.storage
    if not storage.node_proxy_listen:
        return None
    return NodeProxySettings(
        listen=storage.node_proxy_listen,
        ring_file=config.storage_ring_file(),
        controller=storage.proxy_controller or config.controller.listen,
        settings=proxy_settings(config),
        ring_ip=storage.ring_ip or listen.rpartition(":")[0],
        ready_file=ready_file,
    )


async def serve(
    config: Config,
    listen: str,
    ready_file: Path | None,
    create: bool,
    proxy_ready_file: Path | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; write the bound port to ``ready_file`` once serving
    (and the object API's to ``proxy_ready_file`` once that serves)."""
    credential_file = config.storage_credential_file()
    credential = load_credential(credential_file)
    tls = load_server_tls(config.tls)
    root = config.storage_devices_root()
    devices = open_devices(
        root,
        config.storage.devices,
        chunk_size=config.storage.chunk_size,
        threads_per_device=config.storage.threads_per_device,
        create=create,
        group_commit=config.storage.group_commit,
        direct_io=config.storage.direct_io,
        inline_reads=config.storage.inline_reads,
    )
    try:
        running = await start_object_server(
            listen=listen,
            devices=devices,
            credential=credential,
            replication=replication_settings(config),
            tls=tls,
            node_proxy=node_proxy_settings(config, listen, proxy_ready_file),
        )
    except BaseException:
        for slot in devices.values():
            slot.executor.shutdown()
            if isinstance(slot.device, DiskDevice):
                slot.device.unlock()
        raise
    log.info(
        "object server listening on %s (%s), devices %s under %s (native backend %s)",
        f"{listen.rpartition(':')[0]}:{running.server.port}",
        tls_mode(tls),
        ", ".join(sorted(devices)),
        root,
        _native.BACKEND,
    )
    if ready_file is not None:
        # Renamed into place so a reader never sees half a port number.
        partial = ready_file.with_name(ready_file.name + ".partial")
        partial.write_text(f"{running.server.port}\n")
        partial.replace(ready_file)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping object server")
    await running.stop()


def main(argv: list[str] | None = None) -> int:
    cap_malloc_arenas()
    parser = argparse.ArgumentParser(
        prog="cumulo-object-server", description="Run a Cumulo object server (one storage node)."
    )
    parser.add_argument("--config", type=Path, help="TOML config file (default: $CUMULO_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides the config)")
    parser.add_argument("--listen", help="HOST:PORT to serve on (storage.object_server_listen)")
    parser.add_argument("--devices-root", type=Path, help="directory of device directories")
    parser.add_argument(
        "--device", action="append", default=[], help="serve only this device (repeatable)"
    )
    parser.add_argument("--credential-file", type=Path, help="the cluster's storage credential")
    parser.add_argument(
        "--init-credential",
        action="store_true",
        help="create the credential file with a new random secret if it does not exist",
    )
    parser.add_argument(
        "--create-devices",
        action="store_true",
        help="create missing --device directories (development; never on real disks)",
    )
    parser.add_argument("--ready-file", type=Path, help="write the bound port here once serving")
    parser.add_argument(
        "--proxy-listen",
        help="also serve the public object API on HOST:PORT (storage.node_proxy_listen)",
    )
    parser.add_argument(
        "--proxy-ready-file", type=Path, help="write the object API's port here once serving"
    )
    parser.add_argument(
        "--controller",
        help="controller HOST:PORT the object API validates tokens with (storage.proxy_controller)",
    )
    parser.add_argument("--ring", type=Path, help="ring file (storage.ring_file)")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config, data_dir=options.data_dir)
        if options.devices_root:
            config.storage.devices_root = str(options.devices_root)
        if options.device:
            config.storage.devices = options.device
        if options.credential_file:
            config.storage.credential_file = str(options.credential_file)
        if options.proxy_listen:
            config.storage.node_proxy_listen = options.proxy_listen
        if options.controller:
            config.storage.proxy_controller = options.controller
        if options.ring:
            config.storage.ring_file = str(options.ring)
        setup_logging(config.logging.level, "object-server")
        if options.init_credential:
            create_credential(config.storage_credential_file())
        listen = options.listen or config.storage.object_server_listen
        asyncio.run(
            serve(
                config, listen, options.ready_file, options.create_devices, options.proxy_ready_file
            )
        )
    except errors.CumuloError as exc:
        print(f"cumulo-object-server: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
