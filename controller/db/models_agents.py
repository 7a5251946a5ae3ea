"""SQLAlchemy models of the agent registry: one row per enrolled node.

The row holds everything the controller must remember about a node across
restarts: the hash of its credential (never the secret), liveness (``state``,
``last_seen``), schedulability, the last reported inventory, and the node's
desired state with its revision.  ``controller.agents.registry`` is the only
code that reads or writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from controller.db.models import Base


class Node(Base):
    """An enrolled node (a host running one agent)."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    #: sha256 hex of the credential's secret; NULL once revoked.
    credential_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: "new" | "up" | "down" (see controller.agents.liveness).
    state: Mapped[str] = mapped_column(String(16))
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: "enabled" | "disabled".
    admin_state: Mapped[str] = mapped_column(String(16))
    draining: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str] = mapped_column(String(255))
    #: Controller instance holding the stream, NULL when none does.
    controller_instance: Mapped[str | None] = mapped_column(String(36), nullable=True)
    agent_version: Mapped[str] = mapped_column(String(32))
    inventory: Mapped[dict[str, Any]] = mapped_column(JSON)
    desired_revision: Mapped[int] = mapped_column(BigInteger)
    desired_resources: Mapped[list[Any]] = mapped_column(JSON)
    applied_revision: Mapped[int] = mapped_column(BigInteger)
    resource_status: Mapped[list[Any]] = mapped_column(JSON)
