"""Liveness: a node silent for longer than the heartbeat timeout is marked down.

The check is one UPDATE (``state='up' AND last_seen < now - timeout``) run every
``liveness_check_interval`` by every controller; it is idempotent, so several
controllers running it at once agree, and a restarted controller reaches the
same verdict from the database alone.  A node comes back ``up`` with its next
flushed heartbeat or its next Register.

Timing: heartbeats reach ``last_seen`` in batches (``AgentHub.flush``), so a node
killed at time T is marked down between T + timeout and T + timeout + flush
interval + check interval.  The flush interval is capped at a third of the
timeout so a live node is never marked down for want of a flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from controller.agents.registry import NodeRegistry

log = logging.getLogger("cumulo.controller.agents")


class LivenessMonitor:
    """Runs :meth:`check` every ``interval`` seconds until stopped."""

    def __init__(self, registry: NodeRegistry, timeout: float, interval: float) -> None:
        self.registry = registry
        self.timeout = timeout
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> list[tuple[str, str]]:
        """Mark silent nodes down now; return the (id, name) of those marked."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.timeout)
        down = await asyncio.to_thread(self.registry.mark_down, cutoff)
        for node_id, name in down:
            log.warning(
                "node %s (%s) marked down: no heartbeat for %gs", name, node_id, self.timeout
            )
        return down

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("liveness check failed; retrying")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
