"""Quotas counted from the resources that exist, and per-project usage records.

Hooks for the other services (compute, volume, network, object):

* :meth:`QuotaService.register_counter` - at wiring time, a service registers
  ``fn(session, project_id) -> int`` for each quota resource it owns, counting
  its own rows (``SELECT count(*)`` / ``sum(cores)`` ...).  There is no usage
  counter that could drift: what exists is what counts.
* :meth:`QuotaService.reserve` - inside the create transaction, before inserting
  the new rows: locks the project (``SELECT ... FOR UPDATE`` on its row on
  PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), counts, and raises
  :class:`cumulo.errors.QuotaExceeded` if the create would go over a limit.
  The lock holds until the transaction commits with the new rows, so
  concurrent creates at the limit admit exactly the limit.
* :meth:`QuotaService.check` - the same test without the lock, for a dry run
  before slow work; only ``reserve`` in the create transaction is binding.
* :meth:`QuotaService.record_usage` - append a usage record (in the caller's
  transaction when given a session), e.g. object bytes sampled by the object
  service or instance seconds reported by compute.

A resource without a registered counter counts as 0 (its service is not built
yet); its limit can still be set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.locks import lock_row
from controller.db.models_identity import Project, QuotaLimit, UsageRecord
from controller.identity.caller import Caller, project_not_found
from controller.identity.times import now, utc
from cumulo import errors
from cumulo.rpc.paging import decode_token, encode_token, page_size

#: Every quota resource, with its unit in the name where it has one.
RESOURCES = (
    "application_credentials",
    "cores",
    "floating_ips",
    "gigabytes",
    "instances",
    "networks",
    "object_bytes",
    "object_count",
    "ports",
    "ram_mb",
    "volumes",
)
UNLIMITED = -1
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Counter = Callable[[Session, str], int]


@dataclass(frozen=True)
class QuotaItemView:
    resource: str
    limit: int
    in_use: int
    is_default: bool


@dataclass(frozen=True)
class UsageRecordView:
    project_id: str
    resource: str
    amount: int
    at: datetime


@dataclass(frozen=True)
class UsageTotalView:
    resource: str
    sum: int
    max: int
    records: int


@dataclass(frozen=True)
class UsageReport:
    project_id: str
    totals: list[UsageTotalView]
    records: list[UsageRecordView]
    next_page_token: str


@dataclass(frozen=True)
class _Registered:
    count: Counter
    blocks_project_delete: bool


def _check_resource(resource: str, field: str = "resource") -> str:
    if resource not in RESOURCES:
        raise errors.InvalidArgument(
            f"unknown quota resource {resource!r}",
            field=field,
            hint=f"resources are {', '.join(RESOURCES)}",
        )
    return resource


class QuotaService:
    """Limits per project, usage counted by registered counters, and usage records."""

    def __init__(self, database: Database, defaults: Mapping[str, int]) -> None:
        self._database = database
        self.defaults = {resource: int(defaults.get(resource, UNLIMITED)) for resource in RESOURCES}
        self._counters: dict[str, _Registered] = {}

    # -- hooks for other services ---------------------------------------------------------

    def register_counter(
        self, resource: str, count: Counter, *, blocks_project_delete: bool = True
    ) -> None:
        """Count ``resource`` with ``count(session, project_id)`` from the owning service's rows.

        ``blocks_project_delete``: a project that still has some of it cannot be deleted
        (False for things deleted together with the project, like application credentials).
        """
        _check_resource(resource)
        if resource in self._counters:
            raise ValueError(f"a counter for {resource!r} is registered already")
        self._counters[resource] = _Registered(count, blocks_project_delete)

    def count(self, session: Session, project_id: str, resource: str) -> int:
        registered = self._counters.get(resource)
        return int(registered.count(session, project_id)) if registered else 0

    def limits(self, session: Session, project_id: str) -> dict[str, tuple[int, bool]]:
        """``resource -> (limit, is_default)`` for the project."""
        result = {resource: (limit, True) for resource, limit in self.defaults.items()}
        for row in session.execute(select(QuotaLimit).where(QuotaLimit.project_id == project_id)):
            limit = row[0]
            if limit.resource in result:
                result[limit.resource] = (int(limit.limit), False)
        return result

    def reserve(self, session: Session, project_id: str, wanted: Mapping[str, int]) -> None:
        """Lock the project and refuse if adding ``wanted`` would exceed a limit.

        Call first in the create transaction, then insert the new rows in the same
        transaction; see the module docstring.  NOT_FOUND if the project is gone.
        """
        if not lock_row(session, Project.id, project_id):
            raise project_not_found(project_id)
        self.check(session, project_id, wanted)

    def check(self, session: Session, project_id: str, wanted: Mapping[str, int]) -> None:
        """Refuse if adding ``wanted`` would exceed a limit, without locking.

        A dry run (e.g. to fail fast before slow work); only :meth:`reserve` in the
        create transaction makes the answer binding.
        """
        limits = self.limits(session, project_id)
        for resource, amount in sorted(wanted.items()):
            _check_resource(resource)
            limit, _ = limits[resource]
            if limit == UNLIMITED or amount <= 0:
                continue
            in_use = self.count(session, project_id, resource)
            if in_use + amount > limit:
                raise errors.QuotaExceeded(
                    f"quota exceeded for {resource}: limit {limit}, in use {in_use}, "
                    f"requested {amount}",
                    field=resource,
                    hint="delete something, or ask a cloud admin to raise the quota "
                    "(`cumulo quota set`)",
                )

    def blocking_resources(self, session: Session, project_id: str) -> dict[str, int]:
        """Resources the project still has that prevent deleting it."""
        found = {}
        for resource, registered in sorted(self._counters.items()):
            if registered.blocks_project_delete:
                count = int(registered.count(session, project_id))
                if count:
                    found[resource] = count
        return found

    def record_usage(
        self,
        project_id: str,
        resource: str,
        amount: int,
        at: datetime | None = None,
        *,
        session: Session | None = None,
    ) -> None:
        """Append one usage record (in ``session``'s transaction when given)."""
        if not _RESOURCE_NAME.match(resource):
            raise errors.InvalidArgument(f"bad usage resource name {resource!r}", field="resource")
        record = UsageRecord(
            project_id=project_id,
            resource=resource,
            amount=int(amount),
            at=utc(at) if at else now(),
            recorded_at=now(),
        )
        if session is not None:
            session.add(record)
            return
        with self._database.session() as own:
            own.add(record)

    # -- the RPCs ---------------------------------------------------------------------------

    def _items(self, session: Session, project_id: str) -> list[QuotaItemView]:
        limits = self.limits(session, project_id)
        return [
            QuotaItemView(
                resource=resource,
                limit=limit,
                in_use=self.count(session, project_id, resource),
                is_default=is_default,
            )
            for resource, (limit, is_default) in sorted(limits.items())
        ]

    def _require_project(self, session: Session, project_id: str) -> None:
        if session.get(Project, project_id) is None:
            raise project_not_found(project_id)

    def get_quota(self, caller: Caller, project_id: str) -> tuple[str, list[QuotaItemView]]:
        project_id = caller.project_scope(project_id)
        with self._database.session() as session:
            self._require_project(session, project_id)
            return project_id, self._items(session, project_id)

    def set_quota(
        self, caller: Caller, project_id: str, limits: Mapping[str, int], reset: Sequence[str]
    ) -> tuple[str, list[QuotaItemView]]:
        if not project_id:
            raise errors.InvalidArgument(
                "project_id is required", field="project_id", hint="name the project to change"
            )
        project_id = caller.project_scope(project_id)
        for resource, limit in limits.items():
            _check_resource(resource, f"limits[{resource}]")
            if limit < UNLIMITED:
                raise errors.InvalidArgument(
                    f"limit for {resource} must be -1 (unlimited) or more, got {limit}",
                    field=f"limits[{resource}]",
                )
        for resource in reset:
            _check_resource(resource, "reset")
        with self._database.session() as session:
            self._require_project(session, project_id)
            if reset:
                session.execute(
                    delete(QuotaLimit).where(
                        QuotaLimit.project_id == project_id, QuotaLimit.resource.in_(list(reset))
                    )
                )
            for resource, limit in limits.items():
                row = session.get(QuotaLimit, (project_id, resource))
                if row is None:
                    session.add(QuotaLimit(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
            session.flush()
            return project_id, self._items(session, project_id)

    def get_usage(
        self,
        caller: Caller,
        project_id: str,
        since: datetime | None,
        until: datetime | None,
        resources: Sequence[str],
        requested_page_size: int = 0,
        page_token: str = "",
    ) -> UsageReport:
        project_id = caller.project_scope(project_id)
        start = utc(since) if since else datetime(1970, 1, 1, tzinfo=UTC)
        end = utc(until) if until else now()
        if end < start:
            raise errors.InvalidArgument(
                "until is before since", field="until", hint="give a range that moves forward"
            )
        size = page_size(requested_page_size)
        after = decode_token(page_token)
        where = [
            UsageRecord.project_id == project_id,
            UsageRecord.at >= start,
            UsageRecord.at < end,
        ]
        if resources:
            where.append(UsageRecord.resource.in_(list(resources)))
        with self._database.session() as session:
            self._require_project(session, project_id)
            totals = [
                UsageTotalView(row.resource, int(row.total or 0), int(row.peak or 0), int(row.n))
                for row in session.execute(
                    select(
                        UsageRecord.resource,
                        func.sum(UsageRecord.amount).label("total"),
                        func.max(UsageRecord.amount).label("peak"),
                        func.count().label("n"),
                    )
                    .where(*where)
                    .group_by(UsageRecord.resource)
                    .order_by(UsageRecord.resource)
                )
            ]
            query = select(UsageRecord).where(*where)
            if after is not None:
                try:
                    at_after, id_after = utc(datetime.fromisoformat(after[0])), int(after[1])
                except (TypeError, ValueError, IndexError):
                    raise errors.InvalidArgument(
                        "page_token is not a token this server issued", field="page.page_token"
                    ) from None
                query = query.where(
                    or_(
                        UsageRecord.at > at_after,
                        and_(UsageRecord.at == at_after, UsageRecord.id > id_after),
                    )
                )
            rows = list(
                session.execute(query.order_by(UsageRecord.at, UsageRecord.id).limit(size + 1))
                .scalars()
                .all()
            )
        more = len(rows) > size
        rows = rows[:size]
        records = [UsageRecordView(r.project_id, r.resource, r.amount, utc(r.at)) for r in rows]
        next_token = ""
        if more and rows:
            last_at = utc(rows[-1].at).isoformat()
            next_token = encode_token([last_at, rows[-1].id])
        return UsageReport(project_id, totals, records, next_token)
