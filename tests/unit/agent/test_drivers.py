"""The Driver contract, run against every driver (today: the NoopDriver)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.drivers import DRIVERS
from agent.drivers.base import READY, DesiredResource, Driver


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest) -> Driver:
    factory: Callable[[], Driver] = DRIVERS[request.param]
    return factory()


def desired(driver: Driver, *names: str) -> list[DesiredResource]:
    return [DesiredResource(driver.resource_kinds[0], name, {"n": name}) for name in names]


def test_apply_converges_and_observe_reports_it(driver: Driver) -> None:
    results = driver.apply(desired(driver, "a", "b"))
    assert [(r.name, r.state) for r in results] == [("a", READY), ("b", READY)]
    assert sorted(r.name for r in driver.observe()) == ["a", "b"]


def test_apply_is_idempotent(driver: Driver) -> None:
    first = driver.apply(desired(driver, "a"))
    assert driver.apply(desired(driver, "a")) == first
    assert [r.name for r in driver.observe()] == ["a"]


def test_apply_removes_what_is_no_longer_desired(driver: Driver) -> None:
    driver.apply(desired(driver, "a", "b"))
    driver.apply(desired(driver, "b"))
    assert [r.name for r in driver.observe()] == ["b"]
    driver.apply([])
    assert driver.observe() == []


def test_resource_kinds_are_declared(driver: Driver) -> None:
    assert driver.resource_kinds and all(isinstance(k, str) for k in driver.resource_kinds)
