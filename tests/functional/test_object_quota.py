"""Object quotas: a PUT past the project's object_count or object_bytes is RESOURCE_EXHAUSTED."""

from __future__ import annotations

import pytest

from cumulo import errors
from tests.functional.conftest import ObjectCloud


def test_object_quotas_are_enforced(object_cloud: ObjectCloud) -> None:
    object_cloud.admin.quota.set_quota(
        object_cloud.project_b, {"object_count": 3, "object_bytes": 10_000}
    )
    with object_cloud.client("bob", "proj-b") as bob:
        bob.objects.create_container("q")
        bob.objects.put_object("q", "one", b"x" * 4000)
        bob.objects.put_object("q", "two", b"x" * 4000)
        with pytest.raises(errors.QuotaExceeded):
            bob.objects.put_object("q", "too-big", b"x" * 4000)  # 12,000 bytes > 10,000
        bob.objects.put_object("q", "three", b"x" * 100)
        with pytest.raises(errors.QuotaExceeded):
            bob.objects.put_object("q", "four", b"x")  # a 4th object > 3
        with pytest.raises(errors.QuotaExceeded):
            bob.objects.copy_object("q", "one", "q", "copy")
        bob.objects.delete_object("q", "three")
        bob.objects.put_object("q", "four", b"x")
        assert [getattr(e, "name", e) for e in bob.objects.list_objects("q")] == [
            "four",
            "one",
            "two",
        ]
    # Another project is not limited by project B's quota.
    with object_cloud.client("alice", "proj-a") as alice:
        alice.objects.create_container("unlimited", exist_ok=True)
        for i in range(5):
            alice.objects.put_object("unlimited", f"o{i}", b"y" * 5000)
