"""The first schema: controller instances."""

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy.engine import Connection

VERSION = 1
DESCRIPTION = "controller instances"


def upgrade(connection: Connection) -> None:
    meta = MetaData()
    Table(
        "controller_instances",
        meta,
        Column("id", String(36), primary_key=True),
        Column("hostname", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("version", String(32), nullable=False),
        Column("listen", String(255), nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("stopped_at", DateTime(timezone=True), nullable=True),
    )
    meta.create_all(connection)
