"""Identity, quotas and usage: projects, users, roles, credentials, tokens, limits, usage."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

VERSION = 2
DESCRIPTION = "identity, quotas and usage"


def upgrade(connection: Connection) -> None:
    meta = MetaData()
    Table(
        "projects",
        meta,
        Column("id", String(36), primary_key=True),
        Column("name", String(64), nullable=False, unique=True),
        Column("description", String(255), nullable=False),
        Column("enabled", Boolean, nullable=False),
        Column("is_admin_project", Boolean, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "users",
        meta,
        Column("id", String(36), primary_key=True),
        Column("name", String(64), nullable=False, unique=True),
        Column("password_hash", String(255), nullable=False),
        Column("enabled", Boolean, nullable=False),
        Column("tokens_valid_after", DateTime(timezone=True), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "role_assignments",
        meta,
        Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column(
            "project_id",
            String(36),
            ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        Column("role", String(16), primary_key=True),
    )
    Table(
        "application_credentials",
        meta,
        Column("id", String(36), primary_key=True),
        Column("name", String(64), nullable=False),
        Column(
            "user_id",
            String(36),
            ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column(
            "project_id",
            String(36),
            ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("secret_hash", String(64), nullable=False),
        Column("roles", String(64), nullable=False),
        Column("allowed_methods", Text, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("user_id", "name"),
    )
    Table(
        "revoked_tokens",
        meta,
        Column("token_id", String(36), primary_key=True),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        Column("revoked_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "signing_keys",
        meta,
        Column("id", String(16), primary_key=True),
        Column("secret", LargeBinary(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "auth_failures",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(300), nullable=False, index=True),
        Column("at", DateTime(timezone=True), nullable=False, index=True),
    )
    Table(
        "quota_limits",
        meta,
        Column(
            "project_id",
            String(36),
            ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("resource", String(64), primary_key=True),
        Column("limit", BigInteger, nullable=False),
    )
    usage = Table(
        "usage_records",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("project_id", String(36), nullable=False, index=True),
        Column("resource", String(64), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False, index=True),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    # GetUsage reads one project's records by time.
    Index("ix_usage_records_project_at", usage.c.project_id, usage.c.at)
    meta.create_all(connection)
