"""Node records in the database: credentials, liveness, desired state.

Contracts:

* A credential is ``<node_id>.<secret>``; only ``sha256(secret)`` is stored, and
  :meth:`NodeRegistry.authenticate` compares in constant time.  Revoking sets the
  hash to NULL, so a revoked node cannot connect until re-enrolled with
  ``rotate``.
* ``state`` is persisted: ``new`` until the first Register, ``up`` on Register
  and on every flushed heartbeat, ``down`` once :meth:`mark_down` finds
  ``last_seen`` older than the heartbeat timeout.  A restarted controller reads
  the same column, so every controller agrees.
* Each node has its own desired-state revision, increased by one on every
  :meth:`set_desired`; the resources are replaced as a whole (level-triggered).
* Every method is synchronous (one transaction each); async callers run them in
  a worker thread.  Heartbeats never come here one by one: :meth:`flush` writes a
  batch in one statement.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.models_agents import Node
from cumulo import errors

log = logging.getLogger("cumulo.controller.agents")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
STATES = ("new", "up", "down")
MAX_RESOURCES = 10_000


def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every time we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_credential(credential: str) -> tuple[str, str]:
    """``(node_id, secret)`` of a credential; raise Unauthenticated if malformed."""
    node_id, sep, secret = credential.strip().partition(".")
    try:
        uuid.UUID(node_id)
    except ValueError:
        node_id = ""
    if not sep or not node_id or len(secret) < 16:
        raise errors.Unauthenticated(
            "the node credential is malformed",
            reason="BAD_NODE_CREDENTIAL",
            hint="use the credential `cumulo node enroll` printed: <node_id>.<secret>",
        )
    return node_id, secret


@dataclass(frozen=True)
class NodeRecord:
    """A node as the domain layer sees it."""

    id: str
    name: str
    state: str
    admin_state: str
    draining: bool
    disabled_reason: str
    enrolled_at: datetime
    state_changed_at: datetime
    last_seen: datetime | None
    desired_revision: int
    applied_revision: int
    agent_version: str
    controller_instance: str
    credential_revoked: bool
    inventory: dict[str, Any] = field(default_factory=dict)
    resource_status: list[dict[str, Any]] = field(default_factory=list)
    desired_resources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Registration:
    """What a stream needs to know after its node registered."""

    node: NodeRecord
    desired_revision: int
    desired_resources: list[dict[str, Any]]


def _record(row: Node, *, details: bool = False) -> NodeRecord:
    return NodeRecord(
        id=row.id,
        name=row.name,
        state=row.state,
        admin_state=row.admin_state,
        draining=row.draining,
        disabled_reason=row.disabled_reason,
        enrolled_at=utc(row.enrolled_at),  # type: ignore[arg-type]
        state_changed_at=utc(row.state_changed_at),  # type: ignore[arg-type]
        last_seen=utc(row.last_seen),
        desired_revision=row.desired_revision,
        applied_revision=row.applied_revision,
        agent_version=row.agent_version,
        controller_instance=row.controller_instance or "",
        credential_revoked=row.credential_hash is None,
        inventory=dict(row.inventory or {}),
        resource_status=list(row.resource_status or []) if details else [],
        desired_resources=list(row.desired_resources or []) if details else [],
    )


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise errors.InvalidArgument(
            f"node name {name!r} is not valid",
            field="name",
            hint="1-63 characters: letters, digits, '.', '-', '_'; starting with a letter or digit",
        )
    return name


def validate_resources(resources: Sequence[Mapping[str, Any]]) -> None:
    if len(resources) > MAX_RESOURCES:
        raise errors.InvalidArgument(
            f"at most {MAX_RESOURCES} resources per node, got {len(resources)}", field="resources"
        )
    seen = set()
    for index, resource in enumerate(resources):
        kind, name = resource.get("kind", ""), resource.get("name", "")
        if not kind or not name:
            raise errors.InvalidArgument(
                f"resource {index} needs a kind and a name", field=f"resources[{index}]"
            )
        if (kind, name) in seen:
            raise errors.InvalidArgument(
                f"resource {kind}/{name} appears twice", field=f"resources[{index}]"
            )
        seen.add((kind, name))


class NodeRegistry:
    """Reads and writes node rows; see the module docstring for the contracts."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- lookup -------------------------------------------------------------

    @staticmethod
    def _find(session: Session, ref: str, *, lock: bool = False) -> Node:
        statement = select(Node).where((Node.id == ref) | (Node.name == ref))
        if lock:
            statement = statement.with_for_update()
        row = session.scalars(statement).first()
        if row is None:
            raise errors.NotFound(
                f"no node {ref!r}", field="node", hint="`cumulo node list` shows the nodes"
            )
        return row

    def get(self, ref: str) -> NodeRecord:
        with self.database.session() as session:
            return _record(self._find(session, ref), details=True)

    def list_nodes(self, after: str | None, limit: int) -> tuple[list[NodeRecord], bool]:
        """Nodes sorted by name after ``after``; second item says whether more exist."""
        with self.database.session() as session:
            statement = select(Node).order_by(Node.name).limit(limit + 1)
            if after is not None:
                statement = statement.where(Node.name > str(after))
            rows = list(session.scalars(statement))
        return [_record(row) for row in rows[:limit]], len(rows) > limit

    def count_by_state(self) -> dict[str, int]:
        with self.database.session() as session:
            counts = dict.fromkeys(STATES, 0)
            for state, count in session.execute(
                select(Node.state, func.count()).group_by(Node.state)
            ):
                counts[state] = int(count)
            return counts

    # -- enrollment and credentials ------------------------------------------

    def enroll(self, name: str, *, rotate: bool = False) -> tuple[NodeRecord, str]:
        """Create node ``name`` (or, with ``rotate``, re-key it); return it and its credential."""
        validate_name(name)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.database.session() as session:
            row = session.scalars(select(Node).where(Node.name == name)).first()
            if row is not None and not rotate:
                raise errors.AlreadyExists(
                    f"node {name!r} is already enrolled",
                    field="name",
                    hint="pass --rotate to issue it a new credential (the old one stops working)",
                )
            if row is None:
                row = Node(
                    id=str(uuid.uuid4()),
                    name=name,
                    enrolled_at=now,
                    state="new",
                    state_changed_at=now,
                    last_seen=None,
                    admin_state="enabled",
                    draining=False,
                    disabled_reason="",
                    controller_instance=None,
                    agent_version="",
                    inventory={},
                    desired_revision=0,
                    desired_resources=[],
                    applied_revision=0,
                    resource_status=[],
                )
                session.add(row)
            row.credential_hash = hash_secret(secret)
            session.flush()
            return _record(row), f"{row.id}.{secret}"

    def authenticate(self, credential: str) -> NodeRecord:
        """The node ``credential`` belongs to; Unauthenticated if wrong or revoked."""
        node_id, secret = split_credential(credential)
        with self.database.session() as session:
            row = session.get(Node, node_id)
            stored = row.credential_hash if row is not None else None
            if (
                row is None
                or stored is None
                or not hmac.compare_digest(stored, hash_secret(secret))
            ):
                raise errors.Unauthenticated(
                    "the node credential is not valid (unknown, wrong or revoked)",
                    reason="BAD_NODE_CREDENTIAL",
                    hint="enroll the node again: `cumulo node enroll NAME --rotate`",
                )
            return _record(row)

    def revoke(self, ref: str) -> NodeRecord:
        with self.database.session() as session:
            row = self._find(session, ref, lock=True)
            row.credential_hash = None
            session.flush()
            return _record(row)

    def ensure_local_credential(self, name: str, path: Path) -> str:
        """Make ``path`` hold a valid credential for node ``name``; return the node id.

        Used by ``cumulo up``: the first start enrolls the local node and writes
        the file (0600); later starts keep it, so the node keeps its identity.
        """
        try:
            existing = path.read_text().strip()
        except OSError:
            existing = ""
        if existing:
            try:
                return self.authenticate(existing).id
            except errors.Unauthenticated:
                log.warning("local agent credential in %s is not valid; re-enrolling", path)
        with self.database.session() as session:
            known = session.scalars(select(Node.id).where(Node.name == name)).first()
        record, credential = self.enroll(name, rotate=known is not None)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(credential + "\n")
        os.replace(tmp, path)
        log.info("enrolled local node %s (%s); credential in %s", name, record.id, path)
        return record.id

    # -- admin state ------------------------------------------------------------

    def set_admin(self, ref: str, *, enabled: bool, draining: bool, reason: str = "") -> NodeRecord:
        if len(reason) > 255:
            raise errors.InvalidArgument("reason is longer than 255 characters", field="reason")
        with self.database.session() as session:
            row = self._find(session, ref, lock=True)
            row.admin_state = "enabled" if enabled else "disabled"
            row.draining = draining
            row.disabled_reason = "" if enabled else reason
            session.flush()
            return _record(row)

    # -- the stream's writes ------------------------------------------------------

    def register(
        self,
        node_id: str,
        *,
        instance: str,
        inventory: dict[str, Any],
        agent_version: str,
        applied_revision: int,
    ) -> Registration:
        now = datetime.now(UTC)
        with self.database.session() as session:
            row = session.get(Node, node_id, with_for_update=True)
            if row is None or row.credential_hash is None:
                raise errors.Unauthenticated(
                    "the node was revoked while connecting", reason="BAD_NODE_CREDENTIAL"
                )
            if row.state != "up":
                row.state = "up"
                row.state_changed_at = now
            row.last_seen = now
            row.controller_instance = instance
            row.inventory = inventory
            row.agent_version = agent_version[:32]
            if applied_revision > row.desired_revision:
                # The agent is ahead of the database (restored from a backup?):
                # move the revision past it so revisions stay monotonic for the
                # agent, which then converges to the database's resources.
                log.warning(
                    "node %s reports applied revision %d above its desired revision %d; "
                    "re-sending the desired state as revision %d",
                    row.name,
                    applied_revision,
                    row.desired_revision,
                    applied_revision + 1,
                )
                row.desired_revision = applied_revision + 1
            row.applied_revision = applied_revision
            session.flush()
            return Registration(_record(row), row.desired_revision, list(row.desired_resources))

    def release(self, node_id: str, instance: str) -> None:
        """The stream of ``node_id`` on ``instance`` ended."""
        with self.database.session() as session:
            session.execute(
                update(Node)
                .where(Node.id == node_id, Node.controller_instance == instance)
                .values(controller_instance=None)
            )

    def release_all(self, instance: str) -> None:
        with self.database.session() as session:
            session.execute(
                update(Node)
                .where(Node.controller_instance == instance)
                .values(controller_instance=None)
            )

    def flush(
        self,
        seen: Iterable[str],
        applied: Mapping[str, int],
        statuses: Mapping[str, list[dict[str, Any]]],
        inventories: Mapping[str, dict[str, Any]],
    ) -> None:
        """Record a batch of heartbeats, acks, status reports and inventories."""
        now = datetime.now(UTC)
        seen = list(seen)
        with self.database.session() as session:
            if seen:
                # One statement for every heartbeat since the last flush.
                session.execute(
                    update(Node)
                    .where(Node.id.in_(seen))
                    .values(
                        last_seen=now,
                        state="up",
                        state_changed_at=case(
                            (Node.state != "up", now), else_=Node.state_changed_at
                        ),
                    )
                    .execution_options(synchronize_session=False)
                )
            rows: dict[str, dict[str, Any]] = {}
            for node_id, revision in applied.items():
                rows.setdefault(node_id, {"id": node_id})["applied_revision"] = revision
            for node_id, status in statuses.items():
                rows.setdefault(node_id, {"id": node_id})["resource_status"] = status
            for node_id, inventory in inventories.items():
                rows.setdefault(node_id, {"id": node_id})["inventory"] = inventory
            # Bulk UPDATE by primary key groups rows with the same keys per statement.
            for keys in {tuple(sorted(r)) for r in rows.values()}:
                batch = [r for r in rows.values() if tuple(sorted(r)) == keys]
                session.execute(update(Node), batch)

    def mark_down(self, cutoff: datetime) -> list[tuple[str, str]]:
        """Mark nodes silent since before ``cutoff`` down; return their (id, name)."""
        now = datetime.now(UTC)
        with self.database.session() as session:
            result = session.execute(
                update(Node)
                .where(Node.state == "up", Node.last_seen < cutoff)
                .values(state="down", state_changed_at=now)
                .returning(Node.id, Node.name)
                .execution_options(synchronize_session=False)
            )
            return [(row[0], row[1]) for row in result]

    # -- desired state ------------------------------------------------------------

    def set_desired(
        self, refs: Sequence[str], resources: list[dict[str, Any]], *, all_nodes: bool = False
    ) -> dict[str, int]:
        """Replace the desired resources of ``refs`` (or all nodes); return new revisions."""
        validate_resources(resources)
        if all_nodes == bool(refs):
            raise errors.InvalidArgument(
                "name the nodes or set all_nodes (not both)", field="nodes"
            )
        with self.database.session() as session:
            statement = (
                update(Node)
                .values(
                    desired_revision=Node.desired_revision + 1,
                    desired_resources=resources,
                )
                .returning(Node.id, Node.desired_revision)
                .execution_options(synchronize_session=False)
            )
            if not all_nodes:
                ids = []
                for ref in dict.fromkeys(refs):
                    ids.append(self._find(session, ref).id)
                statement = statement.where(Node.id.in_(ids))
            return {row[0]: int(row[1]) for row in session.execute(statement)}

    def desired_revisions(self, node_ids: Sequence[str]) -> dict[str, int]:
        if not node_ids:
            return {}
        with self.database.session() as session:
            rows = session.execute(
                select(Node.id, Node.desired_revision).where(Node.id.in_(list(node_ids)))
            )
            return {row[0]: int(row[1]) for row in rows}

    def desired_many(self, node_ids: Sequence[str]) -> dict[str, tuple[int, list[dict[str, Any]]]]:
        """Current desired revision and resources of each of ``node_ids`` that exists."""
        if not node_ids:
            return {}
        with self.database.session() as session:
            rows = session.execute(
                select(Node.id, Node.desired_revision, Node.desired_resources).where(
                    Node.id.in_(list(node_ids))
                )
            )
            return {row[0]: (int(row[1]), list(row[2])) for row in rows}
