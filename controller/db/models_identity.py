"""SQLAlchemy models of identity, quotas and usage.

Created by migration ``m0002_identity``.  Times are stored in UTC; SQLite hands
them back naive, so readers go through :func:`controller.identity.times.utc`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from controller.db.models import Base


class Project(Base):
    """A tenant: the unit of ownership, isolation and quota."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: The bootstrap project: its admins are cloud admins.
    is_admin_project: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person or robot that authenticates with a password."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`` (see controller.identity.passwords).
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: Tokens issued before this instant are refused (password change, disable).
    tokens_valid_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoleAssignment(Base):
    """User U holds role R on project P."""

    __tablename__ = "role_assignments"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class ApplicationCredential(Base):
    """A secret a user hands to a program: one project, some roles, maybe some methods."""

    __tablename__ = "application_credentials"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the secret (the secret is 256 random bits, so a slow hash buys nothing).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Space-separated role names.
    roles: Mapped[str] = mapped_column(String(64))
    #: JSON list of full method names; ``[]`` means unrestricted.
    allowed_methods: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevokedToken(Base):
    """A token refused before its expiry; rows can go once ``expires_at`` has passed."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """HMAC keys tokens are signed with; shared by every controller through the database."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuthFailure(Base):
    """One failed authentication, per limiter key (``user:<name>``, ``source:<addr>``)."""

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class QuotaLimit(Base):
    """A project's limit for one resource, where it differs from the cloud default."""

    __tablename__ = "quota_limits"

    project_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: -1 means unlimited.
    limit: Mapped[int] = mapped_column(BigInteger)


class UsageRecord(Base):
    """An amount of a resource a project used at an instant (kept after the project goes)."""

    __tablename__ = "usage_records"
    #: GetUsage reads one project's records by time.
    __table_args__ = (Index("ix_usage_records_project_at", "project_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(36), index=True)
    resource: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
