"""Drivers: the plug-in point through which the agent changes its host.

A driver claims resource kinds (``resource_kinds``) and makes the host match the
desired resources of those kinds (``apply``), reporting what it finds
(``observe``).  The compute, network, image and volume drivers of later issues
plug in here; :class:`NoopDriver` is the stand-in until then and the fake that
tests use.  ``agent.drivers`` in the config names the drivers to load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent.drivers.base import DesiredResource, Driver, ResourceResult
from agent.drivers.noop import NoopDriver
from cumulo import errors

#: Driver name (as written in ``agent.drivers``) -> factory.
DRIVERS: dict[str, Callable[[], Driver]] = {
    "noop": NoopDriver,
}


def load_drivers(names: Sequence[str]) -> list[Driver]:
    """Instantiate the named drivers; refuse unknown names or two drivers claiming one kind."""
    drivers: list[Driver] = []
    claimed: dict[str, str] = {}
    for name in names:
        if name not in DRIVERS:
            raise errors.InvalidArgument(
                f"unknown agent driver {name!r}",
                field="agent.drivers",
                hint=f"known drivers: {', '.join(sorted(DRIVERS))}",
            )
        driver = DRIVERS[name]()
        for kind in driver.resource_kinds:
            if kind in claimed:
                raise errors.InvalidArgument(
                    f"drivers {claimed[kind]!r} and {name!r} both claim resource kind {kind!r}",
                    field="agent.drivers",
                )
            claimed[kind] = name
        drivers.append(driver)
    return drivers


__all__ = ["DRIVERS", "DesiredResource", "Driver", "NoopDriver", "ResourceResult", "load_drivers"]
