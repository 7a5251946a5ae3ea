"""The sliding-window limiter of failed sign-ins (SQLite file; no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.db import Database
from controller.db.migrations import migrate
from controller.identity.ratelimit import Limit, RateLimiter, limiter_key, source_address
from cumulo import errors

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(db.engine)
    yield db
    db.dispose()


def test_limit_hits_after_max_failures_and_slides_away(database) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter({"user": Limit(3, timedelta(seconds=60))})
    key = [limiter_key("user", "alice")]
    with database.session() as s:
        for second in (0, 10, 20):
            limiter.check(s, key, T0 + timedelta(seconds=second))
            limiter.record_failure(s, key, T0 + timedelta(seconds=second))
    with database.session() as s, pytest.raises(errors.Unauthenticated) as caught:
        limiter.check(s, key, T0 + timedelta(seconds=30))
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.hint == "retry after 30 s"  # when the failure at 0 s leaves the window
    with database.session() as s:
        limiter.check(s, key, T0 + timedelta(seconds=61))  # one slot free again
        limiter.check(s, [limiter_key("user", "bob")], T0 + timedelta(seconds=30))


def test_any_limited_key_blocks_and_old_rows_are_pruned(database) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(
        {"user": Limit(100, timedelta(seconds=60)), "source": Limit(2, timedelta(seconds=60))}
    )
    with database.session() as s:
        for name in ("a", "b"):
            limiter.record_failure(s, [limiter_key("user", name), "source:10.0.0.1"], T0)
    with database.session() as s, pytest.raises(errors.Unauthenticated):
        limiter.check(s, [limiter_key("user", "c"), "source:10.0.0.1"], T0)
    with database.session() as s:
        limiter.record_failure(s, ["user:z"], T0 + timedelta(seconds=120))
        from sqlalchemy import func, select

        from controller.db.models_identity import AuthFailure

        assert s.execute(select(func.count()).select_from(AuthFailure)).scalar_one() == 1


def test_zero_disables_a_limit(database) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter({"user": Limit(0, timedelta(seconds=60))})
    with database.session() as s:
        for _ in range(5):
            limiter.record_failure(s, ["user:x"], T0)
        limiter.check(s, ["user:x"], T0)


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:5000", "127.0.0.1"),
        ("ipv6:[::1]:5000", "::1"),
        ("ipv6:%5B::1%5D:5000", "::1"),
        ("unix:/tmp/sock", "unix:/tmp/sock"),
        ("", "unknown"),
    ],
)
def test_source_address(peer: str, address: str) -> None:
    assert source_address(peer) == address
