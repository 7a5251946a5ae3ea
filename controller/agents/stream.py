"""The controller side of ``AgentService.Connect``: one :class:`AgentSession` per stream.

:class:`AgentHub` owns every stream open on this controller.  Contracts:

* A stream is accepted only with a valid node credential (checked before any
  message is read) and must open with ``Register`` naming the credential's node
  (or no node).  Anything else ends it with a readable status: a first message
  that is not Register or a second Register is FAILED_PRECONDITION; an empty
  message, an ack or status of a revision never sent, or an ack older than the
  previous one is INVALID_ARGUMENT.
* One stream per node on this controller: a newer stream of the same node
  replaces the older one, which ends with ABORTED.
* Desired state reaches an agent in two ways: at once, when a change made on
  this controller is pushed to the session's queue (:meth:`AgentHub.push_desired`),
  and at the latest one progress interval later, when the hub polls the
  database revisions of its connected nodes.  The second makes several
  controllers correct without any in-memory notification between them.
* Heartbeats cost no database write each: they mark the node in a set that
  :meth:`AgentHub.flush` writes in one statement every flush interval, with the
  acks, status reports and inventory changes gathered meanwhile.  Nothing is lost
  if the controller dies before a flush: the agent reports its applied revision
  again in Register, and the next heartbeat refreshes liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from google.protobuf import duration_pb2, json_format

from controller.agents.registry import NodeRegistry, Registration
from cumulo import errors
from cumulo.agent.v1 import agent_pb2

log = logging.getLogger("cumulo.controller.agents")

#: Metadata key carrying ``<node_id>.<secret>``.
CREDENTIAL_KEY = "x-cumulo-node-credential"


@dataclass(frozen=True)
class StreamSettings:
    """Timings of the stream (``controller.*`` in the config)."""

    heartbeat_timeout: float = 10.0
    progress_interval: float = 5.0
    flush_interval: float = 2.0
    register_timeout: float = 10.0


def inventory_to_dict(inventory: agent_pb2.Inventory) -> dict[str, Any]:
    """Every field by name, numbers as numbers (MessageToDict would make int64 strings)."""
    out: dict[str, Any] = {}
    for descriptor in inventory.DESCRIPTOR.fields:
        value = getattr(inventory, descriptor.name)
        # Inventory has scalars and repeated strings only.
        out[descriptor.name] = value if isinstance(value, str | int | float) else list(value)
    return out


def resources_to_proto(resources: list[dict[str, Any]]) -> list[agent_pb2.Resource]:
    out = []
    for item in resources:
        resource = agent_pb2.Resource(kind=item["kind"], name=item["name"])
        resource.spec.update(item.get("spec") or {})
        out.append(resource)
    return out


def resources_from_proto(resources: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "name": r.name,
            "spec": json_format.MessageToDict(r.spec) if r.HasField("spec") else {},
        }
        for r in resources
    ]


def _validate_register(register: agent_pb2.Register, node_id: str) -> None:
    if register.node_id and register.node_id != node_id:
        raise errors.PermissionDenied(
            f"this credential belongs to node {node_id}; it cannot register node "
            f"{register.node_id}",
            reason="WRONG_NODE",
            hint="each agent must use its own node's credential",
        )
    inventory = register.inventory
    if min(inventory.vcpus, inventory.memory_bytes, inventory.disk_bytes) < 0:
        raise errors.InvalidArgument(
            "inventory values must not be negative", field="register.inventory"
        )


class AgentSession:
    """One open stream: what was sent, what was acknowledged, the outgoing queue."""

    def __init__(self, node_id: str, node_name: str, known_revision: int, applied: int) -> None:
        self.node_id = node_id
        self.node_name = node_name
        #: Highest desired revision sent on this stream (or that the agent already had).
        self.known_revision = known_revision
        #: Highest revision the agent may acknowledge on this stream.
        self.ackable_revision = max(known_revision, applied)
        self.acked_revision = applied
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.last_sent = time.monotonic()

    def send(self, message: agent_pb2.ControllerMessage) -> None:
        self.last_sent = time.monotonic()
        self.queue.put_nowait(message)

    def send_desired(self, revision: int, resources: list[agent_pb2.Resource]) -> None:
        if revision <= self.known_revision:
            return  # already sent (the push and the poll may both see a change)
        self.known_revision = revision
        self.ackable_revision = max(self.ackable_revision, revision)
        self.send(
            agent_pb2.ControllerMessage(
                desired_state=agent_pb2.DesiredState(revision=revision, resources=resources)
            )
        )

    def end(self, error: BaseException | None = None) -> None:
        """End the stream: with ``error`` as its status, or OK for None."""
        self.queue.put_nowait(error)


class AgentHub:
    """Every agent stream of this controller; see the module docstring."""

    def __init__(self, registry: NodeRegistry, settings: StreamSettings, instance: str) -> None:
        self.registry = registry
        self.settings = settings
        self.instance = instance
        self.sessions: dict[str, AgentSession] = {}
        self.heartbeats_received = 0
        self.acks_received = 0
        self._seen: set[str] = set()
        self._applied: dict[str, int] = {}
        self._statuses: dict[str, list[dict[str, Any]]] = {}
        self._inventories: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._flush_lock = asyncio.Lock()
        self._stopped = False

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._every(self.settings.flush_interval, self.flush)),
            asyncio.create_task(self._every(self.settings.progress_interval, self.poll)),
        ]

    async def stop(self) -> None:
        """End every stream with UNAVAILABLE (agents reconnect elsewhere) and flush."""
        self._stopped = True
        for session in list(self.sessions.values()):
            session.end(
                errors.Unavailable(
                    "the controller is shutting down", hint="the agent reconnects by itself"
                )
            )
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
        await asyncio.to_thread(self.registry.release_all, self.instance)

    async def _every(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except Exception:
                # A database hiccup must not kill the loop; the next round retries.
                log.exception("agent hub: periodic %s failed", work.__name__)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- batched writes and polling ------------------------------------------------

    async def flush(self) -> None:
        """Write the heartbeats, acks, reports and inventories gathered since the last flush."""
        async with self._flush_lock:
            seen, self._seen = self._seen, set()
            applied, self._applied = self._applied, {}
            statuses, self._statuses = self._statuses, {}
            inventories, self._inventories = self._inventories, {}
            if not (seen or applied or statuses or inventories):
                return
            try:
                await asyncio.to_thread(self.registry.flush, seen, applied, statuses, inventories)
            except Exception:
                # Put the batch back (newer values win) so the next flush retries it.
                self._seen |= seen
                self._applied = applied | self._applied
                self._statuses = statuses | self._statuses
                self._inventories = inventories | self._inventories
                raise

    async def poll(self) -> None:
        """Catch up with desired-state changes made elsewhere; notify idle agents."""
        revisions = await asyncio.to_thread(self.registry.desired_revisions, list(self.sessions))
        behind = [
            node_id
            for node_id, session in self.sessions.items()
            if revisions.get(node_id, 0) > session.known_revision
        ]
        if behind:
            # One query for every node that changed elsewhere.
            desired = await asyncio.to_thread(self.registry.desired_many, behind)
            for node_id, (revision, resources) in desired.items():
                session = self.sessions.get(node_id)
                if session is not None:
                    session.send_desired(revision, resources_to_proto(resources))
        now = time.monotonic()
        for session in list(self.sessions.values()):
            if now - session.last_sent >= self.settings.progress_interval * 0.5:
                session.send(
                    agent_pb2.ControllerMessage(
                        progress=agent_pb2.ProgressNotify(desired_revision=session.known_revision)
                    )
                )

    # -- pushes from admin operations ----------------------------------------------

    def push_desired(self, revisions: dict[str, int], resources: list[dict[str, Any]]) -> int:
        """Send new desired state to the connected ones of these nodes; return how many."""
        if not revisions:
            return 0
        pushed = 0
        messages = resources_to_proto(resources)
        for node_id, revision in revisions.items():
            session = self.sessions.get(node_id)
            if session is not None:
                session.send_desired(revision, messages)
                pushed += 1
        return pushed

    def push_drain(self, node_id: str, draining: bool, reason: str) -> None:
        session = self.sessions.get(node_id)
        if session is not None:
            session.send(
                agent_pb2.ControllerMessage(drain=agent_pb2.Drain(draining=draining, reason=reason))
            )

    def disconnect(self, node_id: str, error: errors.CumuloError) -> None:
        session = self.sessions.get(node_id)
        if session is not None:
            session.end(error)

    # -- one stream -----------------------------------------------------------------

    async def connect(
        self, credential: str | None, requests: AsyncIterator[agent_pb2.AgentMessage]
    ) -> AsyncIterator[agent_pb2.ControllerMessage]:
        """Serve one stream: authenticate, register, then relay until either side ends."""
        if not credential:
            raise errors.Unauthenticated(
                f"no node credential: send it in the {CREDENTIAL_KEY!r} metadata",
                reason="BAD_NODE_CREDENTIAL",
                hint="set agent.credential_file to the file `cumulo node enroll` wrote",
            )
        node = await asyncio.to_thread(self.registry.authenticate, credential)
        try:
            async with asyncio.timeout(self.settings.register_timeout):
                first = await anext(requests)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise errors.Conflict(
                f"no Register within {self.settings.register_timeout:g}s of opening the stream",
                reason="REGISTER_FIRST",
            ) from None
        kind = first.WhichOneof("kind")
        if kind != "register":
            raise errors.Conflict(
                f"the first message on the stream must be register, not {kind or 'empty'}",
                reason="REGISTER_FIRST",
                hint="an agent opens every stream with Register",
            )
        _validate_register(first.register, node.id)
        registration: Registration = await asyncio.to_thread(
            self.registry.register,
            node.id,
            instance=self.instance,
            inventory=inventory_to_dict(first.register.inventory),
            agent_version=first.register.agent_version,
            applied_revision=first.register.applied_revision,
        )
        applied = first.register.applied_revision
        session = AgentSession(node.id, node.name, applied, applied)
        previous = self.sessions.get(node.id)
        if previous is not None:
            previous.end(
                errors.Aborted(
                    "replaced by a newer stream of the same node", reason="STREAM_REPLACED"
                )
            )
        self.sessions[node.id] = session
        log.info(
            "node %s (%s) registered at applied revision %d (desired %d)",
            node.name,
            node.id,
            applied,
            registration.desired_revision,
        )
        session.send(
            agent_pb2.ControllerMessage(
                registered=agent_pb2.Registered(
                    node_id=node.id,
                    node_name=node.name,
                    desired_revision=registration.desired_revision,
                    heartbeat_timeout=_duration(self.settings.heartbeat_timeout),
                    progress_interval=_duration(self.settings.progress_interval),
                    controller_instance=self.instance,
                )
            )
        )
        if registration.node.draining:
            session.send(
                agent_pb2.ControllerMessage(
                    drain=agent_pb2.Drain(draining=True, reason=registration.node.disabled_reason)
                )
            )
        if registration.desired_revision != applied:
            # Level-triggered resume: the current desired state, whatever the agent had.
            session.known_revision = -1
            session.send_desired(
                registration.desired_revision,
                resources_to_proto(registration.desired_resources),
            )
        reader = asyncio.create_task(self._read(session, requests))
        try:
            while True:
                item = await session.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            reader.cancel()
            log.info("node %s (%s) stream closed", node.name, node.id)
            if self.sessions.get(node.id) is session:
                del self.sessions[node.id]
                if not self._stopped:  # stop() releases every node at once
                    self._spawn(self._release(node.id))

    async def _release(self, node_id: str) -> None:
        if node_id not in self.sessions:  # not reconnected meanwhile
            await asyncio.to_thread(self.registry.release, node_id, self.instance)

    async def _read(
        self, session: AgentSession, requests: AsyncIterator[agent_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in requests:
                self._handle(session, message)
            session.end(None)  # the agent closed its side
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            session.end(exc)

    def _handle(self, session: AgentSession, message: agent_pb2.AgentMessage) -> None:
        """Apply one agent message to in-memory state (no I/O: this runs per heartbeat)."""
        kind = message.WhichOneof("kind")
        node_id = session.node_id
        if kind == "heartbeat":
            self.heartbeats_received += 1
            self._seen.add(node_id)
        elif kind == "ack":
            revision = message.ack.revision
            if revision > session.ackable_revision:
                raise errors.InvalidArgument(
                    f"ack of revision {revision}, but this stream only carried revisions up "
                    f"to {session.ackable_revision}",
                    field="ack.revision",
                    reason="UNKNOWN_REVISION",
                )
            if revision < session.acked_revision:
                raise errors.InvalidArgument(
                    f"ack of revision {revision} after revision {session.acked_revision}: "
                    "acks must not go backwards",
                    field="ack.revision",
                    reason="OUT_OF_ORDER",
                )
            session.acked_revision = revision
            self.acks_received += 1
            self._applied[node_id] = revision
            self._seen.add(node_id)
        elif kind == "status":
            if message.status.revision > session.ackable_revision:
                raise errors.InvalidArgument(
                    f"status report for revision {message.status.revision}, which this stream "
                    "never carried",
                    field="status.revision",
                    reason="UNKNOWN_REVISION",
                )
            self._statuses[node_id] = [
                {"kind": r.kind, "name": r.name, "state": r.state, "message": r.message}
                for r in message.status.resources
            ]
        elif kind == "inventory":
            self._inventories[node_id] = inventory_to_dict(message.inventory)
        elif kind == "register":
            raise errors.Conflict(
                "register may be sent only once per stream", reason="ALREADY_REGISTERED"
            )
        else:
            raise errors.InvalidArgument(
                "empty agent message: set one of register, heartbeat, inventory, status, ack",
                reason="EMPTY_MESSAGE",
            )


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromTimedelta(timedelta(seconds=seconds))
    return value


__all__ = ["CREDENTIAL_KEY", "AgentHub", "AgentSession", "StreamSettings"]
