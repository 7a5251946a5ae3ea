"""Applying desired state through the drivers, and remembering how far it got.

The agent's state file (``<state_dir>/state.json``) holds the node id, the last
*applied* revision and the last *received* desired state.  Contracts:

* Before a driver is called, the received revision and resources are written
  (atomically: temporary file, fsync, rename, fsync of the directory).  Only
  after every driver returned is ``applied_revision`` advanced and written.
* So after a crash in the middle of an apply, :meth:`Reconciler.load` sees a
  received revision above the applied one; the agent re-applies it (drivers are
  idempotent) before it registers, and registers with the revision it really
  applied.  Nothing is applied twice in effect and nothing is lost.
* A driver failing on some resources still counts as having applied the
  revision (it was processed; the status report says what failed); the periodic
  resync retries it.  Resources of a kind no driver claims are reported
  ``unsupported``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.drivers.base import (
    FAILED,
    UNSUPPORTED,
    DesiredResource,
    Driver,
    ResourceResult,
)

log = logging.getLogger("cumulo.agent.reconciler")

STATE_FILE = "state.json"


@dataclass
class AgentState:
    node_id: str = ""
    applied_revision: int = 0
    desired_revision: int = 0
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        """A received revision was not fully applied (the agent stopped mid-apply)."""
        return self.desired_revision != self.applied_revision


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class ApplyResult:
    revision: int
    ok: bool
    results: list[ResourceResult]


class Reconciler:
    """Owns the state file and drives the drivers (blocking; call from a worker thread)."""

    def __init__(self, state_dir: Path, drivers: list[Driver]) -> None:
        self.state_dir = state_dir
        self.drivers = drivers
        self.state = AgentState()
        # The stream's worker and the resync timer may both call in.
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE

    def load(self) -> AgentState:
        """Read the state file (an absent or unreadable file means a fresh agent)."""
        try:
            data = json.loads(self.path.read_text())
            self.state = AgentState(
                node_id=str(data.get("node_id", "")),
                applied_revision=int(data.get("applied_revision", 0)),
                desired_revision=int(data.get("desired_revision", 0)),
                resources=list(data.get("resources", [])),
            )
        except FileNotFoundError:
            self.state = AgentState()
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring unreadable agent state %s: %s", self.path, exc)
            self.state = AgentState()
        return self.state

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(
            self.path, json.dumps(self.state.__dict__, sort_keys=True).encode() + b"\n"
        )

    def adopt_node(self, node_id: str) -> None:
        """Record the node id; a different id than before means a new node: start over."""
        with self._lock:
            if self.state.node_id == node_id:
                return
            if self.state.node_id:
                log.warning(
                    "credential is for node %s, state was for node %s: starting afresh",
                    node_id,
                    self.state.node_id,
                )
                self.state = AgentState()
            self.state.node_id = node_id
            self._save()

    def apply(self, revision: int, resources: list[dict[str, Any]]) -> ApplyResult:
        """Record ``revision`` as received, converge every driver, record it as applied."""
        with self._lock:
            self.state.desired_revision = revision
            self.state.resources = resources
            self._save()
            results = self._converge(resources)
            self.state.applied_revision = revision
            self._save()
        ok = all(r.state != FAILED for r in results)
        return ApplyResult(revision, ok, results)

    def resync(self) -> ApplyResult:
        """Apply the last received desired state again (after a restart, or to repair drift)."""
        return self.apply(self.state.desired_revision, list(self.state.resources))

    def _converge(self, resources: list[dict[str, Any]]) -> list[ResourceResult]:
        desired = [
            DesiredResource(str(r["kind"]), str(r["name"]), dict(r.get("spec") or {}))
            for r in resources
        ]
        results: list[ResourceResult] = []
        claimed: set[str] = set()
        for driver in self.drivers:
            claimed.update(driver.resource_kinds)
            mine = [r for r in desired if r.kind in driver.resource_kinds]
            try:
                results.extend(driver.apply(mine))
            except Exception as exc:
                log.exception("driver %s failed", driver.name)
                results.extend(
                    ResourceResult(r.kind, r.name, FAILED, f"driver {driver.name}: {exc}")
                    for r in mine
                )
        results.extend(
            ResourceResult(r.kind, r.name, UNSUPPORTED, f"no driver handles kind {r.kind!r}")
            for r in desired
            if r.kind not in claimed
        )
        return results
