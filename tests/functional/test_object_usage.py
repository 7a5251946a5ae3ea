"""The controller samples each project's object usage from the proxy into quota usage."""

from __future__ import annotations

import uuid

import grpc
import pytest

from controller.quota.object_usage import GET_ACCOUNT
from cumulo.object.v1 import object_pb2, object_pb2_grpc
from cumulo.quota.v1 import quota_pb2, quota_pb2_grpc
from tests.functional.conftest import ObjectCloud
from tests.helpers.identity import make_user


def _in_use(cloud: ObjectCloud, project: str) -> dict[str, int]:
    items = cloud.admin.quota.get_quota(project).items
    return {i.resource: i.in_use for i in items if i.resource.startswith("object_")}


def test_object_usage_is_sampled_into_quota_usage(object_cloud: ObjectCloud) -> None:
    controller = object_cloud.controller
    tag = uuid.uuid4().hex[:8]
    project = object_cloud.admin.identity.create_project(f"usage-{tag}").meta.id
    make_user(object_cloud.admin, f"carol-{tag}", project, "member")
    assert _in_use(object_cloud, project) == {"object_bytes": 0, "object_count": 0}

    # No proxy to ask (none configured, no local cloud): a pass does nothing.
    assert object_cloud.loop.run(controller.object_usage.sample_once()) is None  # type: ignore[attr-defined]
    controller.config.controller.object_usage_proxy = object_cloud.cluster.address  # type: ignore[attr-defined]

    with object_cloud.client(f"carol-{tag}", f"usage-{tag}") as carol:
        carol.objects.create_container("c")
        for name, size in (("a", 10), ("b", 20), ("c", 4096)):
            carol.objects.put_object("c", name, b"x" * size)
        first = object_cloud.loop.run(controller.object_usage.sample_once())  # type: ignore[attr-defined]
        assert first.failed == 0 and first.sampled >= 4  # admin, proj-a, proj-b, this one
        assert _in_use(object_cloud, project) == {"object_bytes": 4126, "object_count": 3}

        carol.objects.delete_object("c", "c")
        object_cloud.loop.run(controller.object_usage.sample_once())  # type: ignore[attr-defined]
        assert _in_use(object_cloud, project) == {"object_bytes": 30, "object_count": 2}

    usage = object_cloud.admin.quota.get_usage(project, resources=["object_bytes"])
    assert sorted(r.amount for r in usage.records) == [30, 4126]
    (total,) = usage.totals
    assert (total.resource, total.max, total.records) == ("object_bytes", 4126, 2)


def test_the_internal_token_reaches_get_account_only(object_cloud: ObjectCloud) -> None:
    controller = object_cloud.controller
    issued = controller.identity.issue_internal(  # type: ignore[attr-defined]
        controller.bootstrap.admin_user_id,  # type: ignore[attr-defined]
        frozenset({GET_ACCOUNT}),
    )
    metadata = (("authorization", f"Bearer {issued.token}"),)
    channel = grpc.insecure_channel(object_cloud.cluster.address)
    try:
        stub = object_pb2_grpc.ObjectServiceStub(channel)
        answer = stub.GetAccount(
            object_pb2.GetAccountRequest(project_id=object_cloud.project_a),
            metadata=metadata,
            timeout=10,
        )
        assert answer.account.project_id == object_cloud.project_a
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListContainers(
                object_pb2.ListContainersRequest(project_id=object_cloud.project_a),
                metadata=metadata,
                timeout=10,
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()
    # The controller reads the same signed limit.
    with grpc.insecure_channel(controller.address) as to_controller:  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as refused:
            quota_pb2_grpc.QuotaServiceStub(to_controller).GetQuota(
                quota_pb2.GetQuotaRequest(), metadata=metadata, timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
