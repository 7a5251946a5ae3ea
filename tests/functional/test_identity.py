"""Identity over real gRPC: tokens, isolation between projects, roles, credentials, guessers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from controller.api.auth import AuthInterceptor
from controller.api.system import SystemServicer
from controller.policy import MEMBER, READER
from cumulo import errors
from cumulo.client import Client
from cumulo.rpc.server import Service, start_server
from cumulo.system.v1 import system_pb2_grpc
from tests.helpers.identity import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    admin_client,
    make_user,
    user_client,
)


@pytest.fixture
def tenants(admin_client: Client) -> dict[str, Any]:
    """Projects A and B with a member, a reader and an admin of A and a member of B."""
    a = admin_client.identity.create_project("alpha", "project A")
    b = admin_client.identity.create_project("beta")
    ids = {
        "a": a.meta.id,
        "b": b.meta.id,
        "member_a": make_user(admin_client, "member-a", a.meta.id, "member"),
        "reader_a": make_user(admin_client, "reader-a", a.meta.id, "reader"),
        "admin_a": make_user(admin_client, "admin-a", a.meta.id, "admin"),
        "member_b": make_user(admin_client, "member-b", b.meta.id, "member"),
    }
    return ids


# -- tokens ---------------------------------------------------------------------------------


def test_no_token_is_unauthenticated_with_a_hint(controller) -> None:  # type: ignore[no-untyped-def]
    with (
        Client(controller.address, timeout=10) as anonymous,
        pytest.raises(errors.Unauthenticated) as caught,
    ):
        anonymous.system.get_version()
    assert "cumulo login" in caught.value.hint


def test_tampered_token_is_refused(controller) -> None:  # type: ignore[no-untyped-def]
    with admin_client(controller.address) as admin:
        token = admin.identity.login("admin", ADMIN_PASSWORD, "admin").token
    prefix, key_id, claims, signature = token.split(".")
    # Change one character of the claims (what a forger would edit) and of the signature.
    forged_claims = claims[:-2] + ("A" if claims[-2] != "A" else "B") + claims[-1]
    forged_signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (
        f"{prefix}.{key_id}.{forged_claims}.{signature}",
        f"{prefix}.{key_id}.{claims}.{forged_signature}",
        f"{prefix}.nosuchkey.{claims}.{signature}",
        "not-a-token",
    ):
        with (
            Client(controller.address, timeout=10, token=bad) as client,
            pytest.raises(errors.Unauthenticated) as caught,
        ):
            client.system.get_version()
        assert caught.value.reason == "TOKEN_INVALID"


def test_expired_token_is_refused(start_controller) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(token_ttl_seconds=1)
    with Client(running.address, timeout=10) as anonymous:
        token = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin").token
    time.sleep(1.2)
    with (
        Client(running.address, timeout=10, token=token) as client,
        pytest.raises(errors.Unauthenticated) as caught,
    ):
        client.system.get_version()
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_revoked_token_is_refused_at_once(controller) -> None:  # type: ignore[no-untyped-def]
    with Client(controller.address, timeout=10) as anonymous:
        token = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin").token
        other = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin").token
    with Client(controller.address, timeout=10, token=token) as client:
        client.system.get_version()
        client.identity.revoke_token()
        with pytest.raises(errors.Unauthenticated) as caught:
            client.system.get_version()
    assert caught.value.reason == "TOKEN_REVOKED"
    with Client(controller.address, timeout=10, token=other) as client:
        client.system.get_version()  # revoking one token leaves the others alone


def test_controllers_sharing_a_database_share_keys_and_revocations(
    database_url, start_controller
) -> None:  # type: ignore[no-untyped-def]
    first = start_controller(database_url)
    second = start_controller(database_url)
    with Client(first.address, timeout=10) as anonymous:
        token = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin").token
    with Client(second.address, timeout=10, token=token) as on_second:
        assert on_second.identity.get_caller().user_name == "admin"
        with Client(first.address, timeout=10, token=token) as on_first:
            on_first.identity.revoke_token()
        with pytest.raises(errors.Unauthenticated):
            on_second.system.get_version()


def test_renewal_keeps_the_session_start_and_stops_at_max_session(start_controller) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(max_session_seconds=2)
    with Client(running.address, timeout=10) as anonymous:
        first = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin")
    with Client(running.address, timeout=10, token=first.token) as client:
        renewed = client.auth.renew(client, expired=first.token) or client.auth  # type: ignore[union-attr]
        assert client.auth is not None and client.auth.token != first.token
        assert client.auth.info is not None
        assert client.auth.info.authenticated_at == first.info.authenticated_at
        assert (
            client.auth.info.expires_at.ToSeconds() <= first.info.authenticated_at.ToSeconds() + 2
        )
        del renewed
    time.sleep(2.1)
    with Client(running.address, timeout=10) as anonymous:
        from cumulo.identity.v1 import identity_pb2 as pb

        with pytest.raises(errors.Unauthenticated) as caught:
            anonymous.identity.issue_token(
                pb.IssueTokenRequest(token=pb.TokenMethod(token=client.auth.token))
            )
    assert caught.value.reason in ("TOKEN_EXPIRED", "SESSION_EXPIRED")


def test_sdk_renews_before_expiry_and_after_an_expired_answer(start_controller) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(token_ttl_seconds=4)
    with admin_client(running.address) as client:
        client.system.get_version()
        assert client.auth is not None and client.auth.expires_at is not None
        first = client.auth.token
        # Into the last quarter of the token's life (renewal starts 1 s before expiry).
        time.sleep(max(0.0, (client.auth.expires_at - datetime.now(UTC)).total_seconds() - 0.8))
        client.system.get_version()
        second = client.auth.token
        assert second != first
        # Pretend we do not know the expiry: the server's TOKEN_EXPIRED triggers one renewal.
        time.sleep(max(0.0, (client.auth.expires_at - datetime.now(UTC)).total_seconds() + 0.1))
        client.auth.expires_at = None
        client.system.get_version()
        assert client.auth.token != second


# -- passwords and guessers -------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_answer(controller) -> None:  # type: ignore[no-untyped-def]
    answers = []
    with Client(controller.address, timeout=10) as anonymous:
        for user in ("admin", "nobody-by-that-name"):
            with pytest.raises(errors.Unauthenticated) as caught:
                anonymous.identity.login(user, "wrong-password-123", "admin")
            answers.append((caught.value.reason, caught.value.message, caught.value.hint))
    assert answers[0] == answers[1]
    assert answers[0][0] == "INVALID_CREDENTIALS"


def test_guessers_are_rate_limited_per_user_and_per_source(start_controller) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(max_failures_per_user=3, max_failures_per_source=8)
    with Client(running.address, timeout=10) as anonymous:
        for user in ("admin", "ghost"):
            for _ in range(3):
                with pytest.raises(errors.Unauthenticated) as caught:
                    anonymous.identity.login(user, "wrong-password-123", "admin")
                assert caught.value.reason == "INVALID_CREDENTIALS"
            # Limited now: even the right password is refused, the same way for both users.
            with pytest.raises(errors.Unauthenticated) as caught:
                anonymous.identity.login(user, ADMIN_PASSWORD, "admin")
            assert caught.value.reason == "RATE_LIMITED"
            assert caught.value.hint.startswith("retry after ")
        # Two more users push this source past its limit of 8 failures.
        for user in ("carol", "dave"):
            with pytest.raises(errors.Unauthenticated):
                anonymous.identity.login(user, "wrong-password-123", "admin")
        with pytest.raises(errors.Unauthenticated) as caught:
            anonymous.identity.login("erin", "wrong-password-123", "admin")
        assert caught.value.reason == "RATE_LIMITED"


def test_password_change_and_disable_revoke_existing_tokens(
    controller, admin_client: Client, tenants
) -> None:  # type: ignore[no-untyped-def]
    with user_client(controller.address, "member-a", "alpha") as member:
        member.identity.get_caller()
        admin_client.identity.update_user(tenants["member_a"], password="a-brand-new-password")
        with pytest.raises(errors.Unauthenticated) as caught:
            member.identity.get_caller()
        assert caught.value.reason == "TOKEN_REVOKED"
    with Client(controller.address, timeout=10) as anonymous:
        token = anonymous.identity.login("member-a", "a-brand-new-password", "alpha").token
        admin_client.identity.update_user(tenants["member_a"], enabled=False)
        with (
            Client(controller.address, timeout=10, token=token) as member,
            pytest.raises(errors.Unauthenticated),
        ):
            member.identity.get_caller()
        with pytest.raises(errors.Unauthenticated) as caught:
            anonymous.identity.login("member-a", "a-brand-new-password", "alpha")
        assert caught.value.reason == "INVALID_CREDENTIALS"


def test_users_change_their_own_password(controller, tenants) -> None:  # type: ignore[no-untyped-def]
    address = controller.address
    with (
        user_client(address, "reader-a", "alpha") as reader,
        user_client(address, "reader-a", "alpha") as elsewhere,
    ):
        elsewhere.identity.get_caller()
        with pytest.raises(errors.InvalidArgument) as caught:
            reader.identity.change_password("not-the-password", "a-new-long-password")
        assert caught.value.reason == "WRONG_PASSWORD"
        with pytest.raises(errors.InvalidArgument):
            reader.identity.change_password(USER_PASSWORD, "short")
        reader.identity.change_password(USER_PASSWORD, "a-new-long-password")
        # This client carries on with the fresh token; the other session is logged out.
        assert reader.identity.get_caller().user_name == "reader-a"
        with pytest.raises(errors.Unauthenticated):
            elsewhere.identity.get_caller()
        with pytest.raises(errors.Unauthenticated):
            elsewhere.auth.renew(elsewhere, expired=elsewhere.auth.token)  # type: ignore[union-attr]
    with Client(address, timeout=10) as anonymous:
        anonymous.identity.login("reader-a", "a-new-long-password", "alpha")
    with user_client(address, "member-a", "alpha") as member:
        reply = member.identity.create_application_credential("pw")
    credential = (reply.credential.meta.id, reply.secret)
    with (
        Client(address, timeout=10, app_credential=credential) as robot,
        pytest.raises(errors.PermissionDenied),
    ):
        robot.identity.change_password(USER_PASSWORD, "a-new-long-password")


def test_generated_admin_password_is_written_privately_once(start_controller, tmp_path) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(admin_password="")
    path = running.bootstrap.password_file
    assert path is not None and path.stat().st_mode & 0o777 == 0o600
    with Client(running.address, timeout=10, user="admin", password=path.read_text().strip()) as c:
        assert c.identity.get_caller().is_cloud_admin


# -- isolation and roles ----------------------------------------------------------------------


def test_a_stranger_gets_nothing_not_even_names(controller, tenants) -> None:  # type: ignore[no-untyped-def]
    with user_client(controller.address, "member-a", "alpha") as member_a:
        credential = member_a.identity.create_application_credential("ci").credential
    with user_client(controller.address, "member-b", "beta") as stranger:
        assert [p.meta.name for p in stranger.identity.list_projects()] == ["beta"]
        answers: dict[str, list[str]] = {}
        for project_id in (tenants["a"], "00000000-0000-0000-0000-000000000000"):
            for name, call in {
                "GetProject": lambda p: stranger.identity.get_project(p),
                "ListRoleAssignments": lambda p: list(stranger.identity.list_role_assignments(p)),
                "GetQuota": lambda p: stranger.quota.get_quota(p),
                "GetUsage": lambda p: stranger.quota.get_usage(p),
            }.items():
                with pytest.raises(errors.NotFound) as caught:
                    call(project_id)
                answers.setdefault(name, []).append(caught.value.message.replace(project_id, "X"))
        # The same answer whether project A exists or not.
        assert all(first == second for first, second in answers.values()), answers
        for call in (
            stranger.identity.get_application_credential,
            stranger.identity.delete_application_credential,
        ):
            with pytest.raises(errors.NotFound):
                call(credential.meta.id)
        with pytest.raises(errors.NotFound):
            stranger.identity.get_user(tenants["member_a"])
        # A stranger cannot scope a token to project A either.
        with Client(controller.address, timeout=10) as anonymous:
            with pytest.raises(errors.Unauthenticated) as refused:
                anonymous.identity.login("member-b", USER_PASSWORD, "alpha")
            assert refused.value.reason == "NO_PROJECT_ACCESS"


def test_reader_reads_member_writes_admin_manages(controller, tenants, background_loop) -> None:  # type: ignore[no-untyped-def]
    address = controller.address
    with user_client(address, "reader-a", "alpha") as reader:
        assert reader.identity.get_project().meta.name == "alpha"
        assert reader.quota.get_quota().project_id == tenants["a"]
        assert {a.user_name for a in reader.identity.list_role_assignments()} >= {"reader-a"}
        for write in (
            lambda: reader.identity.grant_role(tenants["reader_a"], "member"),
            lambda: reader.quota.set_quota(tenants["a"], {"instances": 1}),
            lambda: reader.identity.create_project("sneaky"),
            lambda: reader.identity.create_user("sneaky", USER_PASSWORD),
        ):
            with pytest.raises(errors.PermissionDenied):
                write()
    with user_client(address, "member-a", "alpha") as member:
        with pytest.raises(errors.PermissionDenied):
            member.identity.grant_role(tenants["reader_a"], "member")
        with pytest.raises(errors.PermissionDenied):
            member.quota.set_quota(tenants["a"], {"instances": 1})
    with user_client(address, "admin-a", "alpha") as project_admin:
        # A project's admin manages its assignments, but is no cloud admin.
        project_admin.identity.grant_role(tenants["member_b"], "reader")
        with pytest.raises(errors.NotFound):
            project_admin.identity.grant_role(tenants["member_b"], "admin", tenants["b"])
        with pytest.raises(errors.PermissionDenied):
            list(project_admin.identity.list_users())

    # A member-only method (as compute's creates will be) with real tokens: reader refused.
    async def authenticate(token: str) -> Any:
        import asyncio

        return await asyncio.to_thread(controller.identity.authenticate, token)

    policy = {
        "/cumulo.system.v1.SystemService/GetVersion": READER,
        "/cumulo.system.v1.SystemService/GetInfo": MEMBER,
    }
    service = Service(
        "cumulo.system.v1.SystemService",
        SystemServicer(controller.system),
        system_pb2_grpc.add_SystemServiceServicer_to_server,
    )
    server = background_loop.run(
        start_server("127.0.0.1:0", [service], interceptors=[AuthInterceptor(authenticate, policy)])
    )
    try:
        for name, allowed in (("reader-a", False), ("member-a", True), ("admin-a", True)):
            with Client(address, timeout=10) as anonymous:
                token = anonymous.identity.login(name, USER_PASSWORD, "alpha").token
            with Client(server.address, timeout=10, token=token) as client:
                client.system.get_version()
                if allowed:
                    client.system.get_info(["native"])
                else:
                    with pytest.raises(errors.PermissionDenied) as caught:
                        client.system.get_info(["native"])
                    assert "member" in caught.value.message
    finally:
        background_loop.run(server.server.stop(0.1))


def test_deleting_a_user_removes_its_credentials_and_tokens(
    controller, admin_client, tenants
) -> None:  # type: ignore[no-untyped-def]
    with user_client(controller.address, "member-a", "alpha") as member:
        reply = member.identity.create_application_credential("doomed")
        admin_client.identity.grant_role(tenants["member_a"], "reader", tenants["b"])
        assert [p.meta.name for p in member.identity.list_projects()] == ["alpha", "beta"]
        admin_client.identity.delete_user(tenants["member_a"])
        with pytest.raises(errors.Unauthenticated):
            member.identity.get_caller()
    credential = (reply.credential.meta.id, reply.secret)
    with (
        Client(controller.address, timeout=10, app_credential=credential) as robot,
        pytest.raises(errors.Unauthenticated),
    ):
        robot.identity.get_caller()
    assert tenants["member_a"] not in {
        a.user_id for a in admin_client.identity.list_role_assignments(tenants["a"])
    }


def test_revoking_a_role_takes_effect_on_the_next_call(controller, admin_client, tenants) -> None:  # type: ignore[no-untyped-def]
    with user_client(controller.address, "reader-a", "alpha") as reader:
        reader.identity.get_caller()
        admin_client.identity.revoke_role(tenants["reader_a"], "reader", tenants["a"])
        with pytest.raises(errors.Unauthenticated) as caught:
            reader.identity.get_caller()
    assert caught.value.reason == "TOKEN_REVOKED"


def test_admin_project_and_last_admin_are_protected(controller, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    caller = admin_client.identity.get_caller()
    with pytest.raises(errors.Conflict):
        admin_client.identity.delete_project(caller.project_id)
    with pytest.raises(errors.Conflict):
        admin_client.identity.revoke_role(caller.user_id, "admin", caller.project_id)
    with pytest.raises(errors.Conflict):
        admin_client.identity.delete_user(caller.user_id)


def test_project_lifecycle_and_paging(admin_client: Client) -> None:
    for index in range(5):
        admin_client.identity.create_project(f"p{index}")
    with pytest.raises(errors.AlreadyExists):
        admin_client.identity.create_project("p0")
    with pytest.raises(errors.InvalidArgument):
        admin_client.identity.create_project("../etc")
    names = [p.meta.name for p in admin_client.identity.list_projects(page_size=2)]
    assert names == ["admin", "p0", "p1", "p2", "p3", "p4"]
    p0 = admin_client.identity.find_project("p0")
    updated = admin_client.identity.update_project(p0.meta.id, description="x", enabled=False)
    assert updated.description == "x" and not updated.enabled
    admin_client.identity.delete_project(p0.meta.id)
    with pytest.raises(errors.NotFound):
        admin_client.identity.get_project(p0.meta.id)


# -- application credentials ------------------------------------------------------------------


def test_application_credential_limited_to_named_rpcs(controller, tenants) -> None:  # type: ignore[no-untyped-def]
    address = controller.address
    get_quota = "/cumulo.quota.v1.QuotaService/GetQuota"
    with user_client(address, "member-a", "alpha") as member:
        reply = member.identity.create_application_credential(
            "monitor", roles=["reader"], allowed_methods=[get_quota]
        )
        with pytest.raises(errors.InvalidArgument):
            member.identity.create_application_credential("x", allowed_methods=["/no.Such/Method"])
        with pytest.raises(errors.PermissionDenied):
            member.identity.create_application_credential("y", roles=["admin"])
    credential = (reply.credential.meta.id, reply.secret)
    with Client(address, timeout=10, app_credential=credential) as robot:
        assert robot.quota.get_quota().project_id == tenants["a"]
        with pytest.raises(errors.PermissionDenied) as caught:
            robot.system.get_version()
        assert caught.value.reason == "METHOD_NOT_ALLOWED"
        # GetCaller (token introspection) stays open to every credential.
        info = robot.identity.get_caller()
        assert info.roles == ["reader"]
        assert list(info.allowed_methods) == [get_quota]
    with (
        Client(address, timeout=10, app_credential=(credential[0], "wrong")) as robot,
        pytest.raises(errors.Unauthenticated) as refused,
    ):
        robot.identity.get_caller()
    assert refused.value.reason == "INVALID_CREDENTIALS"


def test_application_credential_cannot_mint_more_and_dies_with_deletion(
    controller, tenants
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    address = controller.address
    with user_client(address, "member-a", "alpha") as member:
        reply = member.identity.create_application_credential(
            "deployer", expires_at=datetime.now(UTC) + timedelta(days=1)
        )
        assert [c.meta.name for c in member.identity.list_application_credentials()] == ["deployer"]
        with Client(
            address, timeout=10, app_credential=(reply.credential.meta.id, reply.secret)
        ) as robot:
            assert robot.identity.get_caller().roles == ["member", "reader"]
            with pytest.raises(errors.PermissionDenied):
                robot.identity.create_application_credential("escape")
            member.identity.delete_application_credential(reply.credential.meta.id)
            with pytest.raises(errors.Unauthenticated):
                robot.identity.get_caller()
        with pytest.raises(errors.InvalidArgument):
            member.identity.create_application_credential(
                "late", expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )


def test_raw_grpc_caller_sees_its_own_token(controller) -> None:  # type: ignore[no-untyped-def]
    from cumulo.identity.v1 import identity_pb2, identity_pb2_grpc

    with Client(controller.address, timeout=10) as anonymous:
        issued = anonymous.identity.login("admin", ADMIN_PASSWORD, "admin")
    with grpc.insecure_channel(controller.address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        reply = stub.GetCaller(
            identity_pb2.GetCallerRequest(),
            metadata=[("authorization", f"Bearer {issued.token}")],
            timeout=10,
        )
    assert reply.info.id == issued.info.id
    assert reply.info.is_cloud_admin
