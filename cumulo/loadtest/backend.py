"""The interface a load test drives: :class:`ObjectBackend`, one per protocol.

The runner knows nothing of gRPC or HTTP; a backend turns each operation into calls
of its protocol.  The Cumulo backend (:mod:`cumulo.loadtest.grpc_backend`) speaks
``cumulo.object.v1``; the Swift HTTP backend lives with the benchmark tooling
(``bench/swift_baseline/client.py``), since only the comparison needs it.

Contract for every method:

* it returns only when the operation is complete (a PUT acknowledged, a GET's last
  byte received), so the runner's clock measures the whole operation;
* it raises on failure; the runner counts the failure by :func:`error_kind` and goes
  on, so an exception must never leave the backend unusable for the next call;
* it may be called by many asyncio tasks at once on one event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: ObjectSession streams the Cumulo backend (grpc_backend.py) spreads small objects over
#: with ``api="session"``: one per server of an all-in-one's three (docs/loadtest.md).
DEFAULT_SESSIONS = 3


@dataclass(frozen=True)
class ListPage:
    """One page of a listing: names in order, and whether more follow."""

    names: list[str]
    truncated: bool


class OpError(Exception):
    """A failed operation with a short stable ``kind`` (e.g. ``HTTP_503``) for the report."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


def error_kind(exc: BaseException) -> str:
    """The label a failure is counted under: a Cumulo error's reason, an
    :class:`OpError`'s kind, else the exception's class name."""
    for attribute in ("kind", "reason"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(exc).__name__


class ObjectBackend(Protocol):
    """An object store to load: Cumulo's proxy, Swift's, or a fake."""

    async def prepare(self, container: str) -> None:
        """Make sure ``container`` exists (creating it is not an error if it does)."""
        ...

    async def put_object(self, container: str, name: str, data: memoryview) -> None:
        """Store ``data`` as ``container/name``; return once the store acknowledged it."""
        ...

    async def get_object(self, container: str, name: str) -> int:
        """Read the whole object; return the number of bytes received."""
        ...

    async def head_object(self, container: str, name: str) -> int:
        """Fetch the object's metadata; return its size."""
        ...

    async def delete_object(self, container: str, name: str) -> None:
        """Delete the object."""
        ...

    async def list_objects(
        self, container: str, *, prefix: str, marker: str, limit: int
    ) -> ListPage:
        """One page of names under ``prefix`` that sort after ``marker``."""
        ...

    async def close(self) -> None:
        """Release connections; no call follows."""
        ...

    def describe(self) -> dict[str, Any]:
        """What was loaded, for the result (kind, endpoint, connections)."""
        ...
