"""The agent's side of ``AgentService.Connect``: connect, register, heartbeat, resume.

:class:`AgentStream` keeps one stream open for as long as the agent runs:

* each attempt reads the credential file afresh (so replacing the file fixes a
  revoked credential without a restart), opens the stream with the credential in
  its metadata, and sends ``Register`` with the last applied revision - the
  resume point: the controller answers with the current desired state when the
  agent is behind;
* it heartbeats every ``heartbeat_interval``; desired state goes to a single
  apply worker that coalesces revisions (only the newest pending one is applied)
  and answers each apply with a StatusReport and an Ack;
* a stream that errors, ends, or stays silent for three progress intervals is
  dropped and reopened after a jittered exponential backoff (:class:`Backoff`),
  which resets once a stream has registered.  Authentication failures back off
  to the maximum: retrying quickly cannot fix them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from grpc import aio

import cumulo
from agent.inventory import HostInventory
from agent.reconciler import ApplyResult, Reconciler
from cumulo.agent.v1 import agent_pb2, agent_pb2_grpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel

log = logging.getLogger("cumulo.agent")

CREDENTIAL_KEY = "x-cumulo-node-credential"

#: Status codes after which retrying soon cannot help.
_FATAL_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class Backoff:
    """Exponential backoff with "equal jitter": a delay in [d/2, d], d doubling to ``maximum``.

    Jitter spreads the reconnects of many agents after a controller restart, so
    they do not arrive in one burst; the guaranteed half keeps a floor.
    """

    def __init__(
        self,
        minimum: float,
        maximum: float,
        *,
        factor: float = 2.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if minimum <= 0 or maximum < minimum:
            raise ValueError(f"need 0 < minimum <= maximum, got {minimum}, {maximum}")
        self.minimum = minimum
        self.maximum = maximum
        self.factor = factor
        self.attempt = 0
        self._rng = rng

    def ceiling(self) -> float:
        return min(self.maximum, self.minimum * self.factor**self.attempt)

    def next(self) -> float:
        """The delay before the next attempt."""
        ceiling = self.ceiling()
        self.attempt += 1
        return ceiling / 2 + self._rng() * ceiling / 2

    def exhaust(self) -> None:
        """Jump to the maximum delay (for errors that retrying soon cannot fix)."""
        while self.ceiling() < self.maximum:
            self.attempt += 1

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class StreamOptions:
    """What the stream needs from the agent's configuration."""

    address: Callable[[], str]
    credential_file: Path
    node_name: str
    heartbeat_interval: float = 2.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    resync_interval: float = 60.0
    #: TLS of the channel to the controller (plaintext by default).
    tls: Tls = PLAINTEXT
    #: Silence (seconds) after which a stream is presumed dead before the
    #: controller told its progress interval.
    default_silence: float = 30.0


class CredentialMissing(Exception):
    pass


def read_credential(path: Path) -> str:
    try:
        credential = path.read_text().strip()
    except OSError as exc:
        raise CredentialMissing(f"cannot read the node credential {path}: {exc.strerror}") from None
    if "." not in credential:
        raise CredentialMissing(f"{path} does not hold a node credential (<node_id>.<secret>)")
    return credential


def _status_message(result: ApplyResult) -> agent_pb2.AgentMessage:
    return agent_pb2.AgentMessage(
        status=agent_pb2.StatusReport(
            revision=result.revision,
            resources=[
                agent_pb2.ResourceStatus(kind=r.kind, name=r.name, state=r.state, message=r.message)
                for r in result.results
            ],
        )
    )


def resources_from_proto(resources: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "name": r.name,
            "spec": json_format.MessageToDict(r.spec) if r.HasField("spec") else {},
        }
        for r in resources
    ]


class AgentStream:
    """Keeps the agent connected; see the module docstring."""

    def __init__(
        self,
        options: StreamOptions,
        reconciler: Reconciler,
        inventory: Callable[[], HostInventory],
        *,
        on_registered: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.reconciler = reconciler
        self.detect_inventory = inventory
        self.on_registered = on_registered
        self.backoff = Backoff(options.backoff_min, options.backoff_max)
        self.node_id = ""
        self.registered = asyncio.Event()
        self.draining = False
        self.connects = 0
        self._inventory: HostInventory | None = None
        self._outgoing: asyncio.Queue[agent_pb2.AgentMessage | None] | None = None
        self._pending: tuple[int, list[dict[str, Any]]] | None = None
        self._wake = asyncio.Event()
        self._applying = 0
        self._applied_sent = 0

    # -- the outer loop -------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: resume an interrupted apply, then stay connected."""
        await asyncio.to_thread(self.reconciler.load)
        self._inventory = await asyncio.to_thread(self.detect_inventory)
        if self.reconciler.state.interrupted:
            log.info(
                "resuming interrupted apply of revision %d", self.reconciler.state.desired_revision
            )
            await asyncio.to_thread(self.reconciler.resync)
        worker = asyncio.create_task(self._apply_worker())
        resync = asyncio.create_task(self._resync_loop())
        try:
            while True:
                try:
                    await self._connect_once()
                    log.warning("the controller ended the stream; reconnecting")
                except CredentialMissing as exc:
                    log.error("%s", exc)
                    self.backoff.exhaust()
                except aio.AioRpcError as exc:
                    self._log_rpc_error(exc)
                except (TimeoutError, ConnectionError, OSError) as exc:
                    log.warning("stream to the controller lost: %s", exc)
                self.registered.clear()
                delay = self.backoff.next()
                log.info("reconnecting in %.2fs", delay)
                await asyncio.sleep(delay)
        finally:
            worker.cancel()
            resync.cancel()
            for task in (worker, resync):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _log_rpc_error(self, exc: aio.AioRpcError) -> None:
        code = exc.code()
        if code in _FATAL_CODES:
            log.error("the controller refused this node (%s): %s", code.name, exc.details())
            self.backoff.exhaust()
        else:
            log.warning("stream to the controller lost (%s): %s", code.name, exc.details())

    # -- one stream ------------------------------------------------------------------

    async def _connect_once(self) -> None:
        credential = read_credential(self.options.credential_file)
        node_id = credential.partition(".")[0]
        await asyncio.to_thread(self.reconciler.adopt_node, node_id)
        address = self.options.address()
        outgoing: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue()
        state = self.reconciler.state
        inventory = self._inventory or HostInventory()
        outgoing.put_nowait(
            agent_pb2.AgentMessage(
                register=agent_pb2.Register(
                    node_id=node_id,
                    node_name=self.options.node_name,
                    applied_revision=state.applied_revision,
                    agent_version=cumulo.__version__,
                    inventory=agent_pb2.Inventory(**inventory.as_dict()),
                )
            )
        )

        async def requests() -> AsyncIterator[agent_pb2.AgentMessage]:
            while True:
                message = await outgoing.get()
                if message is None:
                    return
                yield message

        self.connects += 1
        async with aio_channel(address, self.options.tls) as channel:
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            call = stub.Connect(requests(), metadata=[(CREDENTIAL_KEY, credential)])
            heartbeat: asyncio.Task[None] | None = None
            silence = self.options.default_silence
            try:
                while True:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
                    # a cancellation that races with a message arriving.
                    async with asyncio.timeout(silence):
                        message = await call.read()
                    if message is aio.EOF:
                        return
                    kind = message.WhichOneof("kind")
                    if kind == "registered":
                        registered = message.registered
                        self.node_id = registered.node_id
                        silence = max(
                            3 * registered.progress_interval.ToTimedelta().total_seconds(),
                            3 * self.options.heartbeat_interval,
                        )
                        self._outgoing = outgoing
                        self._applied_sent = state.applied_revision
                        heartbeat = asyncio.create_task(self._heartbeats(outgoing))
                        self.backoff.reset()
                        self.registered.set()
                        log.info(
                            "registered as node %s (%s) with controller %s at %s; "
                            "applied revision %d, desired %d",
                            registered.node_name,
                            registered.node_id,
                            registered.controller_instance,
                            address,
                            state.applied_revision,
                            registered.desired_revision,
                        )
                        timeout = registered.heartbeat_timeout.ToTimedelta().total_seconds()
                        if timeout and self.options.heartbeat_interval * 2 > timeout:
                            log.warning(
                                "heartbeat interval %gs is more than half the controller's "
                                "heartbeat timeout %gs: the node may flap down",
                                self.options.heartbeat_interval,
                                timeout,
                            )
                        if self.on_registered is not None:
                            self.on_registered(registered.node_id)
                    elif kind == "desired_state":
                        desired = message.desired_state
                        self._pending = (desired.revision, resources_from_proto(desired.resources))
                        self._wake.set()
                    elif kind == "drain":
                        self.draining = message.drain.draining
                        log.warning(
                            "node %s: %s",
                            "drained" if self.draining else "undrained",
                            message.drain.reason or "no reason given",
                        )
                    elif kind == "progress" and self._behind(message.progress.desired_revision):
                        # Normally impossible (the controller sends newer desired state
                        # before any progress naming it); if a revision got lost, a new
                        # Register makes the controller send it again.
                        log.warning(
                            "controller is at revision %d, this agent at %d: re-registering",
                            message.progress.desired_revision,
                            self.reconciler.state.applied_revision,
                        )
                        return
                    # Otherwise ProgressNotify needs no action: it proves the stream alive.
            finally:
                if self._outgoing is outgoing:
                    self._outgoing = None
                outgoing.put_nowait(None)
                if heartbeat is not None:
                    heartbeat.cancel()
                call.cancel()

    async def _heartbeats(self, outgoing: asyncio.Queue[agent_pb2.AgentMessage | None]) -> None:
        sequence = 0
        while True:
            sequence += 1
            outgoing.put_nowait(
                agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat(sequence=sequence))
            )
            await asyncio.sleep(self.options.heartbeat_interval)

    def _send(self, message: agent_pb2.AgentMessage) -> bool:
        if self._outgoing is None:
            return False
        self._outgoing.put_nowait(message)
        return True

    # -- applying desired state -----------------------------------------------------

    def _behind(self, desired_revision: int) -> bool:
        known = max(self.reconciler.state.applied_revision, self._applying)
        if self._pending is not None:
            known = max(known, self._pending[0])
        return desired_revision > known

    async def _apply_worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, None
            if pending is None:
                continue
            revision, resources = pending
            started = time.monotonic()
            self._applying = revision
            try:
                result = await asyncio.to_thread(self.reconciler.apply, revision, resources)
            except Exception:
                # The state file could not be written (disk full?): retry shortly
                # unless a newer revision arrived meanwhile.
                log.exception("applying revision %d failed; retrying", revision)
                if self._pending is None:
                    self._pending = pending
                await asyncio.sleep(self.options.backoff_min)
                self._wake.set()
                continue
            finally:
                self._applying = 0
            log.info(
                "applied revision %d (%d resources, %s) in %.3fs",
                revision,
                len(resources),
                "ok" if result.ok else "with failures",
                time.monotonic() - started,
            )
            self._report(result)

    def _report(self, result: ApplyResult) -> None:
        self._send(_status_message(result))
        if result.revision >= self._applied_sent and self._send(
            agent_pb2.AgentMessage(ack=agent_pb2.Ack(revision=result.revision, ok=result.ok))
        ):
            self._applied_sent = result.revision

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.resync_interval)
            if self._pending is not None:
                continue  # a new revision is about to be applied anyway
            result = await asyncio.to_thread(self.reconciler.resync)
            if not result.ok:
                self._send(_status_message(result))
            inventory = await asyncio.to_thread(self.detect_inventory)
            if inventory != self._inventory:
                self._inventory = inventory
                self._send(
                    agent_pb2.AgentMessage(inventory=agent_pb2.Inventory(**inventory.as_dict()))
                )
