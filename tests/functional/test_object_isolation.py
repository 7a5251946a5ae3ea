"""Who may do what on the object proxy: project isolation, roles, tokens, and the policy walk."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest

from cumulo import errors
from cumulo.client import Client
from cumulo.object.v1 import object_pb2
from storage.proxy.auth import POLICY
from tests.functional.conftest import ObjectCloud


@pytest.fixture(scope="module")
def shared(object_cloud: ObjectCloud) -> Iterator[tuple[Client, Client, Client, str]]:
    alice = object_cloud.client("alice", "proj-a")
    rita = object_cloud.client("rita", "proj-a")
    bob = object_cloud.client("bob", "proj-b")
    container = f"secret-{uuid.uuid4().hex[:6]}"
    alice.objects.create_container(container)
    alice.objects.put_object(container, "plan.txt", b"top secret")
    yield alice, rita, bob, container
    for client in (alice, rita, bob):
        client.close()


def test_a_stranger_sees_nothing_not_even_names(shared, object_cloud) -> None:  # type: ignore[no-untyped-def]
    alice, _rita, bob, container = shared
    assert container not in [c.name for c in bob.objects.list_containers()]
    with pytest.raises(errors.NotFound):
        bob.objects.get_container(container)
    with pytest.raises(errors.NotFound):
        bob.objects.read_object(container, "plan.txt")
    with pytest.raises(errors.NotFound):
        bob.objects.head_object(container, "plan.txt")
    with pytest.raises(errors.NotFound):
        list(bob.objects.list_objects(container))
    with pytest.raises(errors.NotFound):
        bob.objects.get_container(container, project_id=object_cloud.project_a)
    # Bob's container of the same name is his own, separate one.
    bob.objects.create_container(container)
    assert list(bob.objects.list_objects(container)) == []
    assert alice.objects.read_object(container, "plan.txt") == b"top secret"


def test_a_reader_lists_and_reads_but_does_not_write(shared) -> None:  # type: ignore[no-untyped-def]
    _alice, rita, _bob, container = shared
    assert container in [c.name for c in rita.objects.list_containers()]
    assert rita.objects.read_object(container, "plan.txt") == b"top secret"
    assert [e.name for e in rita.objects.list_objects(container)] == ["plan.txt"]
    for attempt in (
        lambda: rita.objects.put_object(container, "x", b"x"),
        lambda: rita.objects.delete_object(container, "plan.txt"),
        lambda: rita.objects.create_container("rita-new"),
        lambda: rita.objects.delete_container(container),
        lambda: rita.objects.copy_object(container, "plan.txt", container, "copy"),
        lambda: rita.objects.update_container_metadata(container, {"a": "b"}),
    ):
        with pytest.raises(errors.PermissionDenied):
            attempt()


def test_a_cloud_admin_may_name_another_project(shared, object_cloud) -> None:  # type: ignore[no-untyped-def]
    _alice, _rita, _bob, container = shared
    admin = object_cloud.admin
    names = [c.name for c in admin.objects.list_containers()]
    assert container not in names  # the admin's own project
    shown = admin.objects.get_container(container, project_id=object_cloud.project_a)
    assert shown.object_count == 1


def test_no_token_is_unauthenticated(object_cloud) -> None:  # type: ignore[no-untyped-def]
    with (
        Client(
            object_cloud.controller.address, object_endpoint=object_cloud.cluster.address
        ) as anonymous,
        pytest.raises(errors.Unauthenticated),
    ):
        list(anonymous.objects.list_containers())
    with (
        Client(
            object_cloud.controller.address,
            token="not-a-real-token",
            object_endpoint=object_cloud.cluster.address,
        ) as forged,
        pytest.raises(errors.Unauthenticated),
    ):
        forged.objects.get_account()


def _invoke(channel: grpc.Channel, method: str, token: str) -> grpc.StatusCode:
    """Call ``method`` with an empty request of its type; return the status code."""
    descriptor = object_pb2.DESCRIPTOR.services_by_name["ObjectService"].methods_by_name[method]
    request_type = getattr(object_pb2, descriptor.input_type.name)
    response_type = getattr(object_pb2, descriptor.output_type.name)
    path = f"/cumulo.object.v1.ObjectService/{method}"
    metadata = [("authorization", f"Bearer {token}")] if token else []
    request = request_type()
    kwargs = {
        "request_serializer": request_type.SerializeToString,
        "response_deserializer": response_type.FromString,
    }
    try:
        if descriptor.client_streaming and descriptor.server_streaming:
            both = channel.stream_stream(path, **kwargs)
            list(both(iter([request]), metadata=metadata, timeout=10))
        elif descriptor.client_streaming:
            call = channel.stream_unary(path, **kwargs)
            call(iter([request]), metadata=metadata, timeout=10)
        elif descriptor.server_streaming:
            list(channel.unary_stream(path, **kwargs)(request, metadata=metadata, timeout=10))
        else:
            channel.unary_unary(path, **kwargs)(request, metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_policy_walk_over_every_proxy_rpc(shared, object_cloud) -> None:  # type: ignore[no-untyped-def]
    _alice, rita, bob, _container = shared
    methods = object_pb2.DESCRIPTOR.services_by_name["ObjectService"].methods_by_name
    rows = {m.rsplit("/", 1)[1] for m in POLICY if m.startswith("/cumulo.object.v1.")}
    assert rows == set(methods), "POLICY rows and ObjectService RPCs differ"
    reader_token = rita.auth.current(rita)  # type: ignore[union-attr]
    stranger_token = bob.auth.current(bob)  # type: ignore[union-attr]
    with grpc.insecure_channel(object_cloud.cluster.address) as channel:
        for method in methods:
            full = f"/cumulo.object.v1.ObjectService/{method}"
            assert full in POLICY, f"{full} has no row in storage/proxy/auth.py POLICY"
            assert _invoke(channel, method, "") == grpc.StatusCode.UNAUTHENTICATED, method
            reader = _invoke(channel, method, reader_token)
            if POLICY[full] == "reader":
                assert reader not in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.UNAUTHENTICATED,
                ), method
            else:
                assert reader == grpc.StatusCode.PERMISSION_DENIED, method
            # A member of another project is let in but addresses only its own account:
            # naming project A is NOT_FOUND, never a leak.
            stranger = _invoke(channel, method, stranger_token)
            assert stranger not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INTERNAL)
