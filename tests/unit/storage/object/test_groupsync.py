"""GroupCommitter: concurrent writers share syncs, and each gets its own outcome."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.object import groupsync
from storage.object.groupsync import GroupCommitter


class Recorder:
    """A sync that records the order of events and can hold the first batch."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self.fail_next = False

    def sync(self) -> None:
        self.release.wait(10)
        with self.lock:
            self.events.append("sync")
            if self.fail_next:
                self.fail_next = False
                raise OSError(5, "Input/output error")

    def install(self, label: str) -> str:
        with self.lock:
            self.events.append(label)
        return label


def test_a_lone_writer_syncs_before_and_after_its_install() -> None:
    recorder = Recorder()
    group = GroupCommitter(recorder.sync)
    assert group.commit(lambda: recorder.install("a")) == "a"
    assert recorder.events == ["sync", "a", "sync"]


def test_writers_arriving_during_a_batch_share_the_next_one() -> None:
    recorder = Recorder()
    group = GroupCommitter(recorder.sync)
    recorder.release.clear()  # the first batch stalls in its first sync
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(group.commit, lambda: recorder.install("w0"))
        while not group._leading:
            threading.Event().wait(0.001)
        rest = [
            pool.submit(group.commit, functools.partial(recorder.install, f"w{n}"))
            for n in range(1, 9)
        ]
        while len(group._queue) < 8:  # all eight queued behind the running batch
            threading.Event().wait(0.001)
        recorder.release.set()
        assert first.result(10) == "w0"
        assert sorted(f.result(10) for f in rest) == [f"w{n}" for n in range(1, 9)]
    assert group.stats.tickets == 9
    assert group.stats.batches == 2  # w0 alone, then the eight together
    assert group.stats.largest == 8
    assert recorder.events.count("sync") == 4


def test_an_install_error_is_only_its_writers() -> None:
    recorder = Recorder()
    group = GroupCommitter(recorder.sync)
    recorder.release.clear()
    with ThreadPoolExecutor(3) as pool:
        leader = pool.submit(group.commit, lambda: recorder.install("lead"))
        while not group._leading:
            threading.Event().wait(0.001)

        def refused() -> str:
            raise FileExistsError("a newer version exists")

        bad = pool.submit(group.commit, refused)
        good = pool.submit(group.commit, lambda: recorder.install("good"))
        while len(group._queue) < 2:
            threading.Event().wait(0.001)
        recorder.release.set()
        assert leader.result(10) == "lead"
        assert good.result(10) == "good"
        with pytest.raises(FileExistsError):
            bad.result(10)


def test_a_failed_sync_fails_every_writer_of_its_batch_and_not_the_next() -> None:
    recorder = Recorder()
    group = GroupCommitter(recorder.sync)
    recorder.fail_next = True
    with pytest.raises(OSError, match="Input/output"):
        group.commit(lambda: recorder.install("lost"))
    assert "lost" not in recorder.events  # nothing was renamed on unsynced data
    assert group.commit(lambda: recorder.install("next")) == "next"


@pytest.mark.skipif(not groupsync.syncfs_available(), reason="syncfs is Linux's")
def test_syncfs_of_a_real_directory(tmp_path: Path) -> None:
    groupsync.syncfs(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        groupsync.syncfs(str(tmp_path / "missing"))
