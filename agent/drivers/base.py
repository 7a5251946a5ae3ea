"""The :class:`Driver` protocol: the small interface every agent driver implements.

Drivers are synchronous (libvirt and netlink calls block); the reconciler runs
them in a worker thread, one call at a time, so a driver needs no locking of its
own against the reconciler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: Resource states a driver reports.
READY = "ready"
FAILED = "failed"
PENDING = "pending"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class DesiredResource:
    """One resource the controller wants on this host."""

    kind: str
    name: str
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceResult:
    """What a driver found or did for one resource."""

    kind: str
    name: str
    state: str  # READY, FAILED, PENDING
    message: str = ""


class Driver(Protocol):
    """Makes the host match the desired resources of the kinds it claims.

    Contracts every implementation keeps (a shared test suite checks them):

    * ``resource_kinds`` is fixed for the driver's lifetime; no two loaded
      drivers claim the same kind.
    * ``apply`` receives the *complete* desired list of its kinds (possibly
      empty) and converges the host to it: creates what is missing, updates what
      differs, removes resources of its kinds that are not listed.
    * ``apply`` is idempotent: calling it again with the same list changes
      nothing and returns the same results.  The agent calls it again after a
      restart in the middle of an earlier call and periodically to repair drift,
      so a half-finished previous call must be tolerated.
    * A failure of one resource is reported as a FAILED result for it, not
      raised; an exception means the driver could not work at all, and the
      agent reports every resource of its kinds FAILED with the message.
    * ``observe`` reports what exists on the host now, without changing it.
    """

    #: Driver name as written in ``agent.drivers``.
    name: str
    #: Resource kinds this driver owns.
    resource_kinds: tuple[str, ...]

    def observe(self) -> list[ResourceResult]:
        """Resources of this driver's kinds that exist on the host now."""
        ...

    def apply(self, desired: list[DesiredResource]) -> list[ResourceResult]:
        """Converge the host to ``desired``; return one result per desired resource."""
        ...
