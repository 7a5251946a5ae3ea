"""A storage node down: writes go to handoffs, reads and listings still find everything."""

from __future__ import annotations

import random

import pytest

from cumulo import errors
from tests.functional.conftest import ObjectCloud


def test_one_node_down_then_back(object_cloud: ObjectCloud) -> None:
    cluster = object_cloud.cluster
    with object_cloud.client("alice", "proj-a") as alice:
        alice.objects.create_container("faults")
        rng = random.Random(4)
        before = {
            f"before-{i}": rng.randbytes(rng.choice((10, 5000, (2 << 20) + 7))) for i in range(8)
        }
        for name, data in before.items():
            alice.objects.put_object("faults", name, data)
        cluster.drain()
        cluster.stop_node(0)
        try:
            during = {
                f"during-{i}": rng.randbytes(rng.choice((10, 5000, (2 << 20) + 7)))
                for i in range(12)
            }
            for name, data in during.items():
                alice.objects.put_object("faults", name, data)
            alice.objects.delete_object("faults", "before-0")
            # Overwritten while the node is down: wherever it is the first primary,
            # its old copy must lose to the newer version the quorum check finds.
            rewritten = {name: rng.randbytes(len(data) + 1) for name, data in before.items()}
            del rewritten["before-0"]
            for name, data in rewritten.items():
                alice.objects.put_object("faults", name, data)
            expected = {**before, **during, **rewritten}
            del expected["before-0"]
            for name, data in expected.items():
                assert alice.objects.read_object("faults", name) == data, name
            listed = [getattr(e, "name", e) for e in alice.objects.list_objects("faults")]
            assert listed == sorted(expected)
        finally:
            cluster.start_node(0)
        # The returning node missed the writes and the delete: the proxy's quorum
        # reads still answer with the newest version everywhere.
        for name, data in expected.items():
            assert alice.objects.read_object("faults", name) == data, name
            assert alice.objects.head_object("faults", name).size == len(data)
        assert [getattr(e, "name", e) for e in alice.objects.list_objects("faults")] == sorted(
            expected
        )
        with pytest.raises(errors.NotFound):
            alice.objects.read_object("faults", "before-0")
        assert alice.objects.get_container("faults").object_count == len(expected)
