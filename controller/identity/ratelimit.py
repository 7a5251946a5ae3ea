"""Slowing password guessers: failed attempts per key in a sliding window, kept in the database.

Keys are ``user:<name>`` and ``source:<address>``; the user key uses the name as
typed, whether or not such a user exists, so a limited caller gets the same answer
either way.  The window lives in the ``auth_failures`` table so several
controllers sharing a database share the count.

Contract: :meth:`RateLimiter.check` raises :class:`cumulo.errors.Unauthenticated`
with reason ``RATE_LIMITED`` and a retry-after hint once any key has
``max_failures`` failures inside its window; :meth:`RateLimiter.record_failure`
adds one failure to every key and prunes rows older than the longest window.
Check and record run in separate short transactions around the (slow) password
hash, so a burst of concurrent guesses can overshoot a limit by the burst's size
before the next check sees it; the limit still holds from then on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controller.db.models_identity import AuthFailure
from controller.identity.times import utc
from cumulo import errors

MAX_KEY_LENGTH = 300


@dataclass(frozen=True)
class Limit:
    """At most ``max_failures`` failures per ``window`` for one key."""

    max_failures: int
    window: timedelta


def limiter_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"[:MAX_KEY_LENGTH]


def source_address(peer: str) -> str:
    """The address part of a gRPC peer string ("ipv4:127.0.0.1:5000" -> "127.0.0.1")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        # "ipv6:[::1]:5000" or "ipv6:%5B::1%5D:5000"
        host = rest.rpartition(":")[0]
        return host.replace("%5B", "[").replace("%5D", "]").strip("[]") or rest
    return peer or "unknown"


class RateLimiter:
    """Sliding-window failure counts per key; see the module docstring."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        #: Limit by key kind ("user", "source", "appcred").
        self.limits = limits

    def _limit_of(self, key: str) -> Limit:
        return self.limits[key.partition(":")[0]]

    def check(self, session: Session, keys: Sequence[str], now: datetime) -> None:
        """Raise ``RATE_LIMITED`` when any of ``keys`` is over its limit."""
        wait = 0.0
        for key in keys:
            limit = self._limit_of(key)
            if limit.max_failures <= 0:
                continue
            since = now - limit.window
            count, oldest = session.execute(
                select(func.count(), func.min(AuthFailure.at)).where(
                    AuthFailure.key == key, AuthFailure.at > since
                )
            ).one()
            if count >= limit.max_failures and oldest is not None:
                # Once the oldest failure in the window ages out, one more try is allowed.
                wait = max(wait, (utc(oldest) + limit.window - now).total_seconds())
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise errors.Unauthenticated(
                "too many failed attempts; authentication is paused for this user or address",
                reason="RATE_LIMITED",
                hint=f"retry after {seconds} s",
            )

    def record_failure(self, session: Session, keys: Sequence[str], now: datetime) -> None:
        """Count one failure against every key; drop rows no window can see any more."""
        for key in keys:
            session.add(AuthFailure(key=key, at=now))
        longest = max((limit.window for limit in self.limits.values()), default=timedelta(0))
        session.execute(delete(AuthFailure).where(AuthFailure.at < now - longest))
