"""The agent registry: enrolled nodes, their liveness and desired state."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
)
from sqlalchemy.engine import Connection

VERSION = 3
DESCRIPTION = "agent registry: nodes"


def upgrade(connection: Connection) -> None:
    meta = MetaData()
    Table(
        "nodes",
        meta,
        Column("id", String(36), primary_key=True),
        Column("name", String(63), nullable=False, unique=True),
        Column("credential_hash", String(64), nullable=True),
        Column("enrolled_at", DateTime(timezone=True), nullable=False),
        Column("state", String(16), nullable=False),
        Column("state_changed_at", DateTime(timezone=True), nullable=False),
        Column("last_seen", DateTime(timezone=True), nullable=True),
        Column("admin_state", String(16), nullable=False),
        Column("draining", Boolean, nullable=False),
        Column("disabled_reason", String(255), nullable=False),
        Column("controller_instance", String(36), nullable=True),
        Column("agent_version", String(32), nullable=False),
        Column("inventory", JSON, nullable=False),
        Column("desired_revision", BigInteger, nullable=False),
        Column("desired_resources", JSON, nullable=False),
        Column("applied_revision", BigInteger, nullable=False),
        Column("resource_status", JSON, nullable=False),
    )
    meta.create_all(connection)
