"""Quotas counted from rows and enforced without races, and usage records, over real gRPC."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from cumulo import errors
from cumulo.client import Client
from tests.helpers.identity import admin_client, make_user, user_client

CONCURRENT = 50


def _project_with_member(admin: Client, name: str) -> str:
    project = admin.identity.create_project(name)
    make_user(admin, f"{name}-member", project.meta.id, "member")
    return project.meta.id


def test_fifty_concurrent_creates_at_the_limit_admit_exactly_the_limit(
    database_url, start_controller
) -> None:  # type: ignore[no-untyped-def]
    """50 CreateApplicationCredential calls at once against a limit of 10: exactly 10 win."""
    running = start_controller(database_url)
    limit = 10
    with admin_client(running.address) as admin:
        project_id = _project_with_member(admin, "racers")
        admin.quota.set_quota(project_id, {"application_credentials": limit})
    outcomes: list[str] = []
    lock = threading.Lock()
    with user_client(running.address, "racers-member", "racers", timeout=60) as member:
        member.identity.get_caller()  # get the token before the race
        start = threading.Barrier(CONCURRENT)

        def create(index: int) -> None:
            start.wait()
            try:
                member.identity.create_application_credential(f"racer-{index}")
                result = "created"
            except errors.QuotaExceeded:
                result = "refused"
            with lock:
                outcomes.append(result)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            list(pool.map(create, range(CONCURRENT)))
        assert outcomes.count("created") == limit, outcomes
        assert outcomes.count("refused") == CONCURRENT - limit
        assert len(list(member.identity.list_application_credentials())) == limit
        item = {i.resource: i for i in member.quota.get_quota().items}["application_credentials"]
        assert (item.limit, item.in_use, item.is_default) == (limit, limit, False)


def test_service_hook_counts_rows_and_serialises_creates(database_url, start_controller) -> None:  # type: ignore[no-untyped-def]
    """The hook other services use: a counter over their own table, reserve() in their create."""
    running = start_controller(database_url)
    database, quota = running.database, running.quota
    widgets = Table(
        "test_widgets",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("project_id", String(36), nullable=False),
        Column("cores", Integer, nullable=False),
    )
    widgets.create(database.engine)
    quota.register_counter(
        "instances",
        lambda session, project: session.execute(
            select(func.count()).where(widgets.c.project_id == project)
        ).scalar_one(),
    )
    quota.register_counter(
        "cores",
        lambda session, project: session.execute(
            select(func.coalesce(func.sum(widgets.c.cores), 0)).where(
                widgets.c.project_id == project
            )
        ).scalar_one(),
    )
    with admin_client(running.address) as admin:
        project_id = admin.identity.create_project("hooks").meta.id
        admin.quota.set_quota(project_id, {"instances": 7, "cores": 100})
    start = threading.Barrier(CONCURRENT)

    def create(_: int) -> bool:
        start.wait()
        try:
            with database.session() as session:
                quota.reserve(session, project_id, {"instances": 1, "cores": 2})
                session.execute(insert(widgets).values(project_id=project_id, cores=2))
            return True
        except errors.QuotaExceeded:
            return False

    with ThreadPoolExecutor(CONCURRENT) as pool:
        admitted = sum(pool.map(create, range(CONCURRENT)))
    assert admitted == 7
    with database.session() as session:
        assert quota.count(session, project_id, "instances") == 7
        assert quota.count(session, project_id, "cores") == 14
        with pytest.raises(errors.QuotaExceeded) as caught:
            quota.reserve(session, project_id, {"cores": 87})
    assert "cores" in caught.value.message and "cumulo quota set" in caught.value.hint
    with admin_client(running.address) as admin:
        # A project that still owns counted resources cannot be deleted.
        with pytest.raises(errors.Conflict) as refused:
            admin.identity.delete_project(project_id)
        assert "7 instances" in refused.value.message


def test_get_and_set_quota(controller, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    project_id = _project_with_member(admin_client, "quotas")
    reply = admin_client.quota.set_quota(project_id, {"instances": 3, "cores": -1})
    items = {i.resource: i for i in reply.items}
    assert items["instances"].limit == 3 and not items["instances"].is_default
    assert items["cores"].limit == -1
    assert items["ram_mb"].is_default and items["ram_mb"].limit == 50 * 1024
    assert {"object_bytes", "object_count", "floating_ips", "gigabytes"} <= set(items)
    reply = admin_client.quota.set_quota(project_id, {}, reset=["instances"])
    assert {i.resource: i for i in reply.items}["instances"].is_default
    with pytest.raises(errors.InvalidArgument):
        admin_client.quota.set_quota(project_id, {"unicorns": 1})
    with pytest.raises(errors.InvalidArgument):
        admin_client.quota.set_quota(project_id, {"instances": -5})
    with user_client(controller.address, "quotas-member", "quotas") as member:
        assert member.quota.get_quota().project_id == project_id
        with pytest.raises(errors.PermissionDenied):
            member.quota.set_quota(project_id, {"instances": 100})


def test_usage_records_over_a_time_range(controller, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    project_id = _project_with_member(admin_client, "metered")
    other_id = admin_client.identity.create_project("other").meta.id
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for hour in range(10):
        controller.quota.record_usage(
            project_id, "object_bytes", 1000 * (hour + 1), base + timedelta(hours=hour)
        )
    controller.quota.record_usage(project_id, "instance_seconds", 3600, base + timedelta(hours=2))
    controller.quota.record_usage(other_id, "object_bytes", 99, base)
    with user_client(controller.address, "metered-member", "metered") as member:
        reply = member.quota.get_usage(
            since=base + timedelta(hours=2), until=base + timedelta(hours=5)
        )
        totals = {t.resource: t for t in reply.totals}
        assert (totals["object_bytes"].sum, totals["object_bytes"].max) == (
            3000 + 4000 + 5000,
            5000,
        )
        assert totals["object_bytes"].records == 3
        assert totals["instance_seconds"].sum == 3600
        records = list(member.quota.iter_usage_records(since=base, resources=["object_bytes"]))
        assert [r.amount for r in records] == [1000 * (h + 1) for h in range(10)]
        paged = member.quota.get_usage(since=base, page_size=4)
        assert len(paged.records) == 4 and paged.page.next_page_token
        everything = list(member.quota.iter_usage_records())
        assert len(everything) == 11 and all(r.project_id == project_id for r in everything)
        with pytest.raises(errors.InvalidArgument):
            member.quota.get_usage(since=base + timedelta(hours=5), until=base)
