"""Object usage of every project, sampled from an object proxy into usage records.

The object store keeps its usage (objects, bytes) in its listing index, not in the
controller's database, and ``storage`` never imports the controller.  So the
controller asks: every ``interval`` seconds :class:`ObjectUsageSampler` calls
``cumulo.object.v1.ObjectService/GetAccount`` on an object proxy for each enabled
project and appends two usage records, ``object_bytes`` and ``object_count``.
:func:`latest_sample` is the quota counter of those two resources, so
``GetQuota``'s ``in_use`` is the newest sample (at most ``interval`` seconds old)
and ``GetUsage`` shows the history (its ``max`` is the peak of the gauge).

The proxy is the enforcement point of object quotas (it checks every PUT against
the limits it reads from here); the samples are for people, billing and reports.

The sampler authenticates with a token the controller mints for itself: the
bootstrap admin user on the admin project, limited (signed into the token) to
``GetAccount``, held in memory only and renewed before it expires.

Failures never stop the loop: a proxy that is down or a project it cannot answer
for is logged and retried at the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.models_identity import Project, UsageRecord
from controller.identity.service import IdentityService
from controller.identity.times import now
from controller.quota.service import QuotaService
from cumulo.object.v1 import object_pb2, object_pb2_grpc
from cumulo.rpc.tls import PLAINTEXT, Tls, aio_channel

log = logging.getLogger("cumulo.controller.object_usage")

GET_ACCOUNT = "/cumulo.object.v1.ObjectService/GetAccount"
#: The resources sampled, and their unit.
OBJECT_RESOURCES = ("object_bytes", "object_count")
#: Renew the internal token when less than this many seconds of it are left.
_RENEW_MARGIN = 60.0


def latest_sample(resource: str) -> Callable[[Session, str], int]:
    """A quota counter answering the newest usage record of ``resource`` (0 if none)."""

    def count(session: Session, project_id: str) -> int:
        amount = session.execute(
            select(UsageRecord.amount)
            .where(UsageRecord.project_id == project_id, UsageRecord.resource == resource)
            .order_by(UsageRecord.at.desc(), UsageRecord.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return int(amount or 0)

    return count


def register_object_counters(quota: QuotaService) -> None:
    """Make ``object_bytes``/``object_count`` quota usage the newest sample.

    Objects do not block a project's deletion: they live in the object store, which
    keeps the account (a cloud admin can still reach it by project id).
    """
    for resource in OBJECT_RESOURCES:
        quota.register_counter(resource, latest_sample(resource), blocks_project_delete=False)


@dataclass(frozen=True)
class PassReport:
    """What one sampling pass did."""

    sampled: int
    failed: int
    seconds: float


class ObjectUsageSampler:
    """Samples each enabled project's object usage; see the module docstring.

    ``endpoint()`` answers the proxy's ``HOST:PORT`` at the moment of a pass, or ""
    when there is none (yet): the all-in-one proxy starts after the controller.
    """

    def __init__(
        self,
        database: Database,
        quota: QuotaService,
        identity: IdentityService,
        admin_user_id: str,
        endpoint: Callable[[], str],
        interval: float,
        timeout: float = 10.0,
        tls: Tls = PLAINTEXT,
    ) -> None:
        """``tls`` secures the channel to the proxy (plaintext by default)."""
        self._database = database
        self._quota = quota
        self._identity = identity
        self._admin_user_id = admin_user_id
        self._endpoint = endpoint
        self.interval = interval
        self.timeout = timeout
        self._tls = tls
        self._token = ""
        self._token_expires = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="object-usage-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                report = await self.sample_once()
                if report is not None:
                    log.info(
                        "object usage sampled for %d projects (%d failed) in %.2fs",
                        report.sampled,
                        report.failed,
                        report.seconds,
                    )
            except Exception:  # the loop must survive anything; the next pass retries
                log.exception("object usage sampling failed")
            await asyncio.sleep(self.interval)

    def _projects(self) -> list[str]:
        with self._database.session() as session:
            return list(
                session.execute(
                    select(Project.id).where(Project.enabled.is_(True)).order_by(Project.id)
                ).scalars()
            )

    def _record(self, samples: list[tuple[str, int, int]]) -> None:
        at = now()
        with self._database.session() as session:
            for project_id, objects, used in samples:
                self._quota.record_usage(project_id, "object_bytes", used, at, session=session)
                self._quota.record_usage(project_id, "object_count", objects, at, session=session)

    async def _bearer(self) -> str:
        if time.time() > self._token_expires - _RENEW_MARGIN:
            issued = await asyncio.to_thread(
                self._identity.issue_internal, self._admin_user_id, frozenset({GET_ACCOUNT})
            )
            self._token = issued.token
            self._token_expires = issued.caller.expires_at.timestamp()
        return self._token

    async def sample_once(self) -> PassReport | None:
        """One pass over every enabled project; None when there is no proxy to ask."""
        endpoint = self._endpoint()
        if not endpoint:
            return None
        started = time.monotonic()
        projects = await asyncio.to_thread(self._projects)
        metadata = (("authorization", f"Bearer {await self._bearer()}"),)
        samples: list[tuple[str, int, int]] = []
        failed = 0
        async with aio_channel(endpoint, self._tls) as channel:
            stub = object_pb2_grpc.ObjectServiceStub(channel)
            for project_id in projects:
                try:
                    answer = await stub.GetAccount(
                        object_pb2.GetAccountRequest(project_id=project_id),
                        metadata=metadata,
                        timeout=self.timeout,
                    )
                except grpc.RpcError as exc:
                    failed += 1
                    log.warning(
                        "object usage of project %s not sampled from %s: %s %s",
                        project_id,
                        endpoint,
                        exc.code().name,
                        exc.details(),
                    )
                    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
                        break  # the proxy is down or refuses us: no point asking per project
                    continue
                samples.append((project_id, answer.account.object_count, answer.account.bytes_used))
        if samples:
            await asyncio.to_thread(self._record, samples)
        return PassReport(len(samples), failed, time.monotonic() - started)
