"""THE WALK: every RPC a real controller registers, checked against the policy table.

The methods come from the server itself (gRPC reflection), not from a list in
this file, so an RPC added to any service later is walked too; one without a
row in ``controller.policy.POLICY`` fails the suite.  Each method is called:

1. with no token: UNAUTHENTICATED unless the row is OPEN;
2. as a reader of project A: allowed (any answer but UNAUTHENTICATED or
   PERMISSION_DENIED) when the rule is ``reader`` on the project, else
   PERMISSION_DENIED;
3. as a member of project B, aimed at project A: every request field named in
   :data:`A_TARGETS` (``project_id`` everywhere, resource ids per method) is set
   to one of A's resources; the answer must be NOT_FOUND (A's resources are not
   leaked, not even their existence), or PERMISSION_DENIED when the rule needs
   more than a member.  Afterwards A's resources must all still be there;
4. as a cloud admin: never UNAUTHENTICATED or PERMISSION_DENIED.

Requests are empty messages (plus ``project_id``), so the calls only get as far
as validation: what is walked is authentication and authorisation.  Every
call uses a fresh token because RevokeToken with an empty request revokes the
calling token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from controller.policy import POLICY, Rule
from cumulo.client import Client
from tests.helpers.identity import USER_PASSWORD, admin_token, make_user

DENIED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
CALL_TIMEOUT = 3.0

_IDENTITY = "/cumulo.identity.v1.IdentityService/"

#: Where a stranger aims at project A: request field -> which of A's resources to put
#: there, for every method ("*") or one method.  A new service whose requests name
#: resources by id adds its methods here (and seeds the resource in ``walk_setup``).
A_TARGETS: dict[str, dict[str, str]] = {
    "*": {"project_id": "project"},
    _IDENTITY + "GetApplicationCredential": {"id": "credential"},
    _IDENTITY + "DeleteApplicationCredential": {"id": "credential"},
    _IDENTITY + "GetUser": {"user_id": "member_a"},
}


@dataclass(frozen=True)
class Method:
    full_name: str  # "/pkg.Service/Method"
    descriptor: Any  # google.protobuf.descriptor.MethodDescriptor

    def targets(self, resources: dict[str, str]) -> dict[str, str]:
        """The request fields that aim this method at project A's resources."""
        wanted = {**A_TARGETS["*"], **A_TARGETS.get(self.full_name, {})}
        names = self.descriptor.input_type.fields_by_name
        return {field: resources[kind] for field, kind in wanted.items() if field in names}

    def request(self, **fields: str) -> bytes:
        cls = message_factory.GetMessageClass(self.descriptor.input_type)
        return cls(**fields).SerializeToString()  # type: ignore[no-any-return]


def registered_methods(address: str) -> list[Method]:
    """Every method of every service the server at ``address`` registers (via reflection)."""
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        methods = []
        for service_name in database.get_services():
            service = pool.FindServiceByName(service_name)
            for method in service.methods:
                methods.append(Method(f"/{service.full_name}/{method.name}", method))
    return sorted(methods, key=lambda m: m.full_name)


def call(channel: grpc.Channel, method: Method, body: bytes, token: str | None) -> grpc.StatusCode:
    """Call ``method`` with raw ``body`` and return the status code it ends with."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    descriptor = method.descriptor
    try:
        if descriptor.client_streaming and descriptor.server_streaming:
            stream: Iterator[Any] = channel.stream_stream(method.full_name)(
                iter([body]), timeout=CALL_TIMEOUT, metadata=metadata
            )
            for _ in stream:
                pass
        elif descriptor.server_streaming:
            for _ in channel.unary_stream(method.full_name)(
                body, timeout=CALL_TIMEOUT, metadata=metadata
            ):
                pass
        elif descriptor.client_streaming:
            channel.stream_unary(method.full_name)(
                iter([body]), timeout=CALL_TIMEOUT, metadata=metadata
            )
        else:
            channel.unary_unary(method.full_name)(body, timeout=CALL_TIMEOUT, metadata=metadata)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _allows_reader(rule: Rule) -> bool:
    return rule.kind == "token" and rule.scope == "project" and rule.role == "reader"


def _allows_member(rule: Rule) -> bool:
    return rule.kind == "token" and rule.scope == "project" and rule.role in ("reader", "member")


@pytest.fixture
def walk_setup(controller, admin_client: Client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Projects A and B; in A a reader, a member and a credential of that member."""
    a = admin_client.identity.create_project("walk-a")
    b = admin_client.identity.create_project("walk-b")
    make_user(admin_client, "walk-reader-a", a.meta.id, "reader")
    member_a = make_user(admin_client, "walk-member-a", a.meta.id, "member")
    make_user(admin_client, "walk-member-b", b.meta.id, "member")
    with Client(controller.address, timeout=10) as anonymous:
        token = anonymous.identity.login("walk-member-a", USER_PASSWORD, "walk-a").token
    with Client(controller.address, timeout=10, token=token) as member:
        credential = member.identity.create_application_credential("walk-cred").credential
    return {
        "project": a.meta.id,
        "b": b.meta.id,
        "member_a": member_a,
        "credential": credential.meta.id,
    }


def test_every_registered_rpc_has_a_policy_row_and_obeys_it(controller, walk_setup) -> None:  # type: ignore[no-untyped-def]
    address = controller.address
    methods = registered_methods(address)
    names = {m.full_name for m in methods}
    # Sanity: the walk sees the services the controller serves, not an empty list.
    assert "/cumulo.identity.v1.IdentityService/IssueToken" in names
    assert "/cumulo.quota.v1.QuotaService/SetQuota" in names
    assert "/cumulo.system.v1.SystemService/GetInfo" in names
    assert "/grpc.health.v1.Health/Check" in names

    missing = sorted(name for name in names if name not in POLICY)
    assert not missing, f"RPCs without a row in controller/policy.py: {missing}"

    with Client(address, timeout=10) as anonymous:

        def token_of(user: str, project: str) -> str:
            return anonymous.identity.login(user, USER_PASSWORD, project).token

        failures: list[str] = []
        with grpc.insecure_channel(address) as channel:
            for method in methods:
                rule = POLICY[method.full_name]
                label = f"{method.full_name} [{rule.describe()}]"
                empty = method.request()

                code = call(channel, method, empty, None)
                if rule.kind == "open":
                    if code in DENIED:
                        failures.append(f"{label}: open, but anonymous got {code.name}")
                elif rule.kind == "node_credential":
                    if code == grpc.StatusCode.OK:
                        failures.append(f"{label}: anonymous call without node credential got OK")
                    continue  # users' tokens mean nothing to these methods
                elif code != grpc.StatusCode.UNAUTHENTICATED:
                    failures.append(f"{label}: anonymous got {code.name}, not UNAUTHENTICATED")
                if rule.kind == "open":
                    continue

                code = call(channel, method, empty, token_of("walk-reader-a", "walk-a"))
                if _allows_reader(rule):
                    if code in DENIED:
                        failures.append(f"{label}: reader was refused with {code.name}")
                elif code != grpc.StatusCode.PERMISSION_DENIED:
                    failures.append(f"{label}: reader got {code.name}, not PERMISSION_DENIED")

                targets = method.targets(walk_setup)
                body = method.request(**targets)
                code = call(channel, method, body, token_of("walk-member-b", "walk-b"))
                if not _allows_member(rule):
                    if code != grpc.StatusCode.PERMISSION_DENIED:
                        failures.append(f"{label}: stranger got {code.name}, not PERMISSION_DENIED")
                elif targets:
                    if code != grpc.StatusCode.NOT_FOUND:
                        failures.append(
                            f"{label}: stranger aiming at A's {targets} got {code.name}"
                        )
                elif code in DENIED:
                    failures.append(f"{label}: member was refused with {code.name}")

                code = call(channel, method, empty, admin_token(address))
                if code in DENIED:
                    failures.append(f"{label}: cloud admin was refused with {code.name}")
    assert not failures, "\n".join(failures)
    # The stranger's calls changed nothing of A's.
    with Client(address, timeout=10) as anonymous:
        token = anonymous.identity.login("walk-member-a", USER_PASSWORD, "walk-a").token
    with Client(address, timeout=10, token=token) as member_a:
        assert member_a.identity.get_project().meta.id == walk_setup["project"]
        member_a.identity.get_application_credential(walk_setup["credential"])


def test_a_method_without_a_row_is_refused(background_loop) -> None:  # type: ignore[no-untyped-def]
    """Deny by default: a servicer registered with no policy row answers PERMISSION_DENIED."""
    from controller.api.auth import AuthInterceptor
    from cumulo.rpc.server import Service, start_server
    from cumulo.system.v1 import system_pb2, system_pb2_grpc

    class System(system_pb2_grpc.SystemServiceServicer):
        async def GetVersion(self, request, context):  # type: ignore[no-untyped-def]
            return system_pb2.GetVersionResponse(version="x")

    async def authenticate(token: str) -> Any:
        raise AssertionError("no row: the token must not even be looked at")

    service = Service(
        "cumulo.system.v1.SystemService",
        System(),
        system_pb2_grpc.add_SystemServiceServicer_to_server,
    )
    running = background_loop.run(
        start_server("127.0.0.1:0", [service], interceptors=[AuthInterceptor(authenticate, {})])
    )
    try:
        with grpc.insecure_channel(running.address) as channel:
            stub = system_pb2_grpc.SystemServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetVersion(
                    system_pb2.GetVersionRequest(),
                    timeout=10,
                    metadata=[("authorization", "Bearer whatever")],
                )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "policy" in caught.value.details()
    finally:
        background_loop.run(running.server.stop(0.1))
