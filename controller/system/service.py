"""SystemService: what this controller is and what it runs on.

Domain layer: returns plain dataclasses; ``controller.api.system`` turns them
into protobuf messages.
"""

from __future__ import annotations

import os
import platform
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata

import _native
import cumulo
from controller.db import Database, redact_url
from controller.db.migrations import current_version
from controller.db.models import ControllerInstance
from cumulo import errors

SECTIONS = ("database", "native", "runtime")

_COMPONENT_DISTRIBUTIONS = {
    "grpcio": "grpcio",
    "protobuf": "protobuf",
    "sqlalchemy": "SQLAlchemy",
    "libvirt-python": "libvirt-python",
    "pyroute2": "pyroute2",
    "xxhash": "xxhash",
    "zstandard": "zstandard",
}


@dataclass(frozen=True)
class VersionReport:
    version: str
    api_packages: list[str]
    components: dict[str, str]


@dataclass(frozen=True)
class DatabaseReport:
    kind: str
    server_version: str
    schema_version: int
    url: str


@dataclass(frozen=True)
class NativeReport:
    backend: str
    fallbacks: dict[str, str]


@dataclass(frozen=True)
class RuntimeReport:
    hostname: str
    pid: int
    started_at: datetime
    uptime: timedelta
    instance_id: str
    data_dir: str


@dataclass(frozen=True)
class InfoReport:
    database: DatabaseReport | None = None
    native: NativeReport | None = None
    runtime: RuntimeReport | None = None


@dataclass
class SystemService:
    """Facts about this controller process and its deployment."""

    database: Database
    data_dir: str
    listen: str
    api_packages: list[str]
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def register_instance(self) -> None:
        """Record this process start (several controllers may share one database)."""
        with self.database.session() as session:
            session.add(
                ControllerInstance(
                    id=self.instance_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    version=cumulo.__version__,
                    listen=self.listen,
                    started_at=self.started_at,
                )
            )

    def mark_stopped(self) -> None:
        with self.database.session() as session:
            row = session.get(ControllerInstance, self.instance_id)
            if row is not None:
                row.stopped_at = datetime.now(UTC)

    def version(self) -> VersionReport:
        components = {"python": platform.python_version()}
        for name, distribution in _COMPONENT_DISTRIBUTIONS.items():
            try:
                components[name] = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                components[name] = "not installed"
        return VersionReport(cumulo.__version__, list(self.api_packages), components)

    def info(self, sections: list[str]) -> InfoReport:
        """Return the requested sections (all when ``sections`` is empty)."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise errors.InvalidArgument(
                f"unknown section(s) {', '.join(map(repr, unknown))}",
                field="sections",
                hint=f"valid sections: {', '.join(SECTIONS)}",
            )
        wanted = set(sections or SECTIONS)
        report: dict[str, object] = {}
        if "database" in wanted:
            report["database"] = DatabaseReport(
                kind=self.database.kind,
                server_version=self.database.server_version(),
                schema_version=current_version(self.database.engine),
                url=redact_url(self.database.url),
            )
        if "native" in wanted:
            report["native"] = NativeReport(_native.BACKEND, dict(_native.FALLBACKS))
        if "runtime" in wanted:
            now = datetime.now(UTC)
            report["runtime"] = RuntimeReport(
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=self.started_at,
                uptime=now - self.started_at,
                instance_id=self.instance_id,
                data_dir=self.data_dir,
            )
        return InfoReport(**report)  # type: ignore[arg-type]
