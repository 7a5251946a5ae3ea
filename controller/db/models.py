"""SQLAlchemy models of the controller's tables.

The schema itself is created by the migrations in ``controller/db/migrations``;
a test checks that migrating an empty database yields exactly these models.
Domain packages add their models here (or in modules imported here) so one
``Base.metadata`` describes the whole database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ControllerInstance(Base):
    """One row per controller process start; several may run against one database."""

    __tablename__ = "controller_instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    listen: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
