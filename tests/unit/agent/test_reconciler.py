"""The reconciler: state persisted atomically, interrupted applies resumed, drivers dispatched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.drivers import NoopDriver, load_drivers
from agent.drivers.base import DesiredResource, ResourceResult
from agent.reconciler import Reconciler
from cumulo import errors


def noop(name: str, **spec: object) -> dict[str, object]:
    return {"kind": "noop", "name": name, "spec": spec}


def test_fresh_state_and_persistence(tmp_path: Path) -> None:
    driver = NoopDriver()
    reconciler = Reconciler(tmp_path, [driver])
    assert reconciler.load().applied_revision == 0
    reconciler.adopt_node("node-1")
    result = reconciler.apply(3, [noop("a"), {"kind": "vm", "name": "v", "spec": {}}])
    assert result.ok and result.revision == 3
    assert [(r.name, r.state) for r in result.results] == [("a", "ready"), ("v", "unsupported")]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["node_id"] == "node-1" and saved["applied_revision"] == 3
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    again = Reconciler(tmp_path, [NoopDriver()]).load()
    assert again.applied_revision == again.desired_revision == 3 and not again.interrupted


class Died(BaseException):
    """Stands for the process dying in the middle of an apply."""


class Explodes(NoopDriver):
    def apply(self, desired: list[DesiredResource]) -> list[ResourceResult]:
        raise Died()


def test_interrupted_apply_is_detected_and_resumed(tmp_path: Path) -> None:
    Reconciler(tmp_path, [NoopDriver()]).apply(1, [noop("a")])
    first = Reconciler(tmp_path, [Explodes()])
    first.load()
    with pytest.raises(Died):
        first.apply(2, [noop("b")])
    driver = NoopDriver()
    second = Reconciler(tmp_path, [driver])
    state = second.load()
    assert state.interrupted and state.applied_revision == 1 and state.desired_revision == 2
    assert second.resync().ok
    assert set(driver.present) == {"b"} and second.state.applied_revision == 2


def test_driver_failures_are_reported_not_raised(tmp_path: Path) -> None:
    class Broken(NoopDriver):
        def apply(self, desired: list[DesiredResource]) -> list[ResourceResult]:
            raise RuntimeError("disk on fire")

    reconciler = Reconciler(tmp_path, [Broken()])
    result = reconciler.apply(1, [noop("a"), noop("b", fail="nope")])
    assert not result.ok
    assert {r.state for r in result.results} == {"failed"}
    assert "disk on fire" in result.results[0].message
    assert reconciler.state.applied_revision == 1  # processed; resync retries


def test_a_new_node_identity_starts_afresh(tmp_path: Path) -> None:
    reconciler = Reconciler(tmp_path, [NoopDriver()])
    reconciler.adopt_node("old")
    reconciler.apply(5, [noop("a")])
    reconciler.adopt_node("old")
    assert reconciler.state.applied_revision == 5
    reconciler.adopt_node("new")
    assert reconciler.state.applied_revision == 0 and reconciler.state.node_id == "new"


def test_corrupt_state_file_means_a_fresh_agent(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    assert Reconciler(tmp_path, []).load().applied_revision == 0


def test_load_drivers() -> None:
    assert [d.name for d in load_drivers(["noop"])] == ["noop"]
    with pytest.raises(errors.InvalidArgument, match="unknown agent driver 'kvm'"):
        load_drivers(["kvm"])
    with pytest.raises(errors.InvalidArgument, match="both claim"):
        load_drivers(["noop", "noop"])
