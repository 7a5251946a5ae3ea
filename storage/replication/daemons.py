"""The replicator, auditor and segment reaper of one object server: settings, tasks, run-now.

:class:`Daemons` owns, per on-disk device, a
:class:`~storage.replication.replicator.DeviceReplicator`, an
:class:`~storage.replication.index_replicator.IndexReplicator` (listing-index
databases; run right after the object pass, same flag and interval) and an auditor thread,
and (when enabled) one background asyncio task per device for each, running
passes ``replication_interval`` / ``audit_interval`` seconds apart (Swift's
``run_forever``).  :meth:`Daemons.replicate_now` and :meth:`Daemons.audit_now`
are ``run_once`` for operators and tests (the ``RunReplication`` / ``RunAudit``
RPCs).  The node's :class:`~storage.replication.reaper.SegmentReaper` (one per node,
not per device: it judges groups of segments spread over the devices) runs every
``segment_reap_interval`` seconds when enabled; :meth:`Daemons.reap_now` is its
run-now (the ``RunSegmentReap`` RPC).  A pass that fails is logged and retried at
the next interval; nothing here stops the object server.

Lifecycle: build with the server's device slots, :meth:`bind` the server's bound
port once listening (the ring names devices by ``ip:port``), :meth:`start` the
background tasks, :meth:`stop` before the device slots are shut down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cumulo import errors
from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.container.index import ShardCache
from storage.object.diskfile import DiskDevice
from storage.object.server import DeviceSlot
from storage.replication.auditor import AuditStats, audit_pass
from storage.replication.index_replicator import IndexReplicator
from storage.replication.peers import PeerPool
from storage.replication.reaper import ReapStats, SegmentReaper
from storage.replication.replicator import DeviceReplicator, PassStats
from storage.replication.ringview import LocalRing

log = logging.getLogger("cumulo.storage.replication")


@dataclass
class ReplicationSettings:
    """The daemons' configuration (``storage.*`` keys in cumulo/config.py)."""

    #: Ring file to replicate by; may not exist yet (loaded at the first pass).
    ring_file: Path
    #: This node's address in the ring; empty means the listen host.
    ring_ip: str = ""
    replication_enabled: bool = True
    replication_interval: float = 30.0
    replication_concurrency: int = 4
    reclaim_age: float = 7 * 24 * 3600.0
    node_timeout: float = 10.0
    audit_enabled: bool = True
    audit_interval: float = 3600.0
    audit_bytes_per_second: float = 10 << 20
    audit_files_per_second: float = 20.0
    segment_reap_enabled: bool = True
    segment_reap_interval: float = 86400.0
    segment_reap_files_per_second: float = 200.0
    segment_reap_age: float = 24 * 3600.0


class DeviceDaemons:
    """One device's replicator, its auditor thread, and their background tasks."""

    def __init__(self, replicator: DeviceReplicator, index: IndexReplicator | None) -> None:
        self.replicator = replicator
        self.index = index
        self.audit_thread = ThreadPoolExecutor(
            1, thread_name_prefix=f"audit-{replicator.device.name}"
        )
        self.audit_lock = asyncio.Lock()
        self.last_audit: AuditStats | None = None
        self.tasks: list[asyncio.Task[None]] = []


class Daemons:
    """Replication and auditing for one object server's devices."""

    def __init__(
        self,
        devices: Mapping[str, DeviceSlot],
        settings: ReplicationSettings,
        credential: str,
        listen_host: str,
        index_shards: ShardCache | None = None,
        tls: Tls = PLAINTEXT,
    ) -> None:
        """``index_shards``: the container servicer's open index databases; without it
        the listing index is not replicated."""
        self.settings = settings
        self.ring = LocalRing(settings.ring_file, settings.ring_ip or listen_host, 0)
        self.peers = PeerPool(credential, settings.node_timeout, tls)
        self._stop = threading.Event()
        self.reaper = SegmentReaper(
            devices,
            self.ring,
            credential,
            reap_age=settings.segment_reap_age,
            files_per_second=settings.segment_reap_files_per_second,
            node_timeout=settings.node_timeout,
            tls=tls,
        )
        self._reaper_task: asyncio.Task[None] | None = None
        self.devices: dict[str, DeviceDaemons] = {
            name: DeviceDaemons(
                DeviceReplicator(
                    slot,
                    self.ring,
                    self.peers,
                    reclaim_age=settings.reclaim_age,
                    concurrency=settings.replication_concurrency,
                ),
                None
                if index_shards is None
                else IndexReplicator(
                    slot,
                    name,
                    index_shards,
                    self.ring,
                    self.peers,
                    reclaim_age=settings.reclaim_age,
                    concurrency=settings.replication_concurrency,
                ),
            )
            for name, slot in sorted(devices.items())
            if isinstance(slot.device, DiskDevice)
        }

    def bind(self, port: int) -> None:
        """Tell the daemons the server's bound port (its identity in the ring)."""
        self.ring.port = port

    def start(self) -> None:
        """Start the background passes that are enabled."""
        for name, daemons in self.devices.items():
            if self.settings.replication_enabled:
                daemons.tasks.append(
                    asyncio.create_task(self._replicate_forever(daemons), name=f"replicate-{name}")
                )
            if self.settings.audit_enabled:
                daemons.tasks.append(
                    asyncio.create_task(self._audit_forever(daemons), name=f"audit-{name}")
                )
        if self.settings.segment_reap_enabled and self.reaper.devices:
            self._reaper_task = asyncio.create_task(self._reap_forever(), name="segment-reaper")

    async def stop(self) -> None:
        """Cancel background passes, end a running audit, close peer channels."""
        self._stop.set()
        for daemons in self.devices.values():
            for task in daemons.tasks:
                task.cancel()
            for task in daemons.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            daemons.audit_thread.shutdown(wait=True)
        if self._reaper_task is not None:
            self._reaper_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper_task
        await self.reaper.close()
        await self.peers.close()

    def select(self, names: Sequence[str]) -> list[DeviceDaemons]:
        """The named devices' daemons (all when empty); NotFound for an unknown name."""
        chosen = []
        for name in names or sorted(self.devices):
            if name not in self.devices:
                raise errors.NotFound(
                    f"device {name!r} is not an on-disk device of this object server",
                    field="devices",
                    reason="DEVICE_NOT_FOUND",
                    hint=f"this server's devices: {', '.join(sorted(self.devices)) or 'none'}",
                )
            chosen.append(self.devices[name])
        return chosen

    async def replicate_now(self, names: Sequence[str] = ()) -> list[PassStats]:
        """Run a replication pass on each named device (all when empty), one after
        another, visiting every partition the device holds or the ring assigns it."""
        chosen = self.select(names)
        self.ring.ring()  # refuse up front (RING_NOT_LOADED) rather than per device
        passes = []
        for d in chosen:
            stats = await d.replicator.run_pass(include_empty=True)
            if d.index is not None:
                stats.index = await d.index.run_pass()
            passes.append(stats)
        return passes

    async def audit_now(self, names: Sequence[str] = ()) -> list[AuditStats]:
        """Run an audit pass on each named device without rate limits."""
        chosen = self.select(names)
        return [await self._audit(d, limited=False) for d in chosen]

    async def reap_now(self) -> ReapStats:
        """Run a segment-reaper pass now (after a running one) and answer what it did."""
        return await self.reaper.run_pass()

    async def _audit(self, daemons: DeviceDaemons, *, limited: bool) -> AuditStats:
        settings = self.settings
        async with daemons.audit_lock:
            stats = await asyncio.get_running_loop().run_in_executor(
                daemons.audit_thread,
                lambda: audit_pass(
                    daemons.replicator.device,
                    bytes_per_second=settings.audit_bytes_per_second if limited else 0,
                    files_per_second=settings.audit_files_per_second if limited else 0,
                    stop=self._stop,
                ),
            )
            daemons.last_audit = stats
            log.info("%s", stats.summary())
            return stats

    async def _replicate_forever(self, daemons: DeviceDaemons) -> None:
        interval = self.settings.replication_interval
        while True:
            await asyncio.sleep(interval)
            try:
                stats = await daemons.replicator.run_pass()
                if daemons.index is not None:
                    stats.index = await daemons.index.run_pass()
            except errors.Conflict as exc:
                log.warning("replication of %s skipped: %s", daemons.replicator.device.name, exc)
            except Exception:
                log.exception("replication pass of %s failed", daemons.replicator.device.name)

    async def _audit_forever(self, daemons: DeviceDaemons) -> None:
        interval = self.settings.audit_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self._audit(daemons, limited=True)
            except Exception:
                log.exception("audit pass of %s failed", daemons.replicator.device.name)

    async def _reap_forever(self) -> None:
        interval = self.settings.segment_reap_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reaper.run_pass(limited=True)
            except errors.Conflict as exc:
                log.warning("segment reaper pass skipped: %s", exc)
            except Exception:
                log.exception("segment reaper pass failed")
