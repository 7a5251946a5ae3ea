"""NoopDriver: claims kind ``noop`` and only remembers what it was told.

It stands in for the real drivers until they land and is the fake the tests
use.  Two spec keys make it useful for tests and benchmarks: ``fail`` (report
the resource FAILED with that message) and ``delay_seconds`` (sleep before
returning, to stretch an apply).
"""

from __future__ import annotations

import threading
import time

from agent.drivers.base import FAILED, READY, DesiredResource, ResourceResult


class NoopDriver:
    name: str = "noop"
    resource_kinds: tuple[str, ...] = ("noop",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.present: dict[str, DesiredResource] = {}
        self.apply_calls = 0

    def observe(self) -> list[ResourceResult]:
        with self._lock:
            return [ResourceResult(r.kind, r.name, READY) for r in self.present.values()]

    def apply(self, desired: list[DesiredResource]) -> list[ResourceResult]:
        delay = max((float(r.spec.get("delay_seconds", 0) or 0) for r in desired), default=0.0)
        if delay:
            time.sleep(delay)
        results = []
        with self._lock:
            self.apply_calls += 1
            self.present = {r.name: r for r in desired if not r.spec.get("fail")}
            for resource in desired:
                if resource.spec.get("fail"):
                    results.append(
                        ResourceResult(
                            resource.kind, resource.name, FAILED, str(resource.spec["fail"])
                        )
                    )
                else:
                    results.append(ResourceResult(resource.kind, resource.name, READY))
        return results
